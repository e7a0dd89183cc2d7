"""Turning what users pass to ``fit`` / ``evaluate`` / ``predict`` into batches.

- In-memory data (tensors, numpy arrays, lists; single, tuple/list or dict structures) is
  batched by slicing whole tensors with an index per batch — never per-sample
  ``__getitem__`` plus collate. Shuffling draws a permutation per epoch from a seeded
  generator; the last partial batch is kept.
- A ``Dataset`` / ``IterableDataset`` goes through a ``DataLoader`` with ``batch_size``; a
  ``DataLoader`` or a generator of ``(x, y)`` / ``(x, y, sample_weight)`` batches is used as
  is, and an epoch over an unsized source ends when it is exhausted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from danlu._tensors import as_tensor


def map_structure(fn, structure):
    """Apply ``fn`` to every tensor-like leaf of a tensor / tuple / list / dict structure."""
    if isinstance(structure, Mapping):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    if isinstance(structure, (tuple, list)) and not _is_leaf(structure):
        return type(structure)(map_structure(fn, v) for v in structure)
    return None if structure is None else fn(structure)


def flatten(structure) -> list:
    if isinstance(structure, Mapping):
        return [leaf for v in structure.values() for leaf in flatten(v)]
    if isinstance(structure, (tuple, list)) and not _is_leaf(structure):
        return [leaf for v in structure for leaf in flatten(v)]
    return [] if structure is None else [structure]


def _is_leaf(value) -> bool:
    """A list of numbers is one array, not a structure of arrays."""
    return isinstance(value, (list, tuple)) and (len(value) == 0 or not isinstance(value[0], (torch.Tensor, np.ndarray, list, tuple, Mapping)))


def to_tensor(value):
    """Arrays and lists become tensors (float64 -> float32, as Keras' floatx); text (numpy
    arrays or lists of str) stays a numpy array of str, for the layers that read text."""
    if is_text(value):
        return np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if isinstance(value, np.ndarray) and value.dtype == object:
        try:
            value = value.astype(np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"An input array of dtype object holds values that are neither numbers nor strings ({value.flat[0]!r}).") from None
    tensor = as_tensor(value)
    if tensor.dtype == torch.float64:
        tensor = tensor.float()
    return tensor


def is_text(value) -> bool:
    """A numpy array of str (or bytes) or a (nested) list of str."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "US" or (value.dtype == object and value.size > 0 and isinstance(value.flat[0], (str, bytes)))
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return isinstance(value, (str, bytes))


def from_pandas(value):
    """pandas DataFrames and Series are arrays (Keras); dicts / lists of them are structures."""
    if isinstance(value, Mapping):
        return {k: from_pandas(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and type(value[0]).__module__.startswith("pandas"):
        return type(value)(from_pandas(v) for v in value)
    if type(value).__module__.startswith("pandas") and hasattr(value, "to_numpy"):
        array = np.array(value.to_numpy())  # a writable copy (pandas may hand out read-only views)
        if array.dtype == object and not is_text(array):
            array = array.astype(np.float32)
        return array
    return value


class InputSpec(tuple):
    """What a model input expects: ``(dtype, ndim)`` (``None`` when any)."""

    def __new__(cls, dtype=None, ndim=None):
        return super().__new__(cls, (dtype, ndim))


def conform(x, expected):
    """Keras' input standardization: integer or boolean inputs of a floating input are cast
    to its dtype, and an input one axis short of its rank gets a trailing axis of size 1
    (``(batch,)`` -> ``(batch, 1)``)."""
    if expected is None or x is None:
        return x
    if isinstance(expected, InputSpec):
        if isinstance(x, (list, tuple)) and len(x) == 1 and not _is_leaf(x):
            return type(x)([conform(x[0], expected)])
        if not isinstance(x, torch.Tensor):
            return x
        dtype, ndim = expected
        if dtype is not None and dtype.is_floating_point and not (x.is_floating_point() or x.is_complex()):
            x = x.to(dtype)
        if ndim is not None and x.ndim == ndim - 1:
            x = x.unsqueeze(-1)
        return x
    if isinstance(expected, Mapping) and isinstance(x, Mapping):
        return {k: conform(v, expected.get(k)) for k, v in x.items()}
    if isinstance(expected, (list, tuple)) and isinstance(x, (list, tuple)) and len(expected) == len(x):
        return type(x)(conform(v, e) for v, e in zip(x, expected))
    return x


def unpack(data):
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    if isinstance(data, (tuple, list)) and 1 <= len(data) <= 3 and not _is_leaf(data):
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


def as_batch(data) -> tuple:
    """A batch from a loader or generator as a tuple of tensor structures, keeping its
    arity: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a bare ``x`` becomes ``(x,)``)."""
    if isinstance(data, (tuple, list)) and 1 <= len(data) <= 3 and not _is_leaf(data):
        return tuple(map_structure(to_tensor, part) for part in data)
    return (map_structure(to_tensor, data),)


def num_samples(structure, argument) -> int:
    leaves = flatten(structure)
    counts = {int(leaf.shape[0]) if leaf.ndim else 1 for leaf in leaves}
    if len(counts) > 1:
        raise ValueError(f"All arrays in {argument} must have the same number of samples; received sizes {sorted(counts)}.")
    return counts.pop() if counts else 0




class ArrayData:
    """In-memory ``(x, y, sample_weight)`` batched by index slicing."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False, device=None):
        self.x = map_structure(to_tensor, x)
        self.y = map_structure(to_tensor, y)
        self.sample_weight = None if sample_weight is None else to_tensor(sample_weight)
        self.size = num_samples(self.x, "x")
        if self.y is not None:
            y_size = num_samples(self.y, "y")
            if y_size != self.size:
                raise ValueError(f"x and y must have the same number of samples; received x with {self.size} and y with {y_size}.")
        if self.sample_weight is not None:
            if self.sample_weight.ndim == 0 or self.sample_weight.shape[0] != self.size:
                raise ValueError(
                    f"sample_weight must have one weight per sample ({self.size}); received shape "
                    f"{tuple(self.sample_weight.shape)}."
                )
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.device = device
        if device is not None and device.type != "cpu":
            move = lambda t: t.to(device) if isinstance(t, torch.Tensor) else t  # noqa: E731 - text stays on the host
            self.x, self.y = map_structure(move, self.x), map_structure(move, self.y)
            if self.sample_weight is not None:
                self.sample_weight = self.sample_weight.to(device)

    def conform_inputs(self, expected):
        """Give the inputs the dtypes and ranks the model expects (once, for all batches)."""
        self.x = conform(self.x, expected)

    @property
    def steps(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def first_batch(self):
        """The first (unshuffled) batch, to build the model and check the data on."""
        if self.size == 0:
            return None
        part = slice(0, self.batch_size)
        return (
            map_structure(lambda t: t[part], self.x),
            map_structure(lambda t: t[part], self.y),
            None if self.sample_weight is None else self.sample_weight[part],
        )

    def split(self, validation_split):
        """Keras' ``validation_split``: the last fraction, taken before any shuffling."""
        cut = int(self.size * (1 - validation_split))
        if cut == 0 or cut == self.size:
            raise ValueError(
                f"validation_split={validation_split} leaves {'no training' if cut == 0 else 'no validation'} "
                f"samples out of {self.size}."
            )
        head, tail = slice(0, cut), slice(cut, None)
        take = lambda part: (lambda t: t[part])  # noqa: E731
        parts = []
        for part in (head, tail):
            piece = ArrayData.__new__(ArrayData)
            piece.x = map_structure(take(part), self.x)
            piece.y = map_structure(take(part), self.y)
            piece.sample_weight = None if self.sample_weight is None else self.sample_weight[part]
            piece.size = cut if part is head else self.size - cut
            piece.batch_size, piece.shuffle = self.batch_size, self.shuffle
            parts.append(piece)
        return parts

    def _selectors(self, generator, start, device):
        """What picks each batch: index tensors of a fresh permutation, or slices."""
        size = self.batch_size
        if self.shuffle:
            order = torch.randperm(self.size, generator=generator)
            if not any(isinstance(leaf, np.ndarray) for leaf in flatten((self.x, self.y))):
                order = order.to(device)
            return (order[i * size : (i + 1) * size] for i in range(start, self.steps))
        return (slice(i * size, (i + 1) * size) for i in range(start, self.steps))

    def batches(self, generator: torch.Generator | None = None, start: int = 0) -> Iterator:
        """One epoch of ``(x, y, sample_weight)`` batches, from batch ``start``."""
        x, y, w = self.x, self.y, self.sample_weight
        leaves = [leaf for leaf in flatten(x) if isinstance(leaf, torch.Tensor)]
        selectors = self._selectors(generator, start, leaves[0].device if leaves else torch.device("cpu"))
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and w is None:
            for pick in selectors:  # the common case, without structure walks
                yield x[pick], y[pick]
            return
        for pick in selectors:  # (x,), (x, y) or (x, y, sample_weight): what was given, as Keras
            batch = (map_structure(lambda t: t[pick], x),)
            if y is not None or w is not None:
                batch += (map_structure(lambda t: t[pick], y),)
            if w is not None:
                batch += (w[pick],)
            yield batch


class StreamData:
    """Batches from a DataLoader, a Dataset (batched here) or a generator / iterable of
    batches. ``steps`` is the loader's length when it has one."""

    def __init__(self, source, batch_size=32, shuffle=False):
        if isinstance(source, (Dataset, IterableDataset)) and not isinstance(source, DataLoader):
            source = DataLoader(source, batch_size=batch_size, shuffle=shuffle and not isinstance(source, IterableDataset))
        self.source = source
        self._iterator = None
        self._peeked = None
        try:
            self.steps = len(source)
        except TypeError:
            self.steps = None
        self.reiterable = isinstance(source, DataLoader) or (isinstance(source, Iterable) and not isinstance(source, Iterator))
        self._expected = None

    def conform_inputs(self, expected):
        """Give every batch's inputs the dtypes and ranks the model expects."""
        self._expected = expected
        if self._peeked is not None:
            self._peeked = self._conformed(self._peeked)

    def _conformed(self, batch):
        if self._expected is None:
            return batch
        return (conform(batch[0], self._expected), *batch[1:])

    def first_batch(self):
        """The first batch; from a one-pass generator it is kept and yielded again later."""
        if self.reiterable:
            return next(self.batches(), None)
        if self._peeked is None:
            self._iterator = self._iterator or iter(self.source)
            data = next(self._iterator, None)
            self._peeked = None if data is None else self._conformed(as_batch(data))
        return self._peeked

    def batches(self, generator=None, start=0) -> Iterator:
        if self.reiterable:
            iterator = iter(self.source)
        else:  # a generator: one pass, shared by every epoch
            iterator = self._iterator = self._iterator or iter(self.source)
            if self._peeked is not None:
                peeked, self._peeked = self._peeked, None
                yield peeked
        for data in iterator:
            yield self._conformed(as_batch(data))


def adapt(x, y=None, sample_weight=None, batch_size=32, shuffle=False, device=None):
    """An `ArrayData` or a `StreamData` for what was passed."""
    if isinstance(x, (str, bytes)):
        raise TypeError(
            f"x must be arrays or tensors (a single one, a list or a dict), a Dataset, a DataLoader or a generator of "
            f"batches; received the string {x!r}. (Text for a text layer goes in a list or numpy array of strings.)"
        )
    x, y, sample_weight = from_pandas(x), from_pandas(y), from_pandas(sample_weight)
    if isinstance(x, (Dataset, IterableDataset, DataLoader)) or (
        isinstance(x, (Iterator, Iterable)) and not isinstance(x, (torch.Tensor, np.ndarray, list, tuple, Mapping))
    ):
        if y is not None:
            raise ValueError("y must be None when x is a Dataset, DataLoader or generator: the batches carry the labels.")
        if sample_weight is not None:
            raise ValueError("sample_weight must be None when x is a Dataset, DataLoader or generator: put the weights in the batches.")
        return StreamData(x, batch_size, shuffle)
    if x is None:
        raise ValueError("x is required: arrays, tensors, a Dataset, a DataLoader or a generator.")
    return ArrayData(x, y, sample_weight, batch_size, shuffle, device)


def to_device(structure, device):
    """Move every tensor of a structure to ``device`` (non-blocking; tensors already there stay)."""
    return map_structure(lambda t: t.to(device, non_blocking=True) if t.device != device else t, structure)


def _class_labels(y):
    """The class index of each sample (Keras 3's ``class_weight_to_sample_weights``): the
    argmax of one-hot rows (a last axis wider than 1), else the label rounded (half to even,
    as ``np.round``). Returns ``(labels, width)``: ``width`` is the one-hot width, or None."""
    leaves = flatten(map_structure(to_tensor, y))
    if len(leaves) != 1 or not isinstance(leaves[0], torch.Tensor):
        raise ValueError(
            "class_weight is only supported for models with a single output, with numeric labels; "
            f"received y with {len(leaves)} arrays. Give per-output weights through sample_weight instead."
        )
    labels = leaves[0]
    if labels.ndim > 1 and labels.shape[-1] > 1:
        return labels.argmax(dim=-1), labels.shape[-1]
    labels = labels.reshape(labels.shape[0], -1)[:, 0] if labels.ndim else labels.reshape(1)
    return (labels.round().long() if labels.is_floating_point() else labels.long()), None


def _class_keys(class_weight, width):
    """``class_weight``'s classes, checked: dict keys that are class indices (and, for one-hot
    labels, below their width)."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}; received {class_weight!r}.")
    for c in class_weight:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 or (width is not None and c >= width):
            allowed = f"0..{width - 1}" if width is not None else "integers >= 0"
            raise ValueError(f"class_weight names class {c!r}, which does not exist: the labels have classes {allowed}.")
    return [int(c) for c in class_weight]


def check_class_weight(class_weight, y) -> None:
    """Validate ``class_weight`` against all the labels ``fit`` was given (once, on the host):
    every class it names must exist, i.e. be below the one-hot width, or (integer labels) below
    ``max(largest label + 1, 2)``."""
    labels, width = _class_labels(y)
    keys = _class_keys(class_weight, width)
    if width is None:
        num_classes = max(int(labels.max()) + 1 if labels.numel() else 0, 2)
        unknown = [c for c in keys if c >= num_classes]
        if unknown:
            raise ValueError(
                f"class_weight names class {unknown[0]!r}, which does not exist: the labels have classes 0..{num_classes - 1}."
            )


def class_weights_to_sample_weights(class_weight, y, sample_weight=None):
    """Per-sample weights from ``class_weight`` (Keras 3): ``w_i = class_weight.get(c_i, 1)``
    for each sample's class ``c_i`` (see `_class_labels`); a class no sample has changes
    nothing. With ``sample_weight`` too, ``w_i`` multiplies it (broadcast over its trailing
    axes), as tf.keras 2 did (Keras 3 raises). The result is float32, on the labels' device;
    nothing is read back from the device."""
    labels, width = _class_labels(y)
    keys = _class_keys(class_weight, width)
    size = (max(keys) + 1) if keys else 1
    table = torch.ones(size, dtype=torch.float32)
    for c, w in zip(keys, class_weight.values()):
        table[c] = float(w)
    table = table.to(labels.device)
    known = (labels >= 0) & (labels < size)
    weights = table[labels.clamp(0, size - 1)].masked_fill(~known, 1.0)
    if sample_weight is not None:
        given = to_tensor(sample_weight).to(device=labels.device, dtype=torch.float32)
        weights = given * weights.reshape(-1, *([1] * max(given.ndim - 1, 0)))
    return weights
