"""Integer class labels (sparse crossentropy, generalized crossentropy, CTC): validation.

A label is checked where that is free, on CPU tensors, once per batch; a caller that has
validated every label up front (`Loss.check_labels`) turns the per-batch checks off for one
loss with `Loss.labels_checked`. On an accelerator an out-of-range label is caught by
PyTorch's own device-side check instead.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch


def check_class_indices(labels: torch.Tensor, num_classes: int, ignore_class=None, argument="y_true"):
    """Raise unless every label is a whole number in ``[0, num_classes)``; positions equal to
    ``ignore_class`` may hold anything. Reads the values (a host sync on an accelerator).

    Floating labels are accepted when they hold whole numbers: Keras casts every label to
    float32, so ``[0., 2.]`` is valid there too.
    """
    if labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"{argument} must hold integer class indices; received dtype {labels.dtype}.")
    values = labels.detach() if labels.requires_grad else labels
    if ignore_class is not None:
        values = values[values != ignore_class]
    if not values.numel():
        return
    if values.is_floating_point() and not torch.equal(values, values.round()):
        bad = values[values != values.round()][0].item()
        raise ValueError(
            f"{argument} must hold integer class indices for a sparse crossentropy; received a "
            f"non-integer label {bad!r} (dtype {labels.dtype}). Use categorical_crossentropy for "
            "one-hot or soft labels."
        )
    low, high = torch.aminmax(values)
    if low.item() < 0 or high.item() >= num_classes:
        bad = values[(values < 0) | (values >= num_classes)][0].item()
        raise ValueError(
            f"{argument} holds the class index {bad!r}, outside [0, {num_classes}) for predictions "
            f"of {num_classes} classes"
            + (f" (ignore_class={ignore_class!r} is skipped)." if ignore_class is not None else ".")
        )


def class_indices(y_true, num_classes, ignore_class=None, argument="y_true", validate=True):
    """``y_true`` as ``int64`` class indices, its values checked (on CPU tensors, when
    ``validate``) by `check_class_indices`. Boolean and complex labels are refused."""
    if y_true.dtype == torch.bool or y_true.is_complex():
        raise TypeError(f"{argument} must hold integer class indices; received dtype {y_true.dtype}.")
    if validate and y_true.device.type == "cpu" and y_true.numel() and not _LABELS_PRECHECKED.get():
        check_class_indices(y_true, num_classes, ignore_class, argument)
    return y_true.long()


# --- Transitional: the trainer's former module-wide switch ---------------------------------
# `Loss.labels_checked()` replaces it (per loss instance, no global state). Kept only until the
# trainer moves to the new interface; then this block goes.

_LABELS_PRECHECKED = contextvars.ContextVar("danlu_labels_prechecked", default=False)


@contextlib.contextmanager
def labels_prechecked():
    """Within this block `class_indices` skips its value checks, for every loss. Deprecated:
    use ``with loss.labels_checked():`` after ``loss.check_labels(y, y_pred)``."""
    token = _LABELS_PRECHECKED.set(True)
    try:
        yield
    finally:
        _LABELS_PRECHECKED.reset(token)
