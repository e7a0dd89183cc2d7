"""Metrics from confusion counts: TruePositives..., Precision, Recall, AUC, F1Score / FBetaScore.

Labels count as positive when nonzero; predictions when above a threshold. Keras defaults:
``thresholds=0.5`` (Precision, Recall), 200 evenly spaced thresholds for AUC.
"""

from __future__ import annotations

import torch

from danlu._tensors import as_tensor
from danlu.losses.base import squeeze_or_expand_to_same_rank
from danlu.metrics.base import Metric

EPSILON = 1e-7


def _thresholds(thresholds, default=0.5):
    if thresholds is None:
        return [default], True
    if isinstance(thresholds, (int, float)):
        return [float(thresholds)], True
    return [float(t) for t in thresholds], False


class _ConfusionCounts(Metric):
    """Accumulates weighted TP / FP / TN / FN at each threshold."""

    counts = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None, default_threshold=0.5):
        super().__init__(name=name, dtype=dtype)
        values, self._scalar = _thresholds(thresholds, default_threshold)
        self.thresholds_list = values
        self.top_k, self.class_id = top_k, class_id
        self.thresholds = torch.tensor(values, dtype=self.dtype)
        for name in self.counts:
            setattr(self, name, self.add_state(name, (len(values),)))

    def _to_device(self, device):
        super()._to_device(device)
        self.thresholds = self.thresholds.to(device)

    def _prepare(self, y_true, y_pred, sample_weight):
        y_pred = as_tensor(y_pred).detach().to(self.dtype)
        y_true = as_tensor(y_true, device=y_pred.device).to(self.dtype)
        self._to_device(y_pred.device)
        y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
        if self.top_k is not None:
            kth = y_pred.topk(min(self.top_k, y_pred.shape[-1]), dim=-1).values[..., -1:]
            y_pred = torch.where(y_pred >= kth, y_pred, torch.full_like(y_pred, float("-inf")))
        weight = None
        if sample_weight is not None:
            weight = as_tensor(sample_weight, dtype=self.dtype, device=y_pred.device)
            while weight.ndim < y_pred.ndim:
                weight = weight.unsqueeze(-1)
            weight = torch.broadcast_to(weight, y_pred.shape)
        if self.class_id is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            weight = None if weight is None else weight[..., self.class_id]
        return y_true.reshape(-1), y_pred.reshape(-1), None if weight is None else weight.reshape(-1)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, weight = self._prepare(y_true, y_pred, sample_weight)
        predicted = (y_pred.unsqueeze(0) > self.thresholds.unsqueeze(1)).to(self.dtype)  # (T, N)
        positive = (y_true != 0).to(self.dtype).unsqueeze(0)
        w = torch.ones_like(y_pred) if weight is None else weight
        self.true_positives += (predicted * positive * w).sum(1)
        self.false_positives += (predicted * (1 - positive) * w).sum(1)
        self.true_negatives += ((1 - predicted) * (1 - positive) * w).sum(1)
        self.false_negatives += ((1 - predicted) * positive * w).sum(1)

    def _scalar_or_vector(self, value):
        return value[0] if self._scalar else value

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds_list if not self._scalar else self.thresholds_list[0]}


def _divide_no_nan(a, b):
    return torch.where(b == 0, torch.zeros_like(a), a / torch.where(b == 0, torch.ones_like(b), b))


class _Tally(_ConfusionCounts):
    """One of the four weighted counts (its ``tally``), named after it by default."""

    tally = ""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds, name=name or self.tally, dtype=dtype)

    def result(self):
        return self._scalar_or_vector(getattr(self, self.tally).clone())


class TruePositives(_Tally):
    tally, direction = "true_positives", "up"


class FalsePositives(_Tally):
    tally = "false_positives"


class TrueNegatives(_Tally):
    tally, direction = "true_negatives", "up"


class FalseNegatives(_Tally):
    tally = "false_negatives"


class Precision(_ConfusionCounts):
    """``TP / (TP + FP)`` at ``thresholds`` (default 0.5), optionally over the ``top_k``
    predictions or one ``class_id``."""

    direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        default = float("-inf") if top_k is not None and thresholds is None else 0.5
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype, default_threshold=default)

    def result(self):
        return self._scalar_or_vector(_divide_no_nan(self.true_positives, self.true_positives + self.false_positives))

    def get_config(self):
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(Precision):
    """``TP / (TP + FN)`` at ``thresholds`` (default 0.5), optionally ``top_k`` / ``class_id``."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._scalar_or_vector(_divide_no_nan(self.true_positives, self.true_positives + self.false_negatives))


class AUC(_ConfusionCounts):
    """Area under the ROC (default) or PR curve from ``num_thresholds=200`` evenly spaced
    thresholds, by Keras' trapezoidal "interpolation" (for PR, the Davis & Goadrich
    interpolation). ``from_logits=True`` applies a sigmoid first."""

    direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc", dtype=None,
                 thresholds=None, from_logits=False):
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR'; received curve={curve!r}.")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"summation_method must be 'interpolation', 'minoring' or 'majoring'; received {summation_method!r}.")
        if thresholds is None:
            if num_thresholds <= 1:
                raise ValueError(f"num_thresholds must be > 1; received num_thresholds={num_thresholds!r}.")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        else:
            inner = sorted(float(t) for t in thresholds)
        self.num_thresholds = len(inner) + 2
        self.curve, self.summation_method, self.from_logits = curve, summation_method, from_logits
        self._given_thresholds = thresholds
        super().__init__([0.0 - EPSILON, *inner, 1.0 + EPSILON], name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.from_logits:
            y_pred = torch.sigmoid(as_tensor(y_pred))
        super().update_state(y_true, y_pred, sample_weight)

    def _interpolate_pr(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        ratio = torch.where((p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
        return _divide_no_nan(slope * (dtp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp_min(0)).sum()

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum()

    def get_config(self):
        config = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "from_logits": self.from_logits}
        if self._given_thresholds is not None:
            config["thresholds"] = list(self._given_thresholds)
        return config


class FBetaScore(Metric):
    """F-beta per class from one-hot labels: ``(1 + b^2) P R / (b^2 P + R)``.

    ``threshold=None`` marks each sample's highest prediction as its class; otherwise
    predictions above ``threshold``. ``average``: None (per class), "micro", "macro" or
    "weighted" (by support). Keras defaults: ``beta=1.0``, ``average=None``."""

    direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"average must be None, 'micro', 'macro' or 'weighted'; received average={average!r}.")
        if not beta > 0:
            raise ValueError(f"beta must be > 0; received beta={beta!r}.")
        super().__init__(name=name, dtype=dtype)
        self.average, self.beta, self.threshold = average, beta, threshold
        self._built = False

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred).detach().to(self.dtype)
        y_true = as_tensor(y_true, device=y_pred.device).to(self.dtype)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(f"{type(self).__name__} expects 2-D inputs (batch, classes); received y_true {tuple(y_true.shape)}, y_pred {tuple(y_pred.shape)}.")
        if not self._built:
            shape = () if self.average == "micro" else (y_pred.shape[-1],)
            for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
                setattr(self, name, self.add_state(name, shape))
            self._built = True
        self._to_device(y_pred.device)
        if self.threshold is None:
            predicted = (y_pred >= y_pred.amax(dim=-1, keepdim=True)) & (y_pred.abs() > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.to(self.dtype)
        weight = None if sample_weight is None else as_tensor(sample_weight, dtype=self.dtype, device=y_pred.device).reshape(-1, 1)
        axis = None if self.average == "micro" else 0

        def weighted_sum(value):
            value = value * weight if weight is not None else value
            return value.sum() if axis is None else value.sum(axis)

        self.true_positives += weighted_sum(predicted * y_true)
        self.false_positives += weighted_sum(predicted * (1 - y_true))
        self.false_negatives += weighted_sum((1 - predicted) * y_true)
        self.intermediate_weights += weighted_sum(y_true)

    def result(self):
        if not self._built:
            return torch.zeros(())
        precision = self.true_positives / (self.true_positives + self.false_positives + EPSILON)
        recall = self.true_positives / (self.true_positives + self.false_negatives + EPSILON)
        score = (1 + self.beta**2) * precision * recall / (self.beta**2 * precision + recall + EPSILON)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + EPSILON)
            return (score * weights).sum()
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self):
        return {"name": self.name, "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 (beta = 1), see `FBetaScore`."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("beta")
        return config
