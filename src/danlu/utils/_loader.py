"""The ``DataLoader`` the dataset builders return: Keras' batches as torch tensors, a
seeded reshuffle every epoch, and Keras' attributes (``class_names``, ``file_paths``)."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader


def make_loader(dataset, batch_size, shuffle, seed, **attributes) -> DataLoader:
    """Batches of ``batch_size`` (the last one partial) or, for ``None``, single samples.

    With ``shuffle`` every epoch draws a new order from a generator seeded with ``seed``
    (Keras' ``tf.data`` shuffle also reshuffles each epoch), so runs repeat exactly."""
    shuffle = shuffle and len(dataset) > 0  # a RandomSampler refuses an empty dataset
    generator = torch.Generator().manual_seed(int(seed)) if shuffle else None
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
        collate_fn=collate if batch_size is not None else as_is,
    )
    for name, value in attributes.items():
        setattr(loader, name, value)
        setattr(dataset, name, value)
    return loader


def collate(samples):
    """Stack samples into a batch: tensors along a new axis 0, strings into a list; a sample
    ``(x, y)`` gives a batch ``(x, y)`` (a tuple, as Keras yields)."""
    if isinstance(samples[0], tuple):
        return tuple(_stack([sample[i] for sample in samples]) for i in range(len(samples[0])))
    return _stack(samples)


def _stack(values):
    return list(values) if isinstance(values[0], str) else torch.stack(values)


def as_is(sample):
    """Unbatched datasets yield each sample as it is."""
    return sample
