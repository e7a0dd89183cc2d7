"""Crossentropy losses: binary, categorical (one-hot labels) and sparse (integer labels).

Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps = 1e-7`` before the log, as Keras
3 does on its torch backend (it does not recover logits from a softmax output the way the
TensorFlow backend does). ``from_logits=True`` uses log-softmax / log-sigmoid instead.
Label smoothing ``s`` moves binary labels to ``y (1 - s) + s / 2`` and one-hot labels to
``y (1 - s) + s / num_classes``. On tensors the losses run as ``F.binary_cross_entropy`` /
``F.binary_cross_entropy_with_logits`` and (from logits) ``F.cross_entropy`` with their own
reduction (`danlu.losses.fused`). Sparse labels: `danlu.losses.sparse`.
"""

from __future__ import annotations

import warnings

import torch.nn.functional as F

from danlu.losses.base import LossFunctionWrapper, float_inputs
from danlu.losses.fused import class_axis_of, classes_on_dim_1, loss_function, mean_over_axis
# Transitional: the trainer calls Loss.check_labels / Loss.labels_checked now; only
# tests/losses/test_loss_interface.py (test_transitional_module_switch_still_works) still
# imports these from here. Remove together with that test and labels.py's transitional block.
from danlu.losses.labels import class_indices, labels_prechecked  # noqa: F401

EPSILON = 1e-7


def check_label_smoothing(label_smoothing):
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not (
        0.0 <= label_smoothing <= 1.0
    ):
        raise ValueError(
            f"label_smoothing must be a number in [0, 1]; received label_smoothing={label_smoothing!r}."
        )


def check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"axis must be an int; received axis={axis!r} of type {type(axis).__name__}.")


def check_same_shape(y_true, y_pred, loss_name):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{loss_name} needs y_true and y_pred of the same shape; received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
        )


def smooth_binary_labels(y_true, label_smoothing):
    return y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing if label_smoothing else y_true


def smooth_categorical_labels(y_true, label_smoothing):
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]


def clipped_probabilities(y_pred, axis):
    """``clip(y_pred / sum(y_pred, axis), eps, 1 - eps)``: normalized, log-safe."""
    y_pred = y_pred / y_pred.sum(dim=axis, keepdim=True)
    return y_pred.clamp(EPSILON, 1.0 - EPSILON)



def clipped_binary_crossentropy(y_pred, y_true, reduction="none"):
    """``-(y log p + (1 - y) log(1 - p))`` with ``p = clip(y_pred, eps, 1 - eps)``, reduced
    as asked (``F.binary_cross_entropy``'s argument order).

    Written out, not ``F.binary_cross_entropy``: that kernel refuses a NaN prediction (an
    error on the CPU, a device-side assert that ends the process on CUDA), where Keras gives
    a NaN loss — which is what a diverging run must show (TerminateOnNaN reads it)."""
    p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
    values = -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log())
    if reduction == "mean":
        return values.mean()
    return values.sum() if reduction == "sum" else values


def elementwise_binary_crossentropy(y_true, y_pred, from_logits):
    """``-(y log p + (1 - y) log(1 - p))`` per element, ``p`` clipped (or from logits)."""
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    return clipped_binary_crossentropy(y_pred, y_true)


def warn_single_class(y_pred, loss_name):
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            f"In {loss_name}, y_pred has shape {tuple(y_pred.shape)}: one class. Expected "
            "(batch_size, num_classes) with num_classes > 1; use binary_crossentropy for two "
            "classes given as one probability.",
            SyntaxWarning,
            stacklevel=3,
        )


def fused_binary_crossentropy(y_true, y_pred, reduction, from_logits=False, label_smoothing=0.0, axis=-1):
    """``F.binary_cross_entropy_with_logits`` (or ``F.binary_cross_entropy`` of the clipped
    probabilities) over the smoothed labels, with the kernel's own reduction."""
    kernel = F.binary_cross_entropy_with_logits if from_logits else clipped_binary_crossentropy
    return mean_over_axis(kernel, smooth_binary_labels(y_true, label_smoothing), y_pred, reduction, axis)


@loss_function(fused=fused_binary_crossentropy)
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean(-(y log p + (1 - y) log(1 - p)), axis)`` with ``p = clip(y_pred, eps, 1 - eps)``
    (or ``sigmoid(y_pred)`` computed stably when ``from_logits``)."""
    check_label_smoothing(label_smoothing)
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    check_same_shape(y_true, y_pred, "binary_crossentropy")
    y_true = smooth_binary_labels(y_true, label_smoothing)
    return elementwise_binary_crossentropy(y_true, y_pred, from_logits).mean(dim=axis)


def fused_categorical_crossentropy(y_true, y_pred, reduction, from_logits=False, label_smoothing=0.0, axis=-1):
    """``F.cross_entropy`` with probability targets and its ``label_smoothing`` (the same
    ``y (1 - s) + s / num_classes``), for logits. Keras counts the classes for smoothing on the
    last axis, so other class axes are fused without smoothing only. Probabilities have no
    kernel (their normalization and clipping come first) and take the per-sample path."""
    class_axis = class_axis_of(y_pred, axis)
    if (
        not from_logits or class_axis is None or y_true.shape != y_pred.shape or y_pred.shape[class_axis] == 1
        or (label_smoothing and class_axis != y_pred.ndim - 1)
    ):
        return None
    scores, targets = classes_on_dim_1(y_pred, class_axis), classes_on_dim_1(y_true, class_axis)
    values = F.cross_entropy(scores, targets, reduction=reduction, label_smoothing=float(label_smoothing))
    if reduction == "none":
        return values.reshape(y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1 :])
    return values


@loss_function(fused=fused_categorical_crossentropy)
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y log p, axis)`` with ``p = clip(y_pred / sum(y_pred), eps, 1 - eps)`` (or
    ``log_softmax(y_pred)`` when ``from_logits``); ``y_true`` one-hot (or soft) labels."""
    check_label_smoothing(label_smoothing)
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    warn_single_class(y_pred, "categorical_crossentropy")
    y_true = smooth_categorical_labels(y_true, label_smoothing)
    check_same_shape(y_true, y_pred, "categorical_crossentropy")
    if y_pred.ndim < 1:
        raise ValueError("categorical_crossentropy needs y_pred of rank >= 1; received a scalar.")
    if from_logits:
        log_prob = F.log_softmax(y_pred, dim=axis)
    else:
        log_prob = clipped_probabilities(y_pred, axis).log()
    return -(y_true * log_prob).sum(dim=axis)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy between labels in [0, 1] and probabilities (or logits).

    Args: ``from_logits=False``, ``label_smoothing=0.0``, ``axis=-1``, ``reduction``,
    ``name="binary_crossentropy"``, ``dtype``. See `binary_crossentropy`.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        check_label_smoothing(label_smoothing)
        check_axis(axis)
        super().__init__(
            binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between one-hot (or soft) labels and class probabilities (or logits).

    Args: ``from_logits=False``, ``label_smoothing=0.0``, ``axis=-1``, ``reduction``,
    ``name="categorical_crossentropy"``, ``dtype``. See `categorical_crossentropy`.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        check_label_smoothing(label_smoothing)
        check_axis(axis)
        super().__init__(
            categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )
