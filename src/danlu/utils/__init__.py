"""Keras' ``keras.utils`` for torch: label and sequence helpers, seeding, the ``(x, y,
sample_weight)`` convention, and data sets from arrays and folders as ``DataLoader``s.

- `to_categorical`, `normalize`: one-hot labels, unit-norm rows (numpy in, numpy out;
  tensors in, tensors out).
- `pad_sequences`: variable-length sequences to a rectangular numpy array.
- `set_random_seed`: Python's, numpy's and torch's generators (CPU and CUDA) at once.
- `unpack_x_y_sample_weight`, `pack_x_y_sample_weight`: for custom ``train_step``s.
- `split_dataset`: arrays or a torch ``Dataset`` into left / right ``Subset``s.
- `image_dataset_from_directory`, `text_dataset_from_directory`,
  `timeseries_dataset_from_array`: ``DataLoader``s of ``(x, y)`` batches that ``fit``
  takes (images channels first, float32, decoded with Pillow: ``pip install 'danlu[images]'``).
"""

from danlu.utils.image_dataset import image_dataset_from_directory
from danlu.utils.numerical import normalize, to_categorical
from danlu.utils.seeding import get_random_seed, set_random_seed
from danlu.utils.sequences import pad_sequences
from danlu.utils.split import split_dataset
from danlu.utils.structure import pack_x_y_sample_weight, unpack_x_y_sample_weight
from danlu.utils.text_dataset import text_dataset_from_directory
from danlu.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "get_random_seed", "image_dataset_from_directory", "normalize", "pack_x_y_sample_weight", "pad_sequences",
    "set_random_seed", "split_dataset", "text_dataset_from_directory", "timeseries_dataset_from_array",
    "to_categorical", "unpack_x_y_sample_weight",
]
