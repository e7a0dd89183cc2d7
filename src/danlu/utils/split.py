"""``split_dataset``: one data set into a left part and a right part (train / test)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, Subset, TensorDataset


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split ``dataset`` into ``(left, right)`` torch ``Subset``s.

    Keras' ``keras.utils.split_dataset(dataset, left_size=None, right_size=None,
    shuffle=False, seed=None)`` on its torch backend:

    - ``dataset``: a numpy array or torch tensor (split along axis 0), a list / tuple of
      them with the same first dimension (split together, sample by sample), or a sized
      ``torch.utils.data.Dataset``. Arrays become a ``TensorDataset`` (whose items are tuples,
      ``(x_i,)`` for a single array), as in Keras; numpy dtypes are kept.
    - ``left_size`` / ``right_size``: a float in ``(0, 1)`` is a fraction of the samples
      (``round(fraction * n)``, Python's rounding), an int in ``(0, n)`` a count; ``None`` is
      the complement of the other. At least one is required, each part must be non-empty, and
      together they may not exceed ``n``.
    - ``shuffle``, ``seed``: with ``shuffle=True`` the samples are drawn by
      ``torch.randperm(n)`` from a ``torch.Generator`` seeded with ``seed`` (a fresh seed
      when ``None``), exactly Keras' ``random_split``: ``left`` is the first ``left_size``
      of the permutation, ``right`` the last ``right_size``.

    Where Keras errs, danlu does what it intends: ``shuffle=False`` keeps the order (left =
    the first ``left_size`` samples, right = the last ``right_size``), where Keras' torch
    path still shuffles with torch's global generator; and sizes that add up to less than
    ``n`` leave the samples between the two parts out (Keras' TensorFlow path), where its
    torch path fails.
    """
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be a bool; received shuffle={shuffle!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None; received seed={seed!r}.")
    dataset = _as_dataset(dataset)
    total = len(dataset)
    left_size, right_size = split_sizes(left_size, right_size, total)
    if shuffle:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        order = torch.randperm(total, generator=generator).tolist()
    else:
        order = list(range(total))
    return Subset(dataset, order[:left_size]), Subset(dataset, order[total - right_size :])


def _as_dataset(dataset):
    if isinstance(dataset, IterableDataset):
        raise TypeError("split_dataset needs a sized map-style Dataset; received an IterableDataset.")
    if isinstance(dataset, Dataset):
        try:
            len(dataset)
        except TypeError:
            raise TypeError(f"split_dataset needs a Dataset with a length; {type(dataset).__name__} has none.") from None
        return dataset
    if isinstance(dataset, (np.ndarray, torch.Tensor)):
        return TensorDataset(_tensor(dataset, "dataset"))
    if isinstance(dataset, (list, tuple)):
        if not dataset:
            raise ValueError("dataset is an empty list / tuple; pass arrays with the same number of samples.")
        tensors = [_tensor(array, f"dataset[{i}]") for i, array in enumerate(dataset)]
        lengths = [len(t) for t in tensors]
        if len(set(lengths)) > 1:
            raise ValueError(f"The arrays of dataset must have the same number of samples; received lengths {lengths}.")
        return TensorDataset(*tensors)
    raise TypeError(
        "dataset must be a numpy array, a torch tensor, a list / tuple of them, or a torch.utils.data.Dataset; "
        f"received {type(dataset).__name__}."
    )


def _tensor(array, argument):
    if isinstance(array, torch.Tensor):
        tensor = array
    elif isinstance(array, np.ndarray):
        tensor = torch.from_numpy(array)
    else:
        raise TypeError(f"{argument} must be a numpy array or a torch tensor; received {type(array).__name__}.")
    if tensor.ndim == 0:
        raise ValueError(f"{argument} must have a sample axis; received a 0-d array.")
    return tensor


def split_sizes(left_size, right_size, total):
    """Keras' ``(left, right)`` counts for fractions / counts / ``None`` over ``total`` samples."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):
            raise TypeError(f"{name} must be an int, a float or None; received {name}={size!r} of type {type(size).__name__}.")
        if type(size) is int and not 0 < size < total:
            raise ValueError(f"{name} as a count must be in (0, {total}) for {total} samples; received {name}={size}.")
        if type(size) is float and not 0 < size < 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1); received {name}={size}.")
    if left_size is None and right_size is None:
        raise ValueError("split_dataset needs left_size or right_size (or both); received None for both.")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError(f"left_size + right_size must be <= 1; received {left_size} + {right_size}.")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(
            f"left_size and right_size give {left} + {right} samples, more than the {total} of dataset."
        )
    for side, count in (("left", left), ("right", right)):
        if count == 0:
            raise ValueError(
                f"With {total} samples, left_size={left_size} and right_size={right_size} leave the {side} part empty; "
                "make it larger."
            )
    return int(left), int(right)
