"""Reading the inputs of preprocessing layers: strings (torch has no string tensors),
numbers, and the data given to ``adapt`` (arrays, tensors, lists, iterables of batches)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch


def string_array(inputs, argument: str = "inputs", encoding: str = "utf-8") -> np.ndarray:
    """``inputs`` (a str, a list / tuple of str, a numpy array of str or bytes) as a numpy
    array of Python ``str`` (dtype object). Bytes are decoded with ``encoding``."""
    if isinstance(inputs, torch.Tensor):
        raise TypeError(
            f"{argument} must be strings: a list or numpy array of str (torch has no string tensors); "
            f"received a torch tensor of dtype {inputs.dtype}."
        )
    try:
        array = np.asarray(inputs, dtype=object) if not isinstance(inputs, np.ndarray) else inputs
    except ValueError as error:
        raise ValueError(f"{argument} must be a rectangular list or array of strings: {error}") from None
    if array.dtype.kind == "U":
        return array.astype(object)
    if array.dtype.kind == "S":
        return np.char.decode(array, encoding).astype(object)
    if array.dtype.kind != "O":
        raise TypeError(f"{argument} must be strings (str or bytes); received an array of {array.dtype}.")
    out = np.empty(array.shape, dtype=object)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i, value in enumerate(flat_in):
        if isinstance(value, bytes):
            value = value.decode(encoding)
        elif not isinstance(value, str):
            raise TypeError(f"{argument} must be strings (str or bytes); found {type(value).__name__} {value!r}.")
        flat_out[i] = value
    return out


def numeric_tensor(inputs, argument: str = "inputs") -> torch.Tensor:
    """``inputs`` as a torch tensor (numbers only; float64 arrays stay float64 here)."""
    if isinstance(inputs, torch.Tensor):
        return inputs
    array = np.asarray(inputs)
    if array.dtype.kind in "USO":
        raise TypeError(f"{argument} must be numbers; received an array of {array.dtype} (strings go to StringLookup).")
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(array))


def is_array_like(value) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def first_of_batch(batch):
    """The inputs of a batch: ``x`` of ``(x, y)`` / ``(x, y, sample_weight)`` tuples (and of
    the ``[x, y]`` lists a ``DataLoader`` yields), else the batch itself."""
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        return batch[0]
    if isinstance(batch, list) and 1 <= len(batch) <= 3 and all(is_array_like(b) for b in batch):
        return batch[0]
    if isinstance(batch, Mapping):
        raise TypeError("adapt() takes arrays or batches of arrays; received a dict (adapt each input's layer on its own data).")
    return batch


def adapt_batches(data, steps=None):
    """``(batches, whole)`` for ``adapt(data)``: ``whole`` is True when ``data`` is one array
    (a numpy array, a tensor, or a list / tuple of values such as numbers or strings),
    False for an iterable of batches (a list of arrays, a generator, a ``DataLoader``, a
    ``Dataset`` yielding ``(x, y)``); ``steps`` caps the number of batches."""
    if data is None:
        raise ValueError("adapt() needs data: an array, a tensor, a list, or an iterable of batches; received None.")
    if is_array_like(data) or isinstance(data, (str, bytes)):
        return [data], True
    if isinstance(data, (list, tuple)):
        if len(data) == 0:
            raise ValueError("adapt() received an empty list: give at least one value or one batch.")
        if not (is_array_like(data[0]) or isinstance(data[0], tuple)):
            return [data], True
    if not isinstance(data, Iterable):
        raise TypeError(
            f"adapt() takes a numpy array, a torch tensor, a list, or an iterable of batches (generator, DataLoader); "
            f"received {type(data).__name__}."
        )

    def batches():
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                return
            yield first_of_batch(batch)

    return batches(), False


def check_encoding(encoding):
    """Raise ``ValueError`` naming ``encoding`` unless Python knows the codec."""
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ValueError(f"Unknown encoding={encoding!r}: give a codec name Python knows, such as 'utf-8'.") from None
