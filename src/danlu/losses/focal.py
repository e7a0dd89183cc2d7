"""Focal crossentropies (Lin et al., 2017): crossentropy scaled down on well-classified
examples by the modulating factor ``(1 - p_t)^gamma``.

Keras 3 defaults: ``alpha=0.25``, ``gamma=2.0``; the binary form weights by ``alpha`` only
with ``apply_class_balancing=True``, the categorical form always multiplies by ``alpha``, a
number or one weight per class (e.g. inverse class frequencies).
"""

from __future__ import annotations

import math
import numbers

import torch

from danlu.losses.base import LossFunctionWrapper, float_inputs
from danlu.losses.crossentropy import (
    check_axis,
    check_label_smoothing,
    check_same_shape,
    clipped_probabilities,
    elementwise_binary_crossentropy,
    smooth_binary_labels,
    smooth_categorical_labels,
    warn_single_class,
)


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_focal(alpha, gamma, per_class_alpha=False):
    """``alpha`` a number in [0, 1] (or, with ``per_class_alpha``, a sequence of non-negative
    numbers, one per class); ``gamma`` >= 0. Returns ``alpha`` (a sequence as a list)."""
    if per_class_alpha and hasattr(alpha, "tolist"):  # a numpy array
        alpha = alpha.tolist()
    if per_class_alpha and not is_number(alpha) and not isinstance(alpha, (str, bytes)):
        try:
            weights = [float(a) if is_number(a) else a for a in alpha]
        except TypeError:
            weights = None
        if not weights or not all(is_number(a) and 0 <= a < math.inf for a in weights):
            raise ValueError(
                "alpha must be a number in [0, 1] or a non-empty list of non-negative numbers, one "
                f"per class; received alpha={alpha!r}."
            )
        alpha = weights
    elif not is_number(alpha) or not 0.0 <= alpha <= 1.0:
        allowed = "a number in [0, 1] or a list of per-class weights" if per_class_alpha else "a number in [0, 1]"
        raise ValueError(f"alpha must be {allowed}; received alpha={alpha!r}.")
    if not is_number(gamma) or not gamma >= 0.0:
        raise ValueError(f"gamma must be a non-negative number; received gamma={gamma!r}.")
    return alpha


def binary_focal_crossentropy(
    y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
    from_logits=False, label_smoothing=0.0, axis=-1,
):
    """``mean(w (1 - p_t)^gamma bce, axis)`` with ``p_t = y p + (1 - y)(1 - p)``, ``bce`` the
    clipped binary crossentropy and ``w = y alpha + (1 - y)(1 - alpha)`` when
    ``apply_class_balancing`` (else 1). Logits go through a sigmoid first."""
    check_focal(alpha, gamma)
    check_label_smoothing(label_smoothing)
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    check_same_shape(y_true, y_pred, "binary_focal_crossentropy")
    y_true = smooth_binary_labels(y_true, label_smoothing)
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = elementwise_binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal_bce = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal_bce
    return focal_bce.mean(dim=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """``sum(-alpha (1 - p)^gamma y log p, axis)`` with ``p = clip(y_pred / sum(y_pred), eps,
    1 - eps)`` (softmax first when ``from_logits``).

    ``alpha`` may be a list with one weight per class (Keras 3.15), laid along ``axis``;
    Keras lays it along the last axis whatever ``axis`` is, the same for ``axis=-1``.
    """
    alpha = check_focal(alpha, gamma, per_class_alpha=True)
    check_label_smoothing(label_smoothing)
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    warn_single_class(y_pred, "categorical_focal_crossentropy")
    y_true = smooth_categorical_labels(y_true, label_smoothing)
    check_same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    if isinstance(alpha, list):
        alpha = per_class_weights(alpha, y_pred, axis)
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    output = clipped_probabilities(y_pred, axis)
    cce = -y_true * output.log()
    return (torch.pow(1.0 - output, gamma) * alpha * cce).sum(dim=axis)


def per_class_weights(alpha, y_pred, axis):
    """The list ``alpha`` as a tensor that broadcasts along the class ``axis`` of ``y_pred``."""
    if y_pred.ndim == 0 or len(alpha) != y_pred.shape[axis]:
        classes = y_pred.shape[axis] if y_pred.ndim else 0
        raise ValueError(
            f"alpha has {len(alpha)} per-class weights but y_pred of shape {tuple(y_pred.shape)} has "
            f"{classes} classes on axis {axis}; give one weight per class."
        )
    weights = torch.tensor(alpha, dtype=y_pred.dtype, device=y_pred.device)
    return weights.reshape((-1,) + (1,) * (y_pred.ndim - 1 - axis % y_pred.ndim))


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary focal crossentropy, see `binary_focal_crossentropy`.

    Args: ``apply_class_balancing=False``, ``alpha=0.25``, ``gamma=2.0``,
    ``from_logits=False``, ``label_smoothing=0.0``, ``axis=-1``, ``reduction``,
    ``name="binary_focal_crossentropy"``, ``dtype``.
    """

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        check_focal(alpha, gamma)
        check_label_smoothing(label_smoothing)
        check_axis(axis)
        super().__init__(
            binary_focal_crossentropy, reduction=reduction, name=name, dtype=dtype,
            apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Categorical focal crossentropy, see `categorical_focal_crossentropy`.

    Args: ``alpha=0.25`` (a number, or a list of one weight per class), ``gamma=2.0``,
    ``from_logits=False``, ``label_smoothing=0.0``, ``axis=-1``, ``reduction``,
    ``name="categorical_focal_crossentropy"``, ``dtype``.
    """

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        alpha = check_focal(alpha, gamma, per_class_alpha=True)
        check_label_smoothing(label_smoothing)
        check_axis(axis)
        super().__init__(
            categorical_focal_crossentropy, reduction=reduction, name=name, dtype=dtype,
            alpha=alpha, gamma=gamma, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
        )
