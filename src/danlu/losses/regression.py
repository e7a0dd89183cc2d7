"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh, cosine.

Each function returns one value per sample: the mean over the last axis of an elementwise
error (cosine similarity: a sum over ``axis``). ``eps`` is Keras' epsilon, 1e-7. Squared,
absolute and Huber errors are fused into ``F.mse_loss``, ``F.l1_loss`` and ``F.huber_loss``.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F

from danlu.losses.base import LossFunctionWrapper, float_inputs, squeeze_or_expand_to_same_rank
from danlu.losses.fused import loss_function, mean_over_axis

EPSILON = 1e-7


def _aligned(y_true, y_pred):
    y_true, y_pred = float_inputs(y_true, y_pred)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


@loss_function(fused=partial(mean_over_axis, F.mse_loss))
def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)^2, axis=-1)``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return (y_true - y_pred).square().mean(dim=-1)


@loss_function(fused=partial(mean_over_axis, F.l1_loss))
def mean_absolute_error(y_true, y_pred):
    """``mean(|y_true - y_pred|, axis=-1)``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return (y_true - y_pred).abs().mean(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    diff = ((y_true - y_pred) / y_true.abs().clamp_min(EPSILON)).abs()
    return 100.0 * diff.mean(dim=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    first_log = torch.log(y_pred.clamp_min(EPSILON) + 1.0)
    second_log = torch.log(y_true.clamp_min(EPSILON) + 1.0)
    return (first_log - second_log).square().mean(dim=-1)


def l2_normalize(x, axis=-1):
    """``x * min(1 / sqrt(sum(x^2, axis)), 1 / eps)`` (Keras' ``ops.normalize``)."""
    inv_norm = torch.rsqrt(x.square().sum(dim=axis, keepdim=True))
    return x * inv_norm.clamp_max(1.0 / EPSILON)


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``.

    The sign is Keras': -1 for vectors pointing the same way, 0 for orthogonal ones, +1 for
    opposite ones, so minimizing the loss maximizes the similarity.
    """
    y_true, y_pred = _aligned(y_true, y_pred)
    return -(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis)).sum(dim=axis)


def _check_delta(delta):
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta >= 0:
        raise ValueError(f"delta must be a non-negative number; received delta={delta!r}.")


def fused_huber(y_true, y_pred, reduction, delta=1.0):
    """``F.huber_loss`` (the same pieces, split at ``|e| = delta`` where both agree); PyTorch
    refuses ``delta = 0``, whose loss is 0 everywhere, which the per-sample path computes."""
    if not delta > 0:
        return None
    return mean_over_axis(F.huber_loss, y_true, y_pred, reduction, delta=float(delta))


@loss_function(fused=fused_huber)
def huber(y_true, y_pred, delta=1.0):
    """With ``e = y_pred - y_true``: ``mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5
    delta^2, axis=-1)``."""
    _check_delta(delta)
    y_true, y_pred = _aligned(y_true, y_pred)
    error = y_pred - y_true
    abs_error = error.abs()
    quadratic = 0.5 * error.square()
    linear = delta * abs_error - 0.5 * delta**2
    return torch.where(abs_error <= delta, quadratic, linear).mean(dim=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed stably as
    ``x + softplus(-2x) - log(2)``."""
    y_true, y_pred = _aligned(y_true, y_pred)
    x = y_pred - y_true
    return (x + F.softplus(-2.0 * x) - math.log(2.0)).mean(dim=-1)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squares of errors (`mean_squared_error`)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors (`mean_absolute_error`)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error (`mean_absolute_percentage_error`)."""

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None
    ):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error (`mean_squared_logarithmic_error`)."""

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None
    ):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity along ``axis`` (default -1), see `cosine_similarity`.

    Keras' ``get_config`` leaves ``axis`` out, so a restored loss forgets it; danlu keeps it.
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold ``delta`` (default 1.0), see `huber`.

    Keras' ``get_config`` leaves ``delta`` out, so a restored loss forgets it; danlu keeps it.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        _check_delta(delta)
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error (`log_cosh`)."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)
