"""Reduction of per-sample loss values: rank alignment, ``sample_weight``, masks, and the
reduction names (Keras 3's strings, and tf.keras' `Reduction` constants)."""

from __future__ import annotations

import torch

from danlu._identifiers import closest_name_hint
from danlu._tensors import as_tensor


class Reduction:
    """tf.keras' constants for ``reduction=`` (``tf.keras.losses.Reduction``); Keras 3 takes
    the plain strings, which are the values here.

    ``AUTO`` means ``SUM_OVER_BATCH_SIZE``. Keras 3 adds ``"mean"`` (the same as
    ``"sum_over_batch_size"``) and ``"mean_with_sample_weight"``, which have no constant.
    """

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction key {key!r}; expected one of {cls.all()}.")


REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction):
    """Validate ``reduction``; ``"auto"`` (tf.keras 2.x) means ``"sum_over_batch_size"``."""
    if reduction == "auto":
        return "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        names = [r for r in REDUCTIONS if r is not None]
        hint = closest_name_hint(reduction, names) if isinstance(reduction, str) else ""
        raise ValueError(
            f"Invalid reduction={reduction!r}.{hint} Expected one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)} (or 'auto')."
        )
    return reduction


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras' rank alignment: when ranks differ by one and the longer ends in a size-1 axis,
    squeeze that axis (or, for a rank-1 partner, expand the partner instead)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def align_sample_weight(values: torch.Tensor, sample_weight: torch.Tensor):
    """Shape ``sample_weight`` so that it multiplies ``values`` elementwise.

    Keras' rule first (rank differs by one with a trailing size-1 axis: squeeze or expand).
    Then a weight with fewer axes whose shape is the leading part of the values' shape is
    aligned to the batch (leading) axes: a per-sample weight of shape ``(B,)`` weights every
    time step of values ``(B, T)``. Keras 3 aligns trailing axes there instead, which fails
    or, when ``B == T``, weights the wrong axis; danlu does what the weight means.
    """
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    if (
        0 < sample_weight.ndim < values.ndim
        and tuple(sample_weight.shape) == tuple(values.shape[: sample_weight.ndim])
    ):
        sample_weight = sample_weight.reshape(
            tuple(sample_weight.shape) + (1,) * (values.ndim - sample_weight.ndim)
        )
    try:
        torch.broadcast_shapes(values.shape, sample_weight.shape)
    except RuntimeError:
        raise ValueError(
            f"sample_weight of shape {tuple(sample_weight.shape)} cannot be broadcast to the "
            f"per-sample losses of shape {tuple(values.shape)}. Pass one weight per sample "
            f"(shape {tuple(values.shape[:1])}) or a weight of the losses' shape."
        ) from None
    return values, sample_weight


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weight per-sample ``values`` by ``sample_weight`` and ``mask``, then reduce.

    With weights ``w`` (``sample_weight`` broadcast to the values, times the 0/1 mask):

    - ``"sum"``: ``sum(w * v)``
    - ``"sum_over_batch_size"`` / ``"mean"``: ``sum(w * v) / n``, ``n`` the number of values,
      or the number of unmasked values when a mask is given (Keras' mask rescaling)
    - ``"mean_with_sample_weight"``: ``sum(w * v) / sum(w)``, the weighted mean. Keras 3
      divides by the sum of the weight *as given* (a scalar weight 2 over 4 values divides by
      2, not 8); danlu divides by the sum of the broadcast weights, which is what the name says.
    - ``"none"`` / ``None``: ``w * v`` unreduced.

    A division by zero (all weights zero, nothing unmasked, an empty batch) gives 0, as
    Keras' ``divide_no_nan``. An empty batch reduces to a scalar 0 (Keras returns the empty
    tensor itself).
    """
    if sample_weight is None and mask is None and values.ndim and values.numel():
        if reduction in ("sum_over_batch_size", "mean"):  # the common case, without the general path
            return values.sum() / values.numel()
        if reduction == "sum":
            return values.sum()
    reduction = standardize_reduction(reduction)
    weights = None
    if sample_weight is not None:
        weights = as_tensor(sample_weight, dtype=values.dtype, device=values.device)
    if mask is not None:
        float_mask = mask.to(values.dtype)
        if weights is None:
            weights = float_mask
        else:
            float_mask, weights = align_sample_weight(float_mask, weights)
            weights = weights * float_mask
    if weights is not None:
        values, weights = align_sample_weight(values, weights)
        values = values * weights
    if reduction is None or reduction == "none" or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weights is not None:
        divisor = torch.broadcast_to(weights, values.shape).sum()
    elif mask is not None:
        divisor = mask.sum().to(values.dtype)
    else:
        divisor = values.numel()
        return total / divisor if divisor else torch.zeros((), dtype=values.dtype, device=values.device)
    safe = torch.where(divisor == 0, torch.ones_like(divisor), divisor)
    return torch.where(divisor == 0, torch.zeros_like(total), total / safe)
