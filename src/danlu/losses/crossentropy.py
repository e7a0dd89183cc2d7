"""Crossentropy losses: binary, categorical (one-hot labels) and sparse (integer labels).

Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps = 1e-7`` before the log, as Keras
3 does on its torch backend (it does not recover logits from a softmax output the way the
TensorFlow backend does). ``from_logits=True`` uses log-softmax / log-sigmoid instead.
Label smoothing ``s`` moves binary labels to ``y (1 - s) + s / 2`` and one-hot labels to
``y (1 - s) + s / num_classes``.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings

import torch
import torch.nn.functional as F

from danlu.losses.base import LossFunctionWrapper, float_inputs

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


def elementwise_binary_crossentropy(y_true, y_pred, from_logits):
    """``-(y log p + (1 - y) log(1 - p))`` per element, ``p`` clipped (or from logits)."""
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    return F.binary_cross_entropy(y_pred.clamp(EPSILON, 1.0 - EPSILON), y_true, reduction="none")


def warn_single_class(y_pred, loss_name):
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            f"In {loss_name}, y_pred has shape {tuple(y_pred.shape)}: one class. Expected "
            "(batch_size, num_classes) with num_classes > 1; use binary_crossentropy for two "
            "classes given as one probability.",
            SyntaxWarning,
            stacklevel=3,
        )


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean(-(y log p + (1 - y) log(1 - p)), axis)`` with ``p = clip(y_pred, eps, 1 - eps)``
    (or ``sigmoid(y_pred)`` computed stably when ``from_logits``)."""
    check_label_smoothing(label_smoothing)
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred)
    check_same_shape(y_true, y_pred, "binary_crossentropy")
    y_true = smooth_binary_labels(y_true, label_smoothing)
    return elementwise_binary_crossentropy(y_true, y_pred, from_logits).mean(dim=axis)


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


_LABELS_PRECHECKED = contextvars.ContextVar("danlu_labels_prechecked", default=False)


@contextlib.contextmanager
def labels_prechecked():
    """Within this block `class_indices` skips its value checks: the trainer uses it after
    validating every in-memory label once, so that no step pays for the checks again."""
    token = _LABELS_PRECHECKED.set(True)
    try:
        yield
    finally:
        _LABELS_PRECHECKED.reset(token)


def class_indices(y_true, num_classes, ignore_class=None, argument="y_true"):
    """Validate sparse labels and return them as ``int64``.

    Integer tensors are taken as they are; floating labels must hold whole numbers (Keras
    casts every label to float32, so ``[0., 2.]`` is accepted). Values must lie in
    ``[0, num_classes)``, except positions equal to ``ignore_class``. The value checks read
    the labels, so they run where that is free: on CPU tensors. On an accelerator an
    out-of-range label is caught by PyTorch's own device-side check instead.
    """
    if y_true.dtype == torch.bool or y_true.is_complex():
        raise TypeError(f"{argument} must hold integer class indices; received dtype {y_true.dtype}.")
    if y_true.device.type == "cpu" and y_true.numel() and not _LABELS_PRECHECKED.get():
        values = y_true.detach()
        if ignore_class is not None:
            values = values[values != ignore_class]
        if values.is_floating_point() and not torch.equal(values, values.round()):
            bad = values[values != values.round()][0].item()
            raise ValueError(
                f"{argument} must hold integer class indices for a sparse crossentropy; "
                f"received a non-integer label {bad!r} (dtype {y_true.dtype}). Use "
                "categorical_crossentropy for one-hot or soft labels."
            )
        if values.numel() and (values.min() < 0 or values.max() >= num_classes):
            bad = values[(values < 0) | (values >= num_classes)][0].item()
            raise ValueError(
                f"{argument} holds the class index {bad!r}, outside [0, {num_classes}) for "
                f"predictions of {num_classes} classes"
                + (f" (ignore_class={ignore_class!r} is skipped)." if ignore_class is not None else ".")
            )
    return y_true.long()


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """``-log p[y]`` with ``y`` an integer class index per sample and ``p`` the clipped,
    normalized probabilities (or ``log_softmax(y_pred)`` when ``from_logits``).

    Positions whose label equals ``ignore_class`` get loss 0; the `SparseCategoricalCrossentropy`
    class also leaves them out of the mean.
    """
    check_axis(axis)
    y_true, y_pred = float_inputs(y_true, y_pred, keep_integer_labels=True)
    if y_pred.ndim < 1:
        raise ValueError("sparse_categorical_crossentropy needs y_pred of rank >= 1; received a scalar.")
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    class_axis = axis % y_pred.ndim
    expected = y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1 :]
    if y_true.shape != expected:
        raise ValueError(
            "sparse_categorical_crossentropy needs one integer label per prediction row: "
            f"y_true.shape={tuple(y_true.shape)} should be {tuple(expected)} for "
            f"y_pred.shape={tuple(y_pred.shape)} (classes on axis {axis})."
        )
    labels = class_indices(y_true, y_pred.shape[class_axis], ignore_class)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = torch.where(valid, labels, 0)
        # Ignored rows are replaced by a harmless constant; their loss is zeroed below.
        y_pred = torch.where(valid.unsqueeze(class_axis), y_pred, torch.ones_like(y_pred))
    if y_pred.ndim == 1:
        y_pred, labels = y_pred.unsqueeze(0), labels.unsqueeze(0)
    elif class_axis != 1:
        y_pred = y_pred.movedim(class_axis, 1)
    if from_logits:
        result = F.cross_entropy(y_pred, labels, reduction="none")
    else:
        result = F.nll_loss(clipped_probabilities(y_pred, 1).log(), labels, reduction="none")
    result = result.reshape(expected)
    if valid is not None:
        result = torch.where(valid, result, torch.zeros_like(result))
    return result


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


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between integer class labels and class probabilities (or logits).

    Args: ``from_logits=False``, ``ignore_class=None`` (a label value whose positions are
    masked out: loss 0 and left out of the mean, e.g. padding or a segmentation "void"),
    ``reduction``, ``axis=-1``, ``name="sparse_categorical_crossentropy"``, ``dtype``.
    """

    integer_labels = True

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        check_axis(axis)
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, int)):
            raise TypeError(f"ignore_class must be an int or None; received ignore_class={ignore_class!r}.")
        super().__init__(
            sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
            from_logits=from_logits, ignore_class=ignore_class, axis=axis,
        )

    def forward(self, y_true, y_pred, sample_weight=None):
        fused = self._fused(y_true, y_pred, sample_weight)
        return fused if fused is not None else super().forward(y_true, y_pred, sample_weight)

    def _fused(self, y_true, y_pred, sample_weight):
        """The common case as one PyTorch kernel with its own reduction: float32/64 scores of
        shape (batch, classes), integer labels (batch,), no weights, no ignore_class, a mean or
        sum reduction. The same numbers as the general path, to float32 round-off."""
        kwargs = self.fn_kwargs
        if (
            sample_weight is not None or kwargs["ignore_class"] is not None
            or self.reduction not in ("sum_over_batch_size", "mean", "sum")
            or not isinstance(y_pred, torch.Tensor) or not isinstance(y_true, torch.Tensor)
            or y_pred.ndim != 2 or y_true.ndim != 1 or y_true.is_floating_point() or y_true.dtype == torch.bool
            or y_pred.dtype not in (torch.float32, torch.float64) or self.dtype not in (None, y_pred.dtype)
            or kwargs["axis"] not in (-1, 1) or y_true.shape[0] != y_pred.shape[0] or y_pred.shape[0] == 0
        ):
            return None
        labels = class_indices(y_true.to(y_pred.device), y_pred.shape[1])
        reduction = "sum" if self.reduction == "sum" else "mean"
        if kwargs["from_logits"]:
            return F.cross_entropy(y_pred, labels, reduction=reduction)
        return F.nll_loss(clipped_probabilities(y_pred, 1).log(), labels, reduction=reduction)

    def compute_mask(self, y_true, y_pred, values):
        ignore_class = self.fn_kwargs["ignore_class"]
        if ignore_class is None:
            return None
        return (y_true != ignore_class).reshape(values.shape)
