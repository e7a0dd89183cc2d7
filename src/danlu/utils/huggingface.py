"""Hugging Face ``datasets`` in ``fit``: `from_huggingface` (``pip install 'danlu[huggingface]'``).

A ``datasets.Dataset`` is a table of named columns; ``fit`` takes batches of ``(x, y)`` or
``(x, y, sample_weight)``. `from_huggingface` maps the columns onto those parts:

- **labels**: ``label="auto"`` (the default) takes the column ``"label"``, else
  ``"labels"`` (the names ``datasets`` and ``transformers`` use); with neither, the batches
  are inputs only (for ``predict``). A column name picks that column; a list of names gives
  ``y`` as a dict ``{column: tensor}`` (one entry per output of a model whose outputs carry
  those names); ``None`` means no labels.
- **sample weights**: ``sample_weight="auto"`` takes the column ``"sample_weight"`` when
  there is one; a name picks a column; ``None`` means none.
- **inputs**: ``inputs=None`` takes every other column, in the dataset's order (never
  ``"label"``, ``"labels"`` or ``"sample_weight"``: ``label=None`` drops the labels, for
  ``predict``): one column gives ``x`` as a tensor, several give a dict ``{column: tensor}``
  (for a functional model whose ``Input``s are named after the columns). A name or a list
  of names picks columns.

Columns are read as torch tensors: a dataset without a format gets ``with_format("torch")``
(numbers become float32 / int64 tensors; ``Image`` columns uint8 tensors, channels first,
which is danlu's layout); a dataset that already has a format (``with_format``,
``with_transform``) is read as it is formatted. Text columns stay strings (lists of str),
for danlu's text layers.

The result is a ``torch.utils.data.Dataset`` (an ``IterableDataset`` for a streaming
``datasets.IterableDataset``), so ``fit`` batches and shuffles it with its ``batch_size``
and ``shuffle``; each batch is one batched read of the table (``__getitems__``), not one read
per row. ``datasets`` is never imported here: the dataset given is used through its methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset

from danlu._identifiers import unknown_identifier_error

#: The column names ``label="auto"`` looks for, in order.
LABEL_COLUMNS = ("label", "labels")
#: The column name ``sample_weight="auto"`` looks for.
SAMPLE_WEIGHT_COLUMN = "sample_weight"


def is_huggingface_dataset(value: Any) -> bool:
    """Whether ``value`` is a ``datasets.Dataset`` or ``datasets.IterableDataset`` (checked by
    class, without importing ``datasets``)."""
    return any(cls.__module__.startswith("datasets.") and cls.__name__ in ("Dataset", "IterableDataset")
               for cls in type(value).__mro__)


def from_huggingface(dataset: Any, label: str | Sequence[str] | None = "auto",
                     inputs: str | Sequence[str] | None = None, sample_weight: str | None = "auto") -> Dataset:
    """A torch ``Dataset`` of ``(x, y)`` / ``(x, y, sample_weight)`` / ``(x,)`` samples from a
    Hugging Face ``datasets.Dataset`` (or ``IterableDataset``), for ``fit`` / ``evaluate`` /
    ``predict``; the column conventions are in the module docstring.

    >>> model.fit(from_huggingface(dataset), batch_size=32, epochs=3)   # doctest: +SKIP

    Raises ``TypeError`` for anything but a dataset (a ``DatasetDict`` names its splits) and
    ``ValueError`` for a column the dataset does not have (naming the closest one)."""
    if type(dataset).__name__ in ("DatasetDict", "IterableDatasetDict"):
        raise TypeError(
            f"from_huggingface takes one split of a dataset; received a {type(dataset).__name__} with splits "
            f"{list(dataset)}: pass dataset[{next(iter(dataset), 'train')!r}]."
        )
    if not is_huggingface_dataset(dataset):
        raise TypeError(
            f"from_huggingface takes a datasets.Dataset or datasets.IterableDataset; received {type(dataset).__name__}."
        )
    columns = list(dataset.column_names or [])
    if not columns and not isinstance(dataset, IterableDataset):
        raise ValueError("The dataset has no columns.")
    layout = ColumnLayout(columns, label, inputs, sample_weight) if columns else None
    if isinstance(dataset, IterableDataset):  # a streaming dataset: columns may be known only from its rows
        return HuggingFaceIterable(_as_torch(dataset), layout, (label, inputs, sample_weight))
    return HuggingFaceDataset(_as_torch(dataset, layout.columns), layout)


def _as_torch(dataset: Any, columns: list[str] | None = None) -> Any:
    """``with_format("torch")`` unless the dataset already has a format of its own."""
    if isinstance(dataset, IterableDataset):
        formatted = getattr(dataset, "_formatting", None) is not None
        return dataset if formatted else dataset.with_format("torch")
    if dataset.format.get("type") is not None:
        return dataset
    return dataset.with_format("torch", columns=columns)


def _names(spec: str | Sequence[str], argument: str, columns: list[str]) -> list[str]:
    names = [spec] if isinstance(spec, str) else list(spec)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{argument} must be a column name or a list of names; received {spec!r}.")
        if name not in columns:
            raise unknown_identifier_error(f"{argument} column", name, columns)
    return names


class ColumnLayout:
    """Which columns make ``x``, ``y`` and ``sample_weight``, and how each is structured: a
    single column as its value, several as a dict keyed by column name."""

    def __init__(self, columns: list[str], label: str | Sequence[str] | None = "auto",
                 inputs: str | Sequence[str] | None = None, sample_weight: str | None = "auto"):
        if label == "auto":
            label = next((c for c in LABEL_COLUMNS if c in columns), None)
        if sample_weight == "auto":
            sample_weight = SAMPLE_WEIGHT_COLUMN if SAMPLE_WEIGHT_COLUMN in columns and label is not None else None
        elif sample_weight is not None and label is None:
            raise ValueError(f"sample_weight={sample_weight!r} needs labels, but the dataset has no label column (label=None).")
        self.label = None if label is None else _names(label, "label", columns)
        self.label_dict = label is not None and not isinstance(label, str)
        if sample_weight is not None and not isinstance(sample_weight, str):
            raise TypeError(f"sample_weight must be a column name, 'auto' or None; received {sample_weight!r}.")
        self.sample_weight = None if sample_weight is None else _names(sample_weight, "sample_weight", columns)[0]
        taken = set(self.label or ()) | {self.sample_weight}
        if inputs is None:  # the conventional label / weight names are never inputs by default
            reserved = taken | set(LABEL_COLUMNS) | {SAMPLE_WEIGHT_COLUMN}
            self.inputs = [c for c in columns if c not in reserved]
            self.inputs_dict = len(self.inputs) > 1
        else:
            self.inputs = _names(inputs, "inputs", columns)
            self.inputs_dict = not isinstance(inputs, str)
        if not self.inputs:
            raise ValueError(f"No column is left for the inputs: the dataset's columns are {columns}.")
        overlap = set(self.inputs) & taken
        if overlap:
            raise ValueError(f"Columns {sorted(overlap)} are both inputs and labels / sample weights.")
        self.columns = [*self.inputs, *(self.label or ()), *([self.sample_weight] if self.sample_weight else [])]

    def sample(self, row: dict) -> tuple:
        """``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` from one row (a dict of columns)."""
        x = {c: row[c] for c in self.inputs} if self.inputs_dict else row[self.inputs[0]]
        if self.label is None:
            return (x,)
        y = {c: row[c] for c in self.label} if self.label_dict else row[self.label[0]]
        return (x, y) if self.sample_weight is None else (x, y, row[self.sample_weight])


def _rows(batch: dict, count: int) -> list[dict]:
    """A batched read (``{column: tensor or list}``) as ``count`` rows."""
    split = {c: (list(v.unbind(0)) if isinstance(v, torch.Tensor) else list(v)) for c, v in batch.items()}
    return [{c: values[i] for c, values in split.items()} for i in range(count)]


class HuggingFaceDataset(Dataset):
    """A map-style torch ``Dataset`` over a Hugging Face ``datasets.Dataset`` (see
    `from_huggingface`); ``__getitems__`` reads a whole batch of rows at once."""

    def __init__(self, dataset: Any, layout: ColumnLayout):
        self.dataset, self.layout = dataset, layout

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple:
        return self.layout.sample(self.dataset[int(index)])

    def __getitems__(self, indices: Sequence[int]) -> list[tuple]:
        indices = [int(i) for i in indices]
        return [self.layout.sample(row) for row in _rows(self.dataset[indices], len(indices))]


class HuggingFaceIterable(IterableDataset):
    """A torch ``IterableDataset`` over a streaming ``datasets.IterableDataset``; the column
    layout is taken from the first row when the dataset does not declare its columns."""

    def __init__(self, dataset: Any, layout: ColumnLayout | None, spec: tuple):
        self.dataset, self.layout, self.spec = dataset, layout, spec

    def __iter__(self) -> Iterator[tuple]:
        for row in self.dataset:
            if self.layout is None:
                self.layout = ColumnLayout(list(row), *self.spec)
            yield self.layout.sample(row)


__all__ = ["LABEL_COLUMNS", "SAMPLE_WEIGHT_COLUMN", "from_huggingface", "is_huggingface_dataset"]
