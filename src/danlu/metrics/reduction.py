"""The reduction metrics: `Sum`, `Mean` and `MeanMetricWrapper` (a function's mean)."""

from __future__ import annotations

import torch

from danlu._tensors import as_tensor
from danlu.losses.base import squeeze_or_expand_to_same_rank
from danlu.metrics.metric import Metric


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Keras' reduction of per-element ``values`` and weights to one value per sample.

    Values and weights are cast to ``dtype``; Keras' rank alignment (squeeze or expand by a
    trailing size-1 axis); values with more axes than the weight are reduced (``reduce_fn``)
    over the extra trailing axes; the weight is broadcast and multiplied in, then reduced over
    its own non-batch axes. Returns ``(values, weights)`` with one entry per sample."""
    values = values.to(dtype)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, dtype=dtype, device=values.device)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = reduce_fn(values, dim=list(range(weight_ndim, values_ndim)))
        sample_weight = torch.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, dim=list(range(1, weight_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, dim=list(range(1, values.ndim)))
    return values, sample_weight


_SAMPLE_COUNTS: dict = {}
_EXACT_COUNT_DTYPES = (torch.float32, torch.float64, torch.int32, torch.int64)


def sample_count(n: int, count: torch.Tensor):
    """What to add to a ``count`` variable for ``n`` samples: a cached 0-d tensor of its dtype
    and device (adding a tensor costs one kernel; adding a Python number also wraps it in a new
    tensor, every step), or ``n`` itself where a tensor of ``count``'s dtype would round it
    (half precision: a kernel that adds the number in float32 would then give another sum)."""
    key = (n, count.dtype, count.device)
    constant = _SAMPLE_COUNTS.get(key)
    if constant is None:
        if len(_SAMPLE_COUNTS) >= 1024:  # batch sizes are few; bound the cache all the same
            _SAMPLE_COUNTS.clear()
        exact = count.dtype in _EXACT_COUNT_DTYPES and abs(n) < 2**24
        constant = _SAMPLE_COUNTS[key] = torch.tensor(n, dtype=count.dtype, device=count.device) if exact else n
    return constant


def divide_no_nan(numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0 (Keras' ``divide_no_nan``)."""
    zero = denominator == 0
    return torch.where(zero, 0.0, numerator / torch.where(zero, 1.0, denominator))


class Sum(Metric):
    """The (weighted) sum of the values seen: ``total = sum_i w_i v_i``.

    One variable, ``total`` (Keras' name). Keras: ``name="sum"``, ``dtype=None`` (float32)."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype=self._dtype, name="total")

    def update_state(self, values, sample_weight=None):
        values = as_tensor(values).detach()
        self._to_device(values.device)
        values, _ = reduce_to_samplewise_values(values, sample_weight, torch.sum, self._dtype)
        self.total += values.sum()

    def result(self):
        return self.total.detach().clone()


class Mean(Metric):
    """The (weighted) mean of the values seen: ``total / count`` with ``total = sum_i w_i v_i``
    and ``count = sum_i w_i`` (0 while ``count`` is 0).

    Values with more axes than the weight are first averaged over the extra axes (Keras'
    ``reduce_to_samplewise_values``). Variables ``total`` and ``count`` (Keras' names), both
    of the metric's dtype. Keras: ``name="mean"``, ``dtype=None`` (float32).

    ``result()`` has the metric's dtype. Keras 3.15 returns float32 from a ``dtype="float64"``
    Mean (and every metric built on it: accuracies, errors, crossentropies), because its
    ``divide_no_nan`` promotes to floatx; danlu returns float64, which is what ``dtype`` asks."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype=self._dtype, name="total")
        self.count = self.add_variable((), "zeros", dtype=self._dtype, name="count")

    def update_state(self, values, sample_weight=None):
        values = as_tensor(values).detach()
        self._to_device(values.device)
        total, count = self.__dict__["total"], self.__dict__["count"]  # in place: the variables stay
        if sample_weight is None and values.ndim <= 1:  # the fast path: a scalar or one value per sample
            value = values.sum() if values.ndim else values
            total.add_(value if value.dtype == total.dtype else value.to(total.dtype))
            count.add_(sample_count(values.shape[0] if values.ndim else 1, count))
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, torch.mean, self._dtype)
        total.add_(values.sum())
        count.add_(sample_weight.sum() if sample_weight is not None else (values.shape[0] if values.ndim else 1))

    def result(self):
        return divide_no_nan(self.total.detach(), self.count.detach())


_MEAN_UPDATE = getattr(Mean.update_state, "__wrapped__", Mean.update_state)


class MeanMetricWrapper(Mean):
    """The weighted mean over samples of ``fn(y_true, y_pred, **kwargs)`` (how Keras turns a
    loss or accuracy function into a metric): `Mean` of the per-sample values.

    ``get_config()`` holds ``fn`` (its name when danlu.metrics or danlu.losses has a function
    of that name, so that the config is JSON) and the keyword arguments."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if isinstance(fn, str):
            fn = _function_by_name(fn)
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        if isinstance(y_pred, torch.Tensor) and y_pred.requires_grad:
            with torch.no_grad():
                values = self.fn(y_true, y_pred, **self.fn_kwargs)
        else:  # the trainer passes detached predictions: no autograd context to enter per step
            values = self.fn(y_true, y_pred, **self.fn_kwargs)
        _MEAN_UPDATE(self, values, sample_weight)  # shapes are reported once, by this method

    def get_config(self):
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            name = getattr(self.fn, "__name__", None)
            config["fn"] = name if name and _function_by_name(name, strict=False) is self.fn else self.fn
        return {**config, **self.fn_kwargs}


def _function_by_name(name, strict=True):
    from danlu import losses, metrics

    for module in (metrics, losses):
        fn = getattr(module, name, None)
        if callable(fn) and not isinstance(fn, type):
            return fn
    if strict:
        raise ValueError(
            f"Unknown metric function fn={name!r}: danlu.metrics and danlu.losses have no function of that name."
        )
    return None
