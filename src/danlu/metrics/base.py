"""The `Metric` base and the reduction metrics (`Mean`, `Sum`, `MeanMetricWrapper`).

State lives in tensors on the device of the first update and is only read back when
``result()`` is converted to a number: no host synchronization per update.
"""

from __future__ import annotations

import torch

from danlu._identifiers import snake_case
from danlu._tensors import as_tensor
from danlu.losses.base import squeeze_or_expand_to_same_rank


class Metric:
    """Base class: ``update_state(...)`` accumulates, ``result()`` reads, ``reset_state()``
    clears; calling the metric updates and returns the result.

    A complete subclass::

        class CountPositives(Metric):
            def __init__(self, name="count_positives"):
                super().__init__(name=name)
                self.count = self.add_state("count")

            def update_state(self, y_true, y_pred, sample_weight=None):
                self.count += (as_tensor(y_pred) > 0).sum()

            def result(self):
                return self.count
    """

    #: "up" when larger is better (accuracy), "down" when smaller is (errors).
    direction = "down"

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype or torch.float32
        self._states: dict[str, torch.Tensor] = {}

    def add_state(self, name, shape=(), initial=0.0):
        """A state tensor, created on CPU and moved with the first update's device."""
        value = torch.full(tuple(shape), float(initial), dtype=self.dtype)
        self._states[name] = value
        self._initial = getattr(self, "_initial", {})
        self._initial[name] = float(initial)
        return value

    def __setattr__(self, name, value):
        states = self.__dict__.get("_states")
        if states is not None and name in states and isinstance(value, torch.Tensor):
            states[name] = value
        object.__setattr__(self, name, value)

    def _to_device(self, device):
        """Move every state tensor to ``device`` (once, on the first update there)."""
        for name, value in self._states.items():
            if value.device != device:
                setattr(self, name, value.to(device))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result.")

    def reset_state(self):
        for name, value in self._states.items():
            value.fill_(self._initial[name])

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    @property
    def variables(self):
        return list(self._states.values())

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """Keras' reduction of per-element values and weights to one value per sample."""
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


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_state("total")

    def update_state(self, values, sample_weight=None):
        values = as_tensor(values)
        self._to_device(values.device)
        values, _ = reduce_to_samplewise_values(values, sample_weight, torch.sum, self.dtype)
        self.total += values.sum()

    def result(self):
        return self.total.clone()


class Mean(Metric):
    """The (weighted) mean of the values seen: ``sum(w v) / sum(w)`` (0 before any value)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_state("total")
        self.count = self.add_state("count")

    def update_state(self, values, sample_weight=None):
        values = as_tensor(values)
        self._to_device(values.device)
        if sample_weight is None and values.ndim == 0:  # the fast path: a scalar, e.g. a loss
            self.total += values.detach().to(self.dtype)
            self.count += 1
            return
        values, sample_weight = reduce_to_samplewise_values(values.detach(), sample_weight, torch.mean, self.dtype)
        self.total += values.sum()
        if sample_weight is not None:
            self.count += sample_weight.sum()
        else:
            self.count += values.shape[0] if values.ndim else 1

    def result(self):
        return torch.where(self.count == 0, torch.zeros_like(self.total), self.total / torch.where(self.count == 0, 1.0, self.count))


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` over samples (how Keras turns a loss
    function or an accuracy function into a metric)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self.fn = fn
        self.fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            values = self.fn(y_true, y_pred, **self.fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return {"name": self.name, **self.fn_kwargs}
