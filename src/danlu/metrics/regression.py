"""Regression metrics: errors as means over samples, RMSE, R2 and the loss-based metrics."""

from __future__ import annotations

import warnings

import torch

from danlu import losses
from danlu._tensors import as_tensor
from danlu.losses.base import float_inputs, squeeze_or_expand_to_same_rank
from danlu.metrics.base import Mean, MeanMetricWrapper, Metric


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity (positive: 1 for vectors pointing the same way)."""

    direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(lambda t, p, axis: -losses.cosine_similarity(t, p, axis), name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """``sqrt(mean((y_pred - y_true)^2))`` over every value seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = float_inputs(y_true, y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state((y_pred - y_true).square(), sample_weight)

    def result(self):
        return super().result().sqrt()


class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output column, aggregated by
    ``class_aggregation`` ("uniform_average" (default), "variance_weighted_average" or None);
    ``num_regressors > 0`` gives the adjusted score."""

    direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(
                "class_aggregation must be None, 'uniform_average' or 'variance_weighted_average'; "
                f"received {class_aggregation!r}."
            )
        if num_regressors < 0:
            raise ValueError(f"num_regressors must be >= 0; received {num_regressors!r}.")
        super().__init__(name=name, dtype=dtype)
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_state("num_samples")
        self._built = False

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = float_inputs(y_true, y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(f"R2Score expects 2-D inputs (batch, outputs); received y_true {tuple(y_true.shape)}, y_pred {tuple(y_pred.shape)}.")
        if not self._built:
            columns = y_pred.shape[-1]
            for name in ("squared_sum", "sum", "total_mse", "count"):
                setattr(self, name, self.add_state(name, (columns,)))
            self._built = True
        self._to_device(y_pred.device)
        weight = torch.ones((), device=y_pred.device) if sample_weight is None else as_tensor(sample_weight, dtype=y_pred.dtype, device=y_pred.device)
        if weight.ndim == 1:
            weight = weight.unsqueeze(1)
        weight = torch.broadcast_to(weight, y_true.shape).to(y_true.dtype)
        weighted = y_true * weight
        self.sum += weighted.sum(0)
        self.squared_sum += (y_true * weighted).sum(0)
        self.total_mse += ((y_true - y_pred).square() * weight).sum(0)
        self.count += weight.sum(0)
        self.num_samples += y_true.numel()

    def result(self):
        if not self._built:
            return torch.zeros(())
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        raw = 1 - self.total_mse / total
        raw = torch.where(torch.isinf(raw), torch.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        if self.num_regressors:
            n, p = float(self.num_samples), float(self.num_regressors)
            if p >= n - 1:
                warnings.warn("Too few samples for the adjusted R2 score; returning the plain score.", stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return score

    def get_config(self):
        return {"name": self.name, "class_aggregation": self.class_aggregation, "num_regressors": self.num_regressors}


def _loss_metric(loss_fn, default_name, doc, direction="down"):
    class LossMetric(MeanMetricWrapper):
        __doc__ = doc

        def __init__(self, name=default_name, dtype=None, **kwargs):
            super().__init__(loss_fn, name=name, dtype=dtype, **kwargs)

    LossMetric.direction = direction
    return LossMetric


BinaryCrossentropy = _loss_metric(losses.binary_crossentropy, "binary_crossentropy", "Mean binary crossentropy (``from_logits``, ``label_smoothing``).")
CategoricalCrossentropy = _loss_metric(losses.categorical_crossentropy, "categorical_crossentropy", "Mean categorical crossentropy.")
SparseCategoricalCrossentropy = _loss_metric(losses.sparse_categorical_crossentropy, "sparse_categorical_crossentropy", "Mean sparse categorical crossentropy.")
KLDivergence = _loss_metric(losses.kl_divergence, "kl_divergence", "Mean KL divergence.")
Poisson = _loss_metric(losses.poisson, "poisson", "Mean Poisson loss.")
Hinge = _loss_metric(losses.hinge, "hinge", "Mean hinge loss.")
SquaredHinge = _loss_metric(losses.squared_hinge, "squared_hinge", "Mean squared hinge loss.")
CategoricalHinge = _loss_metric(losses.categorical_hinge, "categorical_hinge", "Mean categorical hinge loss.")
for _cls, _name in [
    (BinaryCrossentropy, "BinaryCrossentropy"), (CategoricalCrossentropy, "CategoricalCrossentropy"),
    (SparseCategoricalCrossentropy, "SparseCategoricalCrossentropy"), (KLDivergence, "KLDivergence"),
    (Poisson, "Poisson"), (Hinge, "Hinge"), (SquaredHinge, "SquaredHinge"), (CategoricalHinge, "CategoricalHinge"),
]:
    _cls.__name__ = _cls.__qualname__ = _name
