"""Probabilistic metrics: the weighted mean over samples of a crossentropy, the KL divergence
or the Poisson loss, each the per-sample value of the danlu loss function of that name.

Keras' defaults: ``dtype=None`` (float32), ``from_logits=False``, ``label_smoothing=0``,
``axis=-1``, ``ignore_class=None``; the name is the snake-case class name.
"""

from __future__ import annotations

import torch

from danlu import losses
from danlu._tensors import as_tensor
from danlu.losses.base import align_sample_weight
from danlu.metrics.reduction import Mean, MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """``mean_last_axis(-(y log p + (1 - y) log(1 - p)))`` with ``p`` clipped to [1e-7, 1 - 1e-7]
    (``from_logits``: computed from logits), labels smoothed by ``label_smoothing``."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """``-sum(y log p)`` over ``axis`` for one-hot ``y`` (``p`` normalized and clipped; or
    ``log_softmax`` of logits), labels smoothed by ``label_smoothing``."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """``-log p[y]`` for integer labels ``y``, averaged over the samples whose label is not
    ``ignore_class``: the ignored samples add neither to the sum nor to the weight total.

    Keras 3.15 leaves them out of the denominator only when ``sample_weight`` is given (its
    mask reaches ``Mean`` through the weights); without weights it divides by every sample,
    ignored ones included, which dilutes the mean by the share of ignored labels. danlu
    leaves them out in both cases, as Keras' own loss of the same name does."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None:
            return super().update_state(y_true, y_pred, sample_weight)
        y_pred = as_tensor(y_pred).detach()
        y_true = as_tensor(y_true, device=y_pred.device).detach()
        with torch.no_grad():
            values = self.fn(y_true, y_pred, **self.fn_kwargs)
        labels = y_true.squeeze(self.axis) if y_true.ndim == y_pred.ndim and y_true.shape[self.axis] == 1 else y_true
        valid = (labels != self.ignore_class).to(self._dtype).reshape(values.shape)
        if sample_weight is None:
            weight = valid
        else:
            weight = as_tensor(sample_weight, device=values.device).detach().to(self._dtype)
            values, weight = align_sample_weight(values, weight)
            weight = torch.broadcast_to(weight, values.shape) * valid.reshape(values.shape)
        Mean.update_state(self, values, weight)


class KLDivergence(MeanMetricWrapper):
    """``sum_last_axis(y log(y / p))`` with ``y`` and ``p`` clipped to [1e-7, 1]."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(losses.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """``mean_last_axis(p - y log(p + 1e-7))``."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(losses.poisson, name=name, dtype=dtype)
