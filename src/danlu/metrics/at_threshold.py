"""One rate at the best threshold that holds another: SensitivityAtSpecificity,
SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision.

All four count TP / FP / TN / FN at ``num_thresholds`` evenly spaced thresholds
``t_i = i / (T - 1)`` (T = 1: the single threshold 0.5) and return

    max over i of { dependent_i : constrained_i >= value }   (0 when no threshold qualifies)

with sensitivity = recall = TP / (TP + FN), specificity = TN / (TN + FP) and precision =
TP / (TP + FP) (each 0 where its denominator is 0). Keras' defaults: ``num_thresholds=200``,
``class_id=None`` (``class_id`` picks one column of 2-D inputs); the constraint value must
lie in [0, 1]. Variables: ``true_positives``, ``false_positives``, ``true_negatives``,
``false_negatives`` (shape ``(T,)``, float32, summed over replicas).
"""

from __future__ import annotations

import numbers

from danlu.metrics.confusion import ThresholdedMetric
from danlu.metrics.reduction import divide_no_nan

_VARIABLES = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives", "fn": "false_negatives"}


def _check_unit_interval(argument, value):
    if not 0 <= value <= 1:
        raise ValueError(f"Argument `{argument}` must be in the range [0, 1]; received {argument}={value!r}.")


class SensitivitySpecificityBase(ThresholdedMetric):
    """The shared counts; a subclass names its constraint (``_constraint``) and picks the
    constrained and dependent rates in `result`."""

    _direction = "up"
    _constraint = ""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(num_thresholds, numbers.Integral) or num_thresholds <= 0:
            raise ValueError(
                f"Argument `num_thresholds` must be an integer > 0; received num_thresholds={num_thresholds!r}."
            )
        _check_unit_interval(self._constraint, value)
        num_thresholds = int(num_thresholds)
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        setattr(self, self._constraint, value)
        if num_thresholds == 1:
            self._set_thresholds([0.5], evenly=False)
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._set_thresholds([0.0, *inner, 1.0], evenly=True)
        for variable in _VARIABLES.values():
            setattr(self, variable, self.add_variable((len(self.thresholds),), "zeros", name=variable))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = {count: getattr(self, variable) for count, variable in _VARIABLES.items()}
        self._accumulate(counts, y_true, y_pred, sample_weight, class_id=self.class_id)

    def _rates(self):
        tp, fp = self.true_positives.detach(), self.false_positives.detach()
        tn, fn = self.true_negatives.detach(), self.false_negatives.detach()
        return {
            "sensitivity": divide_no_nan(tp, tp + fn), "recall": divide_no_nan(tp, tp + fn),
            "specificity": divide_no_nan(tn, tn + fp), "precision": divide_no_nan(tp, tp + fp),
        }

    def _best(self, dependent):
        rates = self._rates()
        feasible = rates[self._constraint] >= self.value
        return rates[dependent].where(feasible, 0.0).amax().clamp_min(0.0)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._constraint: self.value}


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    """The best sensitivity (recall) among thresholds whose specificity is >= ``specificity``."""

    _constraint = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("sensitivity")


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    """The best specificity among thresholds whose sensitivity is >= ``sensitivity``."""

    _constraint = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("specificity")


class PrecisionAtRecall(SensitivitySpecificityBase):
    """The best precision among thresholds whose recall is >= ``recall``."""

    _constraint = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("precision")


class RecallAtPrecision(SensitivitySpecificityBase):
    """The best recall among thresholds whose precision is >= ``precision``."""

    _constraint = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name=name, dtype=dtype)

    def result(self):
        return self._best("recall")
