"""``timeseries_dataset_from_array``: sliding windows over a series as a ``DataLoader``."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from danlu._tensors import as_tensor
from danlu._validation import check_int, check_positive_int
from danlu.utils._loader import make_loader


def timeseries_dataset_from_array(
    data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128, shuffle=False, seed=None,
    start_index=None, end_index=None,
):
    """A ``DataLoader`` of windows ``data[p], data[p + r], ..., data[p + (L - 1) r]`` (with
    ``targets[p]`` when targets are given), as Keras 3.15 builds them.

    Keras' ``keras.utils.timeseries_dataset_from_array(data, targets, sequence_length,
    sequence_stride=1, sampling_rate=1, batch_size=128, shuffle=False, seed=None,
    start_index=None, end_index=None)``, returning a torch ``DataLoader``:

    - ``data``: the series, time on axis 0 (numpy array, torch tensor or list; arrays and
      tensors keep their dtype, Python floats become float32).
    - ``targets``: ``targets[i]`` belongs to the window starting at ``data[i]``; ``None``
      yields the windows alone.
    - ``sequence_length`` ``L``: steps per window; ``sampling_rate`` ``r``: steps between
      two entries of a window; ``sequence_stride`` ``s``: steps between two window starts.
    - ``start_index`` / ``end_index``: only ``data[start_index:end_index]`` is windowed
      (``end_index`` exclusive; both must lie inside the data).

    With ``n = end_index - start_index`` the windows start (relative to ``start_index``) at
    ``p = 0, s, 2s, ...`` below ``n - (L - 1) r`` (and below ``len(targets)``), so a window
    never runs past ``end_index``; window ``p``'s target is ``targets[start_index + p]``.
    Batches are ``(batch, L) + data.shape[1:]`` (the last one partial; ``batch_size=None``
    yields single windows). With ``shuffle`` the windows are shuffled once as Keras shuffles
    them (``np.random.RandomState(seed)``; a seed is drawn from numpy's global generator
    when ``None``) and again every epoch by a generator seeded with ``seed``.
    """
    series = _series(data, "data")
    length = len(series)
    check_positive_int("sequence_length", sequence_length)
    check_positive_int("batch_size", batch_size, allow_none=True, message="a positive int or None")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        check_positive_int(name, value)
        if value >= length:
            raise ValueError(f"{name} must be lower than the length of the data ({length}); received {name}={value}.")
    check_int("start_index", start_index, low=0, allow_none=True, message="an int >= 0 or None")
    check_int("end_index", end_index, low=1, allow_none=True, message="an int >= 1 or None")
    if start_index and start_index >= length:
        raise ValueError(f"start_index must be lower than the length of the data ({length}); received start_index={start_index}.")
    if end_index is not None:
        if start_index and end_index <= start_index:
            raise ValueError(f"end_index must be higher than start_index; received start_index={start_index}, end_index={end_index}.")
        if end_index >= length:
            raise ValueError(f"end_index must be lower than the length of the data ({length}); received end_index={end_index}.")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool; received shuffle={shuffle!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None; received seed={seed!r}.")
    start = start_index or 0
    end = length if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    labels = None
    if targets is not None:
        labels = _series(targets, "targets")
        count = min(count, len(labels))
    starts = np.arange(0, max(count, 0), sequence_stride)
    if labels is not None and len(starts) and start + starts[-1] >= len(labels):
        raise ValueError(
            f"targets has {len(labels)} entries, but the window starting at data[{start + starts[-1]}] needs "
            f"targets[{start + starts[-1]}]; give one target per step of data."
        )
    if shuffle:
        if seed is None:
            seed = int(np.random.randint(1e6))
        np.random.RandomState(seed).shuffle(starts)
    windows = Windows(series[start:end], None if labels is None else labels[start:], starts, sequence_length, sampling_rate)
    return make_loader(windows, batch_size, shuffle, seed)


def _series(values, argument) -> torch.Tensor:
    if isinstance(values, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(values))  # numpy keeps its dtype, float64 too
    else:
        tensor = as_tensor(values)  # tensors as they are; Python floats become float32
    if tensor.ndim == 0:
        raise ValueError(f"{argument} must have a time axis (axis 0); received a scalar.")
    return tensor


class Windows(Dataset):
    """Window ``i`` of a series: ``series[starts[i] + rate * arange(length)]`` and, with
    targets, ``targets[starts[i]]``. A list of indices is gathered in one indexing op."""

    def __init__(self, series, targets, starts, length, rate):
        self.series, self.targets = series, targets
        self.starts = torch.as_tensor(starts, dtype=torch.long)
        self.offsets = torch.arange(length, dtype=torch.long) * rate

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, index):
        position = self.starts[index]
        window = self.series[position + self.offsets]
        return window if self.targets is None else (window, self.targets[position])

    def __getitems__(self, indices):
        positions = self.starts[torch.as_tensor(indices, dtype=torch.long)]
        windows = self.series[positions[:, None] + self.offsets].unbind(0)
        if self.targets is None:
            return list(windows)
        return list(zip(windows, self.targets[positions].unbind(0)))
