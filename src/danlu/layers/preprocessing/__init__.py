"""Keras' preprocessing layers for danlu: numeric (Normalization, Discretization,
CategoryEncoding, Hashing), lookups (StringLookup, IntegerLookup), text
(TextVectorization) and images (Rescaling, Resizing, CenterCrop and the Random*
augmentations, channels-first). Layers with state learn it with ``adapt(data)``; the state
travels in ``get_config()`` (vocabularies, bin boundaries) and ``state_dict()`` (numeric
state). Nothing here needs TensorFlow."""

from danlu.layers.preprocessing.augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from danlu.layers.preprocessing.category_encoding import CategoryEncoding
from danlu.layers.preprocessing.discretization import Discretization
from danlu.layers.preprocessing.hashing import Hashing
from danlu.layers.preprocessing.image import CenterCrop, Rescaling, Resizing
from danlu.layers.preprocessing.lookup import IntegerLookup, StringLookup
from danlu.layers.preprocessing.normalization import Normalization
from danlu.layers.preprocessing.text_vectorization import TextVectorization

__all__ = [
    "CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup", "Normalization", "RandomBrightness",
    "RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
    "StringLookup", "TextVectorization",
]
