"""``pad_sequences``: variable-length sequences to one rectangular numpy array."""

from __future__ import annotations

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_int

SIDES = ("pre", "post")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) each sequence to ``maxlen`` steps: a ``(len(sequences), maxlen) +
    sample_shape`` numpy array of ``dtype``.

    Keras' ``keras.utils.pad_sequences(sequences, maxlen=None, dtype="int32",
    padding="pre", truncating="pre", value=0.0)``:

    - ``sequences``: a list (or array) of sequences; each is a list / array of steps, and a
      step may itself be an array (every non-empty sequence must then have the same
      ``sample_shape``, taken from the first non-empty one).
    - ``maxlen``: the length of every row; ``None`` takes the longest sequence.
    - ``dtype``: the output dtype (a numpy dtype or name; a torch dtype is accepted too).
      Steps are cast to it as numpy casts (floats into ``"int32"`` are truncated). For
      variable-length strings use ``dtype=object``; a fixed-width ``str`` / ``bytes`` dtype
      (``"U5"``, ``str``, ``"S3"``) truncates strings to its width, as numpy does.
    - ``padding``: ``"pre"`` puts the filling ``value`` before a short sequence, ``"post"``
      after it.
    - ``truncating``: ``"pre"`` drops the first steps of a long sequence (keeps its end),
      ``"post"`` drops its last steps.
    - ``value``: the filling value, cast to ``dtype`` (a str ``value`` needs an object or
      string ``dtype``: ``ValueError`` otherwise, as in Keras).

    Empty sequences become rows of ``value``. Where Keras errs, danlu does what it intends:
    ``maxlen=0`` gives zero-width rows (Keras fails to broadcast), and an empty
    ``sequences`` with ``maxlen=None`` is a clear ``ValueError``.

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
    array([[0, 0, 1],
           [0, 2, 3],
           [4, 5, 6]], dtype=int32)
    """
    if padding not in SIDES:
        raise unknown_identifier_error("padding", str(padding), SIDES)
    if truncating not in SIDES:
        raise unknown_identifier_error("truncating", str(truncating), SIDES)
    check_int("maxlen", maxlen, low=0, allow_none=True, message="an int >= 0 or None")
    dtype = _numpy_dtype(dtype)
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"sequences must be a list of sequences; received {type(sequences).__name__} {sequences!r}.")
    lengths, sample_shape = [], None
    for position, sequence in enumerate(sequences):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__len__") or np.ndim(sequence) == 0:
            raise ValueError(
                f"sequences must be a list of sequences (lists or arrays of steps); the entry at position "
                f"{position} is {type(sequence).__name__} {sequence!r}."
            )
        lengths.append(len(sequence))
        if sample_shape is None and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences received no sequences and maxlen=None; pass maxlen to get an empty (0, maxlen) array.")
        maxlen = max(lengths)
    string_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype != np.dtype(object) and not string_dtype:
        raise ValueError(
            f"dtype={dtype.name!r} cannot hold the str value={value!r}; use dtype=object for variable-length "
            f"strings (or a str dtype such as 'U10')."
        )
    padded = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return padded
    for position, sequence in enumerate(sequences):
        if not lengths[position]:
            continue
        kept = sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"The steps of the sequence at position {position} have shape {kept.shape[1:]}; the first "
                f"non-empty sequence's have {sample_shape}, and all must match."
            )
        if padding == "post":
            padded[position, : len(kept)] = kept
        else:
            padded[position, maxlen - len(kept) :] = kept
    return padded


def _numpy_dtype(dtype) -> np.dtype:
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).removeprefix("torch.")
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be a numpy dtype or its name ('int32', 'float32', object, 'U10', ...); received dtype={dtype!r}."
        ) from None
