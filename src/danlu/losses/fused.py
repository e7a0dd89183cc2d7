"""Fused forms: a loss reduced by PyTorch's own kernels (``F.cross_entropy``,
``F.mse_loss``, ...) in one call, instead of per-sample values reduced afterwards.

A per-sample loss function declares its fused form with `loss_function`; `Loss.forward`
asks it in the common case (tensor inputs, a float32 / float64 loss, at least one value) as
``form(y_true, y_pred, reduction, **fn_kwargs)``, ``reduction`` one of:

- ``"mean"``: Keras' ``"sum_over_batch_size"``, the sum of the per-sample values over their
  number (over the unmasked ones when the function masks; 0 when none is unmasked);
- ``"sum"``: the sum of the per-sample values;
- ``"none"``: the per-sample values, which the base then weights and reduces.

A form returns ``None`` for inputs it does not cover (shapes that differ, a ``delta`` of 0,
...), which then take the per-sample path with its error messages. Equal results are
Keras' results: Keras' clipping of probabilities at ``1e-7`` and its label smoothing happen
before the kernel; each form is tested against the per-sample path and against Keras.
Keras' per-sample value of an elementwise loss is a mean over the last axis, so its
``"sum_over_batch_size"`` is the mean over every element (what ``reduction="mean"`` of the
kernel gives) and its ``"sum"`` the kernel's sum over the size of that axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from danlu.losses.reduction import squeeze_or_expand_to_same_rank


@dataclass(frozen=True)
class Declaration:
    """What a per-sample loss function offers `LossFunctionWrapper` (all optional):

    - ``fused(y_true, y_pred, reduction, **kwargs)``: its fused form (see the module);
    - ``labels``: ``"integers"`` (``y_true`` keeps an integer dtype) or ``"class_indices"``
      (integers in ``[0, num_classes)``, validated; the function then takes
      ``validate_labels=False`` to skip the check for labels already validated);
    - ``mask(y_true, y_pred, values, **kwargs)``: the values that count (Keras' mask);
    - ``kernel(reduction, **kwargs)``: ``fused`` specialised once to one configuration, a
      function ``(y_true, y_pred) -> loss`` (or ``None`` when nothing is gained for that
      configuration); it takes the inputs ``fused`` takes, gives its results bit for bit,
      and may hand inputs outside its case to ``fused`` itself.
    """

    fused: Callable | None = None
    labels: str | None = None
    mask: Callable | None = None
    kernel: Callable | None = None


NOTHING_DECLARED = Declaration()


def loss_function(fused=None, labels=None, mask=None, kernel=None):
    """Decorator: attach a `Declaration` to a per-sample loss function."""

    def declare(fn):
        fn._danlu_loss = Declaration(fused, labels, mask, kernel)
        return fn

    return declare


def declaration(fn) -> Declaration:
    """What ``fn`` declared with `loss_function` (nothing, for any other callable)."""
    return getattr(fn, "_danlu_loss", NOTHING_DECLARED)


def common_case_kernel(fn, reduction, kwargs, labels_prechecked=False):
    """The function ``(y_true, y_pred) -> loss`` that `Loss` resolves once for its common
    case (no ``sample_weight``, tensors on one device in the loss's dtype): ``fn``'s declared
    ``kernel`` for this configuration, else its ``fused`` form with the arguments bound
    (``validate_labels=False`` added for class indices already checked), or ``None`` when
    ``fn`` declares no fused form.

    ``kwargs`` is the live ``fn_kwargs`` mapping: a copy is bound, and the kernel returns
    ``None`` (the general path, which reads the live mapping) once it is changed in place."""
    declared = declaration(fn)
    form = declared.fused
    if form is None:
        return None
    snapshot = dict(kwargs)
    bound = dict(snapshot)
    if labels_prechecked and declared.labels == "class_indices":
        bound["validate_labels"] = False
    specialised = declared.kernel(reduction, **bound) if declared.kernel is not None else None
    if specialised is None:
        def specialised(y_true, y_pred):
            return form(y_true, y_pred, reduction, **bound)

    def kernel(y_true, y_pred):
        if kwargs != snapshot:  # changed in place since it was resolved: the general path
            return None
        return specialised(y_true, y_pred)

    return kernel


def mean_over_axis(kernel, y_true, y_pred, reduction, axis=-1, **kernel_kwargs):
    """Fused form of ``mean(kernel(y_pred, y_true), axis)`` per sample, for ``kernel`` an
    elementwise PyTorch loss taking ``reduction=`` (``F.mse_loss``, ``F.l1_loss``, ...).

    Keras' rank alignment first; ``None`` unless the shapes then agree.
    """
    if y_true.shape != y_pred.shape:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            return None
    if axis != -1 and not -y_pred.ndim <= axis < y_pred.ndim:
        return None
    if reduction == "none":
        return kernel(y_pred, y_true, reduction="none", **kernel_kwargs).mean(dim=axis)
    value = kernel(y_pred, y_true, reduction=reduction, **kernel_kwargs)
    return value / y_pred.shape[axis] if reduction == "sum" else value


def classes_on_dim_1(x, class_axis):
    """``x`` laid out as PyTorch's crossentropy kernels want it, classes on dim 1: ``x``
    itself when they are on axis 1, a ``(rows, classes)`` view when they are the last axis
    (targets of class indices then flatten to ``(rows,)``), else a contiguous
    ``x.movedim(class_axis, 1)`` (``F.nll_loss``'s backward refuses strided 4-D inputs). The
    kernels' unreduced output reshapes to ``x``'s shape without the class axis."""
    if class_axis == 1:
        return x
    if class_axis == x.ndim - 1:
        return x.reshape(-1, x.shape[-1])
    return x.movedim(class_axis, 1).contiguous()


def class_axis_of(y_pred, axis):
    """``axis`` as a non-negative index when ``y_pred`` has one per-sample value per row
    (rank >= 2) and ``axis`` is in range, else ``None``."""
    if y_pred.ndim < 2 or not -y_pred.ndim <= axis < y_pred.ndim:
        return None
    return axis % y_pred.ndim
