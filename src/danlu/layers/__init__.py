"""Keras-named layers over ``torch.nn`` (channels-first layout, input sizes inferred)."""

from danlu.layers.base import Layer
from danlu.layers.convolutional import (
    AveragePooling2D,
    Conv1D,
    Conv2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
from danlu.layers.core import Activation, Dense, Dropout, Embedding, Flatten, Lambda, Reshape
from danlu.layers.input_layer import Input, InputLayer
from danlu.layers.normalization import BatchNormalization, LayerNormalization
from danlu.layers.symbolic import KerasTensor
from danlu.layers.torch_module import TorchModuleWrapper

__all__ = [
    "Activation", "AveragePooling2D", "BatchNormalization", "Conv1D", "Conv2D", "Dense", "Dropout",
    "Embedding", "Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Input", "InputLayer", "KerasTensor",
    "Lambda", "Layer", "LayerNormalization", "MaxPooling2D", "Reshape", "TorchModuleWrapper",
]
