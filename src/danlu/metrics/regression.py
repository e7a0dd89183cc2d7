"""Regression metrics: mean errors over samples (the loss functions' per-sample values),
`RootMeanSquaredError`, `CosineSimilarity`, `LogCoshError` and `R2Score`.

Each error metric is the weighted mean over samples of ``fn(y_true, y_pred)``, the per-sample
value of the danlu loss of the same name (mean over the last axis); Keras' defaults:
``dtype=None`` (float32) and the snake-case class name as ``name``.
"""

from __future__ import annotations

import warnings

import torch

from danlu import losses
from danlu._tensors import as_tensor
from danlu.losses.base import float_inputs, squeeze_or_expand_to_same_rank
from danlu.metrics.metric import Metric
from danlu.metrics.reduction import Mean, MeanMetricWrapper

CLASS_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class MeanSquaredError(MeanMetricWrapper):
    """``mean_samples(mean_last_axis((y_pred - y_true)^2))``."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """``mean_samples(mean_last_axis(|y_pred - y_true|))``."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """``100 mean(|y_true - y_pred| / max(|y_true|, eps))`` (eps = 1e-7)."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2)`` (eps = 1e-7)."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    """``mean(log(cosh(y_pred - y_true)))``. Keras' default name: "logcosh"."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


def _cosine(y_true, y_pred, axis=-1):
    return -losses.cosine_similarity(y_true, y_pred, axis)


class CosineSimilarity(MeanMetricWrapper):
    """Mean over samples of ``sum(l2_normalize(y_true) * l2_normalize(y_pred))`` along
    ``axis`` (1 for vectors pointing the same way). Keras' defaults: ``axis=-1``.

    Keras' ``get_config()`` leaves ``axis`` out, so a metric with ``axis=0`` comes back from
    its config with ``axis=-1``; danlu's config keeps ``axis`` (one key more than Keras')."""

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine, name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """``sqrt(sum w (y_pred - y_true)^2 / sum w)`` over every value seen (`Mean` of the
    squared errors, then the root). Variables ``total``, ``count``."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred).detach().to(self._dtype)
        y_true = as_tensor(y_true, device=y_pred.device).detach().to(self._dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self):
        return super().result().sqrt()


class R2Score(Metric):
    """Coefficient of determination per output column ``c`` over all samples seen:

        R2_c = 1 - SS_res,c / SS_tot,c,   SS_res,c = sum w (y - y_hat)^2,
        SS_tot,c = sum w y^2 - (sum w y)^2 / sum w

    (an infinite R2_c, from SS_tot = 0, counts as 0), then ``class_aggregation``:
    "uniform_average" (the mean over columns, Keras' default), "variance_weighted_average"
    (weighted by SS_tot) or None (one value per column). ``num_regressors = p > 0`` gives the
    adjusted score ``1 - (1 - R2)(n - 1) / (n - p - 1)`` with n the number of values seen
    (a warning and the plain score when ``p >= n - 1``). Inputs are 2-D ``(batch, outputs)``.

    Keras' defaults: ``class_aggregation="uniform_average"``, ``num_regressors=0``,
    ``name="r2_score"``. Variables in Keras' order: ``num_samples``, then (built from the
    first batch) ``squared_sum``, ``sum``, ``residual``, ``count``; float32, summed over
    replicas."""

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in CLASS_AGGREGATIONS:
            raise ValueError(
                f"Invalid value for argument `class_aggregation`. Expected one of {CLASS_AGGREGATIONS}. "
                f"Received: class_aggregation={class_aggregation!r}"
            )
        if num_regressors < 0:
            raise ValueError(
                "Invalid value for argument `num_regressors`. Expected a value >= 0. "
                f"Received: num_regressors={num_regressors!r}"
            )
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                f"y_pred.shape={tuple(y_pred_shape)} and y_true.shape={tuple(y_true_shape)}."
            )
        columns = (int(y_pred_shape[-1]),)
        self.squared_sum = self.add_variable(columns, "zeros", name="squared_sum")
        self.sum = self.add_variable(columns, "zeros", name="sum")
        self.total_mse = self.add_variable(columns, "zeros", name="residual")
        self.count = self.add_variable(columns, "zeros", name="count")
        self._built = True

    def _build_from_state(self, state):
        shape = (0, *tuple(state["sum"].shape))
        self._build(shape, shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = float_inputs(y_true, y_pred, self._dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true.detach(), y_pred.detach())
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        self._to_device(y_pred.device)
        if sample_weight is None:
            weight = torch.ones((), dtype=self._dtype, device=y_pred.device)
        else:
            weight = as_tensor(sample_weight, device=y_pred.device).detach().to(self._dtype)
        if weight.ndim == 1:
            weight = weight.unsqueeze(1)
        weight = torch.broadcast_to(weight, y_true.shape).to(y_true.dtype)
        weighted = y_true * weight
        self.sum += weighted.sum(0)
        self.squared_sum += (y_true * weighted).sum(0)
        self.total_mse += ((y_true - y_pred) ** 2 * weight).sum(0)
        self.count += weight.sum(0)
        self.num_samples += y_true.numel()

    def result(self):
        if not self._built:
            return torch.zeros(())
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        raw = 1 - self.total_mse / total
        raw = torch.where(torch.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = float(self.num_samples), float(self.num_regressors)  # a read-back, only when asked
            if p >= n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score (or as many as n - 1): "
                              "falling back to the standard R2 score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return score.detach()

    def get_config(self):
        config = {"class_aggregation": self.class_aggregation, "num_regressors": self.num_regressors}
        return {**super().get_config(), **config}
