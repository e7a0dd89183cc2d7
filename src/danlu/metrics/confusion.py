"""Weighted confusion counts at thresholds: TruePositives, FalsePositives, TrueNegatives,
FalseNegatives, Precision and Recall.

A label counts as positive when nonzero, a prediction when ``y_pred > threshold``; each
sample adds its weight (1 without ``sample_weight``). Keras' defaults: ``thresholds=None``
means 0.5 (or, with ``top_k``, "every kept prediction", -1e10); thresholds must lie in
[0, 1]; one threshold gives a scalar result, a list gives one value per threshold. Evenly
spaced thresholds (``[0, 0.5, 1]``, ...) are counted by buckets over predictions clipped to
[0, 1], as Keras counts them (see `danlu.metrics._thresholded`).

The state is Keras': ``accumulator`` (shape ``(T,)``) for the four counts,
``true_positives`` / ``false_positives`` for Precision, ``true_positives`` /
``false_negatives`` for Recall; float32, summed over replicas.
"""

from __future__ import annotations

import torch

from danlu.metrics import _thresholded
from danlu.metrics.metric import FLOATX, Metric
from danlu.metrics.reduction import divide_no_nan


class ThresholdedMetric(Metric):
    """Shared machinery: thresholds as a list and as a tensor kept on the state's device,
    and `_accumulate`, which adds the counts of a batch to the named variables."""

    def _set_thresholds(self, thresholds, with_epsilon=False, evenly=None):
        self.thresholds = list(thresholds)
        if evenly is None:
            evenly = _thresholded.evenly_distributed(self.thresholds)
        self._thresholds_distributed_evenly = evenly
        self._thresholds_with_epsilon = with_epsilon
        self._threshold_tensor = torch.tensor(self.thresholds, dtype=FLOATX)

    def _move_constants(self, device):
        self._threshold_tensor = self._threshold_tensor.to(device)

    def _accumulate(self, counts, y_true, y_pred, sample_weight, top_k=None, class_id=None, multi_label=False,
                    label_weights=None):
        dtype = next(iter(counts.values())).dtype
        y_true, y_pred, sample_weight = _thresholded.prepare(y_true, y_pred, sample_weight, dtype, top_k, class_id)
        self._to_device(y_pred.device)
        _thresholded.update_counts(
            counts, y_true, y_pred, self._threshold_tensor.to(dtype), sample_weight,
            evenly=self._thresholds_distributed_evenly, multi_label=multi_label, label_weights=label_weights,
            with_epsilon=self._thresholds_with_epsilon,
        )

    def _one_or_all(self, value):
        return value[0] if len(self.thresholds) == 1 else value


class _ConditionCount(ThresholdedMetric):
    """One weighted count per threshold in the variable ``accumulator``."""

    _condition = ""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self._set_thresholds(_thresholded.parse_thresholds(thresholds, 0.5))
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._accumulate({self._condition: self.accumulator}, y_true, y_pred, sample_weight)

    def result(self):
        return self._one_or_all(self.accumulator.detach().clone())

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """``sum w [y_true != 0 and y_pred > t]`` per threshold ``t`` (Keras: ``thresholds=0.5``).
    ``direction`` is "up" (Keras sets none; more true positives is better)."""

    _condition, _direction = "tp", "up"


class FalsePositives(_ConditionCount):
    """``sum w [y_true == 0 and y_pred > t]`` per threshold ``t`` (Keras: ``thresholds=0.5``)."""

    _condition = "fp"


class TrueNegatives(_ConditionCount):
    """``sum w [y_true == 0 and y_pred <= t]`` per threshold ``t`` (Keras: ``thresholds=0.5``).
    ``direction`` is "up" (Keras sets none; more true negatives is better)."""

    _condition, _direction = "tn", "up"


class FalseNegatives(_ConditionCount):
    """``sum w [y_true != 0 and y_pred <= t]`` per threshold ``t`` (Keras: ``thresholds=0.5``)."""

    _condition = "fn"


class Precision(ThresholdedMetric):
    """``TP / (TP + FP)`` per threshold (0 when nothing was predicted positive).

    ``top_k``: only the ``k`` largest predictions of each row can be positive (exactly ``k``;
    with ties, the ones ``torch.topk`` picks, as Keras); then ``thresholds`` defaults to
    -1e10 (every kept prediction is positive). ``class_id``: only that column of 2-D inputs.
    Keras: ``thresholds=None`` (0.5), ``top_k=None``, ``class_id=None``, ``name="precision"``.
    """

    _direction = "up"
    _counts = {"tp": "true_positives", "fp": "false_positives"}  # count -> variable, in Keras' order

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        default = 0.5 if top_k is None else _thresholded.NEG_INF
        self._set_thresholds(_thresholded.parse_thresholds(thresholds, default))
        for variable in self._counts.values():
            setattr(self, variable, self.add_variable((len(self.thresholds),), "zeros", name=variable))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = {count: getattr(self, variable) for count, variable in self._counts.items()}
        self._accumulate(counts, y_true, y_pred, sample_weight, top_k=self.top_k, class_id=self.class_id)

    def result(self):
        tp = self.true_positives.detach()
        return self._one_or_all(divide_no_nan(tp, tp + self.false_positives.detach()))

    def get_config(self):
        config = {"thresholds": self.init_thresholds, "top_k": self.top_k, "class_id": self.class_id}
        return {**super().get_config(), **config}


class Recall(Precision):
    """``TP / (TP + FN)`` per threshold (0 when no label was positive); ``top_k`` and
    ``class_id`` as in `Precision`. Keras: ``thresholds=None`` (0.5), ``name="recall"``."""

    _counts = {"tp": "true_positives", "fn": "false_negatives"}

    def result(self):
        tp = self.true_positives.detach()
        return self._one_or_all(divide_no_nan(tp, tp + self.false_negatives.detach()))
