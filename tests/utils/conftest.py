"""Keras' dataset builders as the oracle, without TensorFlow or Grain installed.

On its torch backend Keras 3.15 builds ``*_dataset_from_directory`` and
``timeseries_dataset_from_array`` with ``format="grain"``: every number (file index,
labels, decoded and resized pixels, windows) is computed by Keras' own code, and Grain only
holds the items. This stand-in holds them in a list, in Keras' order: its ``shuffle`` is the
identity, so what comes out is Keras' order after Keras' own (numpy) shuffle, the order danlu
keeps in ``loader.dataset`` (Grain's extra per-epoch shuffle, like danlu's, is a random
permutation on top).
"""

from types import SimpleNamespace

import pytest

from tests.oracle import keras as import_keras


class MapDataset:
    def __init__(self, items):
        self.items = list(items)

    @classmethod
    def source(cls, items):
        return cls(items)

    def map(self, fn):
        return MapDataset(fn(item) for item in self.items)

    def shuffle(self, seed=None):
        return self

    def to_iter_dataset(self):
        return self

    def batch(self, batch_size, batch_fn):
        return MapDataset(batch_fn(self.items[i : i + batch_size]) for i in range(0, len(self.items), batch_size))

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


GRAIN = SimpleNamespace(
    MapDataset=MapDataset,
    experimental=SimpleNamespace(ZipMapDataset=lambda parents: MapDataset(zip(*(p.items for p in parents)))),
)


@pytest.fixture
def keras_grain(monkeypatch):
    """Keras (torch backend) whose dataset builders run their ``format="grain"`` path on the stand-in."""
    keras = import_keras()
    from keras.src.utils import dataset_utils, image_dataset_utils, text_dataset_utils, timeseries_dataset_utils

    for module in (dataset_utils, image_dataset_utils, text_dataset_utils, timeseries_dataset_utils):
        monkeypatch.setattr(module, "grain", GRAIN)
    return keras
