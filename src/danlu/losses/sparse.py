"""Sparse categorical crossentropy: crossentropy against integer class labels.

The per-sample value is ``-log p[y]``, ``p`` the clipped, normalized probabilities (see
`danlu.losses.crossentropy`) or ``log_softmax`` of logits. Labels are validated as class
indices (`danlu.losses.labels`); ``ignore_class`` masks positions out of the loss and out of
its mean, as Keras' mask does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu.losses.base import LossFunctionWrapper, float_inputs
from danlu.losses.crossentropy import check_axis, clipped_probabilities
from danlu.losses.fused import class_axis_of, classes_on_dim_1, loss_function
from danlu.losses.labels import check_class_indices, class_indices

#: ``ignore_index`` for no ignored class: PyTorch's kernels take an int, and no label is -2**63.
NOTHING_IGNORED = -(2**63)


def crossentropy_of_indices(labels, y_pred, class_axis, from_logits, ignore_class, reduction):
    """``F.cross_entropy`` (or ``F.nll_loss`` of the clipped log-probabilities) of ``int64``
    ``labels`` (``y_pred``'s shape without the class axis), reduced by the kernel;
    ``ignore_class`` is its ``ignore_index``, whose mean is Keras' masked mean."""
    values_shape = labels.shape
    scores = classes_on_dim_1(y_pred, class_axis)
    if scores.ndim != y_pred.ndim:  # flattened to (rows, classes)
        labels = labels.reshape(-1)
    ignore_index = NOTHING_IGNORED if ignore_class is None else ignore_class
    if ignore_class is not None:
        # Ignored rows become a harmless constant (they may be all zeros, or padding of inf):
        # their loss is 0 and no NaN reaches the gradient.
        scores = torch.where((labels != ignore_class).unsqueeze(1), scores, 1.0)
    if from_logits:
        kernel = F.cross_entropy
    else:
        scores, kernel = clipped_probabilities(scores, 1).log(), F.nll_loss
    if reduction == "none":
        return kernel(scores, labels, ignore_index=ignore_index, reduction="none").reshape(values_shape)
    if ignore_class is not None and reduction == "mean":  # 0, not NaN, when every label is ignored
        total = kernel(scores, labels, ignore_index=ignore_index, reduction="sum")
        return total / (labels != ignore_class).sum().clamp_min(1)
    return kernel(scores, labels, ignore_index=ignore_index, reduction=reduction)


def fused_sparse_crossentropy(
    y_true, y_pred, reduction, from_logits=False, ignore_class=None, axis=-1, validate_labels=True
):
    """`crossentropy_of_indices` reduced by the kernel, for scores of any rank >= 2.

    The range of integer labels is checked by the kernel itself, for free; its IndexError is
    then explained as the per-sample path does. Floating labels are checked up front (whole
    numbers), since the kernel would truncate them."""
    class_axis = class_axis_of(y_pred, axis)
    if class_axis is None:
        return None
    if y_true.ndim == y_pred.ndim and y_true.shape[class_axis] == 1:
        y_true = y_true.squeeze(class_axis)
    if y_true.shape != y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1 :]:
        return None
    num_classes = y_pred.shape[class_axis]
    labels = class_indices(y_true, num_classes, ignore_class, validate=validate_labels and y_true.is_floating_point())
    try:
        return crossentropy_of_indices(labels, y_pred, class_axis, from_logits, ignore_class, reduction)
    except IndexError:  # PyTorch's "Target 7 is out of bounds."
        check_class_indices(labels, num_classes, ignore_class)
        raise


def sparse_crossentropy_kernel(reduction, from_logits=False, ignore_class=None, axis=-1, validate_labels=True):
    """`fused_sparse_crossentropy` for one configuration without ``ignore_class``, classes on
    the last axis: ``(batch, classes)`` scores with ``(batch,)`` ``int64`` labels go straight
    to the kernel `crossentropy_of_indices` would call (the same call, the same numbers);
    other inputs take `fused_sparse_crossentropy`."""
    if ignore_class is not None or axis not in (-1, 1):
        return None

    def kernel(y_true, y_pred):
        if y_pred.ndim != 2 or y_true.dtype is not torch.int64 or y_true.ndim != 1 or y_true.shape[0] != y_pred.shape[0]:
            return fused_sparse_crossentropy(y_true, y_pred, reduction, from_logits, None, axis, validate_labels)
        try:
            if from_logits:
                return F.cross_entropy(y_pred, y_true, ignore_index=NOTHING_IGNORED, reduction=reduction)
            return F.nll_loss(clipped_probabilities(y_pred, 1).log(), y_true, ignore_index=NOTHING_IGNORED, reduction=reduction)
        except IndexError:  # PyTorch's "Target 7 is out of bounds."
            check_class_indices(y_true, y_pred.shape[1], None)
            raise

    return kernel


def ignored_positions(y_true, y_pred, values, ignore_class=None, **_):
    """Keras' mask: the positions whose label is not ``ignore_class``."""
    return None if ignore_class is None else (y_true != ignore_class).reshape(values.shape)


@loss_function(
    fused=fused_sparse_crossentropy, labels="class_indices", mask=ignored_positions, kernel=sparse_crossentropy_kernel
)
def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, ignore_class=None, axis=-1, *, validate_labels=True
):
    """``-log p[y]`` with ``y`` an integer class index per sample and ``p`` the clipped,
    normalized probabilities (or ``log_softmax(y_pred)`` when ``from_logits``).

    Positions whose label equals ``ignore_class`` get loss 0; the `SparseCategoricalCrossentropy`
    class (and any `LossFunctionWrapper` of this function) also leaves them out of the mean.
    ``validate_labels=False`` (danlu's addition) skips reading the label values, for labels
    validated already.
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
    labels = class_indices(y_true, y_pred.shape[class_axis], ignore_class, validate=validate_labels)
    if y_pred.ndim == 1:  # one row
        return crossentropy_of_indices(labels[None], y_pred[None], 1, from_logits, ignore_class, "none")[0]
    return crossentropy_of_indices(labels, y_pred, class_axis, from_logits, ignore_class, "none")


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy between integer class labels and class probabilities (or logits).

    Args: ``from_logits=False``, ``ignore_class=None`` (a label value whose positions are
    masked out: loss 0 and left out of the mean, e.g. padding or a segmentation "void"),
    ``reduction``, ``axis=-1``, ``name="sparse_categorical_crossentropy"``, ``dtype``.

    ``get_config`` keeps ``axis``, which Keras' leaves out (a restored loss would forget it).
    `check_labels` validates a whole label set once; within `labels_checked` the per-batch
    value checks are skipped.
    """

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
