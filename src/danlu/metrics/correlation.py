"""Correlation of each sample's values: `PearsonCorrelation`, `ConcordanceCorrelation`.

Both compute one coefficient per sample along ``axis`` (Keras' default -1) and report the
(weighted) mean of those over samples, as `MeanMetricWrapper` does. Moments are population
moments (divide by n), as ``keras.ops.std`` / ``var`` compute them.
"""

from __future__ import annotations

import torch

from danlu.losses.base import float_inputs, squeeze_or_expand_to_same_rank
from danlu.metrics.reduction import MeanMetricWrapper

EPSILON = 1e-7


def _inputs(y_true, y_pred):
    y_true, y_pred = float_inputs(y_true, y_pred)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def pearson_correlation(y_true, y_pred, axis=-1):
    """``mean(z(y_true) z(y_pred))`` along ``axis``, with ``z(x) = (x - mean x) / std(x - mean x)``
    (NaN for a constant sample, as in Keras)."""
    y_true, y_pred = _inputs(y_true, y_pred)
    true_centered = y_true - y_true.mean(dim=axis, keepdim=True)
    pred_centered = y_pred - y_pred.mean(dim=axis, keepdim=True)
    true_centered = true_centered / true_centered.std(dim=axis, keepdim=True, correction=0)
    pred_centered = pred_centered / pred_centered.std(dim=axis, keepdim=True, correction=0)
    return (true_centered * pred_centered).mean(dim=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance ``2 cov(t, p) / (var t + var p + (mean t - mean p)^2)`` along ``axis``,
    evaluated as Keras does: ``mean(2 (t - mean p)(p - mean p) / (norm + 1e-7))`` (the same
    covariance, since ``p - mean p`` sums to zero)."""
    y_true, y_pred = _inputs(y_true, y_pred)
    true_mean = y_true.mean(dim=axis, keepdim=True)
    pred_mean = y_pred.mean(dim=axis, keepdim=True)
    true_var = torch.var(y_true - true_mean, dim=axis, keepdim=True, correction=0)
    pred_var = torch.var(y_pred - pred_mean, dim=axis, keepdim=True, correction=0)
    covariance = (y_true - pred_mean) * (y_pred - pred_mean)
    norm = true_var + pred_var + (true_mean - pred_mean).square()
    return (2 * covariance / (norm + EPSILON)).mean(dim=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Mean over samples of `pearson_correlation` along ``axis``.
    Keras' defaults: ``name="pearson_correlation"``, ``dtype=None``, ``axis=-1``."""

    _direction = "up"

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean over samples of `concordance_correlation` along ``axis``.
    Keras' defaults: ``name="concordance_correlation"``, ``dtype=None``, ``axis=-1``."""

    _direction = "up"

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}
