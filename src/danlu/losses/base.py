"""The `Loss` base class: input conversion, masking, `sample_weight` and reduction, once.

A loss subclass writes only ``call(y_true, y_pred)``, returning one value per sample (or per
time step); everything else lives here.
"""

from __future__ import annotations

import torch

from danlu._identifiers import closest_name_hint, snake_case
from danlu._tensors import as_tensor

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


def compute_dtype(y_pred: torch.Tensor, dtype: torch.dtype | None = None) -> torch.dtype:
    """float32, or float64 when the predictions are float64; ``dtype`` when one is given.

    Keras computes every loss in ``floatx`` (float32): float16 and bfloat16 predictions are
    upcast. danlu keeps float64 predictions in float64 instead of rounding them down.
    """
    if dtype is not None:
        return dtype
    return torch.float64 if y_pred.dtype == torch.float64 else torch.float32


def float_inputs(y_true, y_pred, dtype: torch.dtype | None = None, keep_integer_labels=False):
    """Convert both inputs to tensors of the compute dtype on ``y_pred``'s device.

    With ``keep_integer_labels``, integer ``y_true`` (class indices) keeps its dtype.
    """
    y_pred = as_tensor(y_pred)
    y_pred = y_pred.to(compute_dtype(y_pred, dtype))
    y_true = as_tensor(y_true, device=y_pred.device)
    if not (keep_integer_labels and not y_true.is_floating_point()):
        y_true = y_true.to(y_pred.dtype)
    return y_true, y_pred


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
            float_mask, weights = squeeze_or_expand_to_same_rank(float_mask, weights)
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


class Loss(torch.nn.Module):
    """Base class of every danlu loss: a ``torch.nn.Module`` called as
    ``loss(y_true, y_pred, sample_weight=None)``.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values; this class
    converts the inputs (tensors, numpy arrays, lists or scalars; float16 / bfloat16 computed
    in float32), applies ``sample_weight`` and reduces (see `reduce_weighted_values`).

    Args:
        reduction: ``"sum_over_batch_size"`` (default; ``"auto"`` accepted), ``"sum"``,
            ``"mean"``, ``"mean_with_sample_weight"``, ``"none"`` or ``None``.
        name: defaults to the class name in snake case.
        dtype: the compute dtype; ``None`` means float32 (float64 for float64 predictions).

    A complete subclass::

        class FocalLoss(danlu.losses.Loss):
            def __init__(self, alpha=0.75, gamma=2.0, **kwargs):
                super().__init__(**kwargs)
                self.alpha, self.gamma = alpha, gamma

            def call(self, y_true, y_pred):
                p = y_pred.clamp(1e-7, 1 - 1e-7)
                p_t = torch.where(y_true == 1, p, 1 - p)
                alpha_t = torch.where(y_true == 1, self.alpha, 1 - self.alpha)
                return (-alpha_t * (1 - p_t) ** self.gamma * p_t.log()).mean(-1)

            def get_config(self):
                return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}
    """

    #: Subclasses that take integer class labels set this so ``y_true`` keeps its dtype.
    integer_labels = False

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__()
        self.reduction = standardize_reduction(reduction)
        self.name = name or snake_case(type(self).__name__)
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype or None; received dtype={dtype!r}.")
        self.dtype = dtype

    def forward(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = float_inputs(y_true, y_pred, self.dtype, self.integer_labels)
        values = self.call(y_true, y_pred)
        mask = self.compute_mask(y_true, y_pred, values)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true, y_pred):
        """Return per-sample loss values. Subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def compute_mask(self, y_true, y_pred, values):
        """A boolean mask of the values that count, or ``None`` (all count)."""
        return None

    def get_config(self) -> dict:
        config = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            config["dtype"] = str(self.dtype).removeprefix("torch.")
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if isinstance(config.get("dtype"), str):
            config["dtype"] = getattr(torch, config["dtype"])
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())


class LossFunctionWrapper(Loss):
    """A `Loss` over a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Keras' rank alignment (`squeeze_or_expand_to_same_rank`) is applied before ``fn``, so
    labels of shape ``(B,)`` and predictions of shape ``(B, 1)`` line up.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"fn must be callable; received fn={fn!r}.")
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", None), dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if not self.integer_labels:
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self.fn_kwargs)
        if type(self) is LossFunctionWrapper:
            config["fn"] = self.fn.__name__
        return config

    @classmethod
    def from_config(cls, config: dict):
        if cls is LossFunctionWrapper and isinstance(config.get("fn"), str):
            from danlu.losses import get

            config = {**config, "fn": get(config["fn"])}
        return super().from_config(config)
