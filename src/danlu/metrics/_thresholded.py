"""Weighted confusion counts at thresholds (Keras' ``update_confusion_matrix_variables``).

For each threshold ``t`` a prediction is positive when ``y_pred > t`` and a label when it is
nonzero; each sample adds its weight to one of TP / FP / TN / FN. Two evaluations, chosen as
Keras chooses them, because they round differently at the bucket edges:

- evenly spaced thresholds ``i / (T - 1)`` (Keras' ``is_evenly_distributed_thresholds``):
  predictions are clipped to [0, 1] and put in bucket ``ceil(p (T - 1)) - 1``; the counts at
  each threshold are reverse cumulative sums of the buckets, O(N + T). A bucket of -1 (p = 0
  with no threshold below 0) counts for no threshold; with AUC's thresholds ``-eps`` and
  ``1 + eps`` it is bucket 0 instead.
- any other thresholds: the direct comparison ``p > t``, O(N T), without clipping.
"""

from __future__ import annotations

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu.losses.base import squeeze_or_expand_to_same_rank

#: Keras' threshold for "every prediction is positive" (used with ``top_k``).
NEG_INF = -1e10
EPSILON = 1e-7
COUNTS = ("tp", "fp", "tn", "fn")


def parse_thresholds(thresholds, default=0.5) -> list[float]:
    """The thresholds as a list (one number becomes a list of one); each must be in [0, 1]."""
    if thresholds is None:
        return [float(default)]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    invalid = [t for t in values if t is None or not 0 <= t <= 1]
    if invalid:
        raise ValueError(
            f"Threshold values must be in [0, 1]; received thresholds={thresholds!r} (invalid: {invalid})."
        )
    return [float(t) for t in values]


def evenly_distributed(thresholds) -> bool:
    """True for at least 3 thresholds equal to ``i / (T - 1)`` (to 1e-7), as Keras tests it."""
    count = len(thresholds)
    if count < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(count, dtype=np.float32) / (count - 1), atol=EPSILON))


def filter_top_k(x, k):
    """Keep the ``k`` largest values of the last axis (exactly ``k``: ties are broken by
    ``torch.topk``'s order, as in Keras) and set the others to ``NEG_INF``."""
    indices = torch.topk(x, k, dim=-1).indices
    keep = torch.zeros_like(x, dtype=torch.bool).scatter_(-1, indices, True)
    return torch.where(keep, x, NEG_INF)


def prepare(y_true, y_pred, sample_weight, dtype, top_k=None, class_id=None):
    """Inputs as Keras shapes them: cast to ``dtype``, ranks aligned, the weight given a
    trailing axis to broadcast against the labels, ``top_k`` filtering, the ``class_id`` column."""
    y_pred = as_tensor(y_pred).detach().to(dtype)
    y_true = as_tensor(y_true, device=y_pred.device).detach().to(dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, device=y_pred.device).detach().to(dtype).unsqueeze(-1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        if y_pred.ndim == 0 or top_k > y_pred.shape[-1]:
            raise ValueError(
                f"top_k={top_k} needs predictions with at least {top_k} values on the last axis; "
                f"received y_pred of shape {tuple(y_pred.shape)}."
            )
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape (num_samples, num_classes); "
                f"received y_pred of shape {tuple(y_pred.shape)}."
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    return y_true, y_pred, sample_weight


def update_counts(variables, y_true, y_pred, thresholds, sample_weight=None, evenly=False, multi_label=False,
                  label_weights=None, with_epsilon=False):
    """Add the weighted counts of prepared inputs to ``variables`` (a dict with some of
    "tp", "fp", "tn", "fn"). ``thresholds`` is a tensor on the inputs' device; with
    ``multi_label`` the inputs are ``(N, L)`` and the counts ``(T, L)``."""
    if evenly:
        counts = _bucketed_counts(
            y_true, y_pred, thresholds.shape[0], sample_weight, multi_label, label_weights, with_epsilon
        )
    else:
        counts = _compared_counts(variables, y_true, y_pred, thresholds, sample_weight, multi_label, label_weights)
    for key, variable in variables.items():
        variable += counts[key]


def _weights(sample_weight, label_weights, y_pred, multi_label):
    weights = None
    if sample_weight is not None:
        weights = torch.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None:
        label_weights = torch.broadcast_to(label_weights.unsqueeze(0), y_pred.shape)
        weights = label_weights if weights is None else weights * label_weights
    if weights is not None and not multi_label:
        weights = weights.reshape(-1)
    return weights


def _bucketed_counts(y_true, y_pred, num_thresholds, sample_weight, multi_label, label_weights, with_epsilon):
    weights = _weights(sample_weight, label_weights, y_pred, multi_label)
    y_pred = y_pred.clamp(0.0, 1.0)
    y_true = y_true.bool().to(y_pred.dtype)
    if not multi_label:
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
    true_labels = y_true if weights is None else y_true * weights
    false_labels = (1.0 - y_true) if weights is None else (1.0 - y_true) * weights
    buckets = torch.ceil(y_pred * (num_thresholds - 1)) - 1
    if with_epsilon:
        buckets = buckets.clamp_min(0)
    buckets = buckets.long()
    buckets = torch.where(buckets >= 0, buckets, num_thresholds)  # bucket -1 counts nowhere

    def cumulative(labels):
        if multi_label:  # per label: (L, T) bucket sums, reverse cumulative, as (T, L)
            sums = torch.zeros(labels.shape[1], num_thresholds + 1, dtype=torch.float32, device=labels.device)
            sums.scatter_add_(1, buckets.T, labels.T.float())
            return sums[:, :-1].flip(1).cumsum(1).flip(1).T.to(labels.dtype)
        sums = torch.zeros(num_thresholds + 1, dtype=torch.float32, device=labels.device)
        sums.scatter_add_(0, buckets, labels.float())
        return sums[:-1].flip(0).cumsum(0).flip(0).to(labels.dtype)

    tp, fp = cumulative(true_labels), cumulative(false_labels)
    total_true = true_labels.sum(0) if multi_label else true_labels.sum()
    total_false = false_labels.sum(0) if multi_label else false_labels.sum()
    return {"tp": tp, "fp": fp, "tn": total_false - fp, "fn": total_true - tp}


def _compared_counts(variables, y_true, y_pred, thresholds, sample_weight, multi_label, label_weights):
    weights = _weights(sample_weight, None if multi_label else label_weights, y_pred, multi_label)
    if multi_label:  # (T, N, L)
        predicted = y_pred.unsqueeze(0) > thresholds.reshape(-1, 1, 1)
        positive = y_true.bool().unsqueeze(0)
    else:  # (T, N)
        predicted = y_pred.reshape(1, -1) > thresholds.reshape(-1, 1)
        positive = y_true.bool().reshape(1, -1)
        if weights is not None:
            weights = weights.reshape(1, -1)

    def weighted_sum(label, pred):
        both = label & pred
        if weights is None:
            return both.to(y_pred.dtype).sum(1)
        return torch.where(both, weights, 0.0).sum(1)

    counts = {}
    if "tp" in variables:
        counts["tp"] = weighted_sum(positive, predicted)
    if "fp" in variables:
        counts["fp"] = weighted_sum(~positive, predicted)
    if "tn" in variables:
        counts["tn"] = weighted_sum(~positive, ~predicted)
    if "fn" in variables:
        counts["fn"] = weighted_sum(positive, ~predicted)
    return counts
