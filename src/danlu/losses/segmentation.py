"""Overlap losses for segmentation masks: Dice and Tversky.

With ``axis=None`` (the Keras default) the sums run over every element, so the loss of a
whole batch is one scalar; pass e.g. ``axis=(1, 2)`` for one value per image.
"""

from __future__ import annotations

from danlu.losses.base import LossFunctionWrapper, float_inputs

EPSILON = 1e-7


def _sum(x, axis):
    return x.sum() if axis is None else x.sum(dim=axis)


def _check_axis(axis):
    ok = axis is None or (isinstance(axis, int) and not isinstance(axis, bool)) or (
        isinstance(axis, (tuple, list)) and all(isinstance(a, int) and not isinstance(a, bool) for a in axis)
    )
    if not ok:
        raise TypeError(f"axis must be None, an int or a tuple of ints; received axis={axis!r}.")
    return tuple(axis) if isinstance(axis, list) else axis


def dice(y_true, y_pred, axis=None):
    """``1 - 2 sum(y p) / (sum(y) + sum(p) + eps)`` over ``axis``."""
    axis = _check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    intersection = _sum(y_true * y_pred, axis)
    return 1 - 2.0 * intersection / (_sum(y_true, axis) + _sum(y_pred, axis) + EPSILON)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``1 - TP / (TP + alpha FP + beta FN + eps)`` with ``TP = sum(y p)``,
    ``FP = sum((1 - p) y)`` and ``FN = sum(p (1 - y))`` over ``axis`` (Keras' naming: its
    "false positives" weigh the labelled pixels the prediction misses). ``alpha = beta = 0.5``
    is the Dice loss."""
    axis = _check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    intersection = _sum(y_true * y_pred, axis)
    fp = _sum((1 - y_pred) * y_true, axis)
    fn = _sum(y_pred * (1 - y_true), axis)
    return 1 - intersection / (intersection + fp * alpha + fn * beta + EPSILON)


class Dice(LossFunctionWrapper):
    """Dice loss over ``axis`` (default ``None``: all elements), see `dice`."""

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=_check_axis(axis))


class Tversky(LossFunctionWrapper):
    """Tversky loss with ``alpha=0.5``, ``beta=0.5`` over ``axis``, see `tversky`."""

    def __init__(
        self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None
    ):
        for arg, value in (("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{arg} must be a non-negative number; received {arg}={value!r}.")
        super().__init__(
            tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=_check_axis(axis)
        )
