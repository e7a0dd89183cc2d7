"""F-scores from one-hot (or multi-hot) labels: `FBetaScore` and `F1Score`.

Per class c, with a prediction marked positive at the row's maximum (``threshold=None``:
``y_pred >= max(row)`` and ``|y_pred| > 1e-9``) or where ``y_pred > threshold``:

    P_c = TP_c / (TP_c + FP_c + eps),  R_c = TP_c / (TP_c + FN_c + eps)
    F_c = (1 + b^2) P_c R_c / (b^2 P_c + R_c + eps)                    (eps = 1e-7)

``average``: None (one score per class), "macro" (their mean), "weighted" (weighted by each
class' support, the weighted count of its labels) or "micro" (TP, FP, FN summed over
classes first). Keras' defaults: ``average=None``, ``beta=1.0``, ``threshold=None``,
``name="fbeta_score"`` / ``"f1_score"``. Variables ``true_positives``, ``false_positives``,
``false_negatives``, ``intermediate_weights`` (shape ``(C,)``, or ``()`` for "micro"; the
metric's dtype; summed over replicas), built from the first batch.

Inputs must be 2-D ``(batch, classes)``; ``sample_weight`` has one weight per row. Keras
insists on Python floats for ``beta`` and ``threshold``; danlu also takes ints (``beta=2``
means 2.0), since the number is the same.
"""

from __future__ import annotations

import numbers

import torch

from danlu._tensors import as_tensor
from danlu.metrics.metric import Metric

EPSILON = 1e-7
AVERAGES = (None, "micro", "macro", "weighted")
_VARIABLES = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")


def _real(argument, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"Invalid `{argument}` argument value. It should be a Python float. Received: {argument}={value!r}."
        )
    return float(value)


class FBetaScore(Metric):
    """F-beta per class, or averaged; see the module docstring for the formula."""

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in AVERAGES:
            raise ValueError(
                "Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', 'weighted'}. "
                f"Received: average={average!r}"
            )
        beta = _real("beta", beta)
        if not beta > 0.0:  # NaN too
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            threshold = _real("threshold", threshold)
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(
                    "Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                    f"Received: threshold={threshold}"
                )
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                f"y_pred.shape={tuple(y_pred_shape)} and y_true.shape={tuple(y_true_shape)}."
            )
        shape = () if self.average == "micro" else (int(y_pred_shape[-1]),)
        for variable in _VARIABLES:
            setattr(self, variable, self.add_variable(shape, "zeros", dtype=self._dtype, name=variable))
        self._built = True

    def _build_from_state(self, state):
        shape = tuple(state["true_positives"].shape)
        self._build((0, shape[0] if shape else 1), (0, shape[0] if shape else 1))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred).detach().to(self._dtype)
        y_true = as_tensor(y_true, device=y_pred.device).detach().to(self._dtype)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        self._to_device(y_pred.device)
        if self.threshold is None:
            predicted = (y_pred >= y_pred.amax(dim=-1, keepdim=True)) & (y_pred.abs() > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.to(self._dtype)
        weight = None
        if sample_weight is not None:
            weight = as_tensor(sample_weight, device=y_pred.device).detach().to(self._dtype)
            weight = weight.reshape(-1, 1) if weight.ndim else weight

        def weighted_sum(value):
            value = value if weight is None else value * weight
            return value.sum() if self.axis is None else value.sum(self.axis)

        self.true_positives += weighted_sum(predicted * y_true)
        self.false_positives += weighted_sum(predicted * (1 - y_true))
        self.false_negatives += weighted_sum((1 - predicted) * y_true)
        self.intermediate_weights += weighted_sum(y_true)

    def result(self):
        if not self._built:
            return torch.zeros((), dtype=self._dtype)
        tp, fp, fn = self.true_positives.detach(), self.false_positives.detach(), self.false_negatives.detach()
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        score = precision * recall / (self.beta**2 * precision + recall + EPSILON) * (1 + self.beta**2)
        if self.average == "weighted":
            support = self.intermediate_weights.detach()
            return (score * (support / (support.sum() + EPSILON))).sum()
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 = 2 P R / (P + R) per class or averaged: `FBetaScore` with ``beta=1``.
    Keras' defaults: ``average=None``, ``threshold=None``, ``name="f1_score"``."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
