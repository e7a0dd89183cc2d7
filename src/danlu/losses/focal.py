"""Focal crossentropies (Lin et al., 2017): crossentropy scaled down on well-classified
examples by the modulating factor ``(1 - p_t)^gamma``.

Keras 3 defaults: ``alpha=0.25``, ``gamma=2.0``; the binary form weights by ``alpha`` only
with ``apply_class_balancing=True``, the categorical form always multiplies by ``alpha``.
"""

from __future__ import annotations

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


def check_focal(alpha, gamma):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; received alpha={alpha!r}.")
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma >= 0.0:
        raise ValueError(f"gamma must be a non-negative number; received gamma={gamma!r}.")


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
    1 - eps)`` (softmax first when ``from_logits``)."""
    check_focal(alpha, gamma)
    check_label_smoothing(label_smoothing)
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    warn_single_class(y_pred, "categorical_focal_crossentropy")
    y_true = smooth_categorical_labels(y_true, label_smoothing)
    check_same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    output = clipped_probabilities(y_pred, axis)
    cce = -y_true * output.log()
    return (torch.pow(1.0 - output, gamma) * alpha * cce).sum(dim=axis)


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

    Args: ``alpha=0.25``, ``gamma=2.0``, ``from_logits=False``, ``label_smoothing=0.0``,
    ``axis=-1``, ``reduction``, ``name="categorical_focal_crossentropy"``, ``dtype``.
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
        check_focal(alpha, gamma)
        check_label_smoothing(label_smoothing)
        check_axis(axis)
        super().__init__(
            categorical_focal_crossentropy, reduction=reduction, name=name, dtype=dtype,
            alpha=alpha, gamma=gamma, from_logits=from_logits,
            label_smoothing=label_smoothing, axis=axis,
        )
