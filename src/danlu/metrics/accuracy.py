"""Accuracy metrics: exact, binary (threshold), categorical (one-hot), sparse and top-k.

Each is the weighted mean over samples of a 0/1 match (`MeanMetricWrapper`); the match
functions return float32, as Keras' (floatx), and the metric's ``dtype`` is that of its
``total`` / ``count`` state.
"""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu._tensors import as_tensor
from danlu.losses.base import squeeze_or_expand_to_same_rank
from danlu.metrics.base import MeanMetricWrapper
from danlu.metrics.reduction import sample_count

#: States whose sums of whole counts are exact (a direct count adds as the float matches would).
_EXACT_TOTALS = (torch.float32, torch.float64)


def _pred(y_pred):
    y_pred = as_tensor(y_pred).detach()
    return y_pred if y_pred.is_floating_point() else y_pred.float()


def accuracy(y_true, y_pred):
    """1 where ``y_true == y_pred`` exactly, else 0."""
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).float()


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where ``(y_pred > threshold) == y_true``."""
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, device=y_pred.device)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ((y_pred > threshold).to(y_true.dtype) == y_true).float()


def _sparse_matches(y_true, predicted):
    """Compare integer labels with predicted indices, Keras' rank handling."""
    original_shape = y_true.shape
    reshape = y_true.ndim == predicted.ndim + 1 and y_true.shape[-1] == 1
    if reshape:
        y_true = y_true.squeeze(-1)
    matches = (y_true == predicted.to(y_true.dtype)).float()
    if reshape:
        matches = matches.reshape(original_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where ``argmax(y_pred) == y_true`` (integer labels)."""
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, device=y_pred.device)
    if y_true.ndim == y_pred.ndim - 1 and not y_true.is_floating_point():
        return (y_pred.argmax(dim=-1) == y_true).float()  # the common case: integer labels (batch, ...)
    y_true = y_true.to(y_pred.dtype)
    return _sparse_matches(y_true, y_pred.argmax(dim=-1))


def categorical_accuracy(y_true, y_pred):
    """1 where ``argmax(y_pred) == argmax(y_true)`` (one-hot labels)."""
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, device=y_pred.device)
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).float()


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1 where the label is among the ``k`` highest predictions (a tie with the k-th counts
    as in, as Keras' ``in_top_k``). ``from_sorted_ids=True``: ``y_pred`` holds class ids
    sorted by score, and a match is the label among its first ``k``."""
    y_pred = _pred(y_pred)
    if from_sorted_ids:
        y_true = as_tensor(y_true, device=y_pred.device).to(y_pred.dtype)
        shape = y_true.shape
        flat_true = y_true.reshape(-1, 1)
        flat_ids = y_pred.reshape(-1, y_pred.shape[-1])[:, :k]
        return (flat_ids == flat_true).any(dim=1).float().reshape(shape)
    y_true = as_tensor(y_true, device=y_pred.device).long()
    original_shape = y_true.shape
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
        original_shape = y_true.shape
    flat_pred = y_pred.reshape(-1, y_pred.shape[-1])
    flat_true = y_true.reshape(-1)
    k = min(k, flat_pred.shape[-1])
    # in_top_k: the label's score is above the k-th largest (ties count as in)
    label_scores = flat_pred.gather(1, flat_true.unsqueeze(1))
    kth = flat_pred.topk(k, dim=-1).values[:, -1:]
    matches = (label_scores >= kth).squeeze(1).float()
    return matches.reshape(original_shape)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the one-hot label's class is among the ``k`` highest predictions."""
    y_true = as_tensor(y_true)
    return sparse_top_k_categorical_accuracy(y_true.argmax(dim=-1), y_pred, k)


class Accuracy(MeanMetricWrapper):
    """``mean_samples([y_pred == y_true])``: how often predictions equal labels exactly.
    Keras' defaults: ``name="accuracy"``, ``dtype=None`` (float32)."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """``mean_samples([(y_pred > threshold) == y_true])`` for 0/1 labels.
    Keras' defaults: ``name="binary_accuracy"``, ``dtype=None``, ``threshold=0.5``."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        check_number("threshold", threshold)
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """``mean_samples([argmax(y_pred) == argmax(y_true)])`` for one-hot labels.
    Keras' defaults: ``name="categorical_accuracy"``, ``dtype=None``."""

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """``mean_samples([argmax(y_pred) == y_true])`` for integer labels.
    Keras' defaults: ``name="sparse_categorical_accuracy"``, ``dtype=None``."""

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        # The common case, counted directly (no float copy of the matches): one integer label
        # per row of float scores, on one device, no weights, a float32 / float64 state. The
        # count of matches is a whole number, so the sum is the same as the general path's.
        total = self.__dict__["total"]
        if (
            sample_weight is None and type(y_true) is torch.Tensor and type(y_pred) is torch.Tensor
            and y_true.ndim == 1 and y_pred.ndim == 2 and not y_true.is_floating_point() and y_true.dtype != torch.bool
            and y_pred.is_floating_point() and y_true.device == y_pred.device and total.dtype in _EXACT_TOTALS
            and self.fn is sparse_categorical_accuracy
        ):
            self._to_device(y_pred.device)
            if y_pred.requires_grad:  # the trainer passes detached predictions already
                y_pred = y_pred.detach()
            matches = y_pred.argmax(dim=-1) == y_true
            total.add_(matches.sum())
            count = self.__dict__["count"]
            count.add_(sample_count(matches.shape[0], count))
            return
        super().update_state(y_true, y_pred, sample_weight)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """``mean_samples([y_pred[argmax(y_true)] >= k-th largest y_pred])`` (ties count as in).
    Keras' defaults: ``k=5``, ``name="top_k_categorical_accuracy"``, ``dtype=None``."""

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """``mean_samples([y_pred[y_true] >= k-th largest y_pred])`` for integer labels (ties count
    as in). Keras' defaults: ``k=5``, ``name="sparse_top_k_categorical_accuracy"``,
    ``dtype=None``, ``from_sorted_ids=False`` (True: predictions are class ids sorted by score)."""

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(
            sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k, from_sorted_ids=from_sorted_ids
        )
        self.k, self.from_sorted_ids = k, from_sorted_ids

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:  # Keras writes it only when set
            config["from_sorted_ids"] = True
        return config
