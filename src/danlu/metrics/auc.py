"""`AUC`: the area under the ROC, PR or PR-gain curve, from confusion counts at thresholds."""

from __future__ import annotations

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu.metrics import _thresholded
from danlu.metrics.confusion import ThresholdedMetric
from danlu.metrics.reduction import divide_no_nan

CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
SUMMATION_METHODS = ("interpolation", "minoring", "majoring")
_VARIABLES = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives", "fn": "false_negatives"}


class AUC(ThresholdedMetric):
    """Area under the ROC, PR or PR-gain curve.

    Counts TP / FP / TN / FN at ``T = num_thresholds`` thresholds ``[-eps, 1/(T-1), ...,
    (T-2)/(T-1), 1 + eps]`` (eps = 1e-7, so that 0 and 1 fall inside), or at ``[-eps,
    *sorted(thresholds), 1 + eps]`` when ``thresholds`` is given, and sums a Riemann sum over
    consecutive thresholds i, i+1:

        ROC: x = FP / (FP + TN), y = TP / (TP + FN)      PR: x = recall, y = precision
        area = sum_i (x_i - x_{i+1}) h_i,  h_i = (y_i + y_{i+1}) / 2 ("interpolation"),
               min(y_i, y_{i+1}) ("minoring") or max(y_i, y_{i+1}) ("majoring")

    For PR with "interpolation" the precision is interpolated between thresholds as Davis &
    Goadrich (2006) do, integrating ``TP / P`` where TP grows linearly in P = TP + FP:
    ``sum_i slope_i (dTP_i + intercept_i log(P_i / P_{i+1})) / (TP_{i+1} + FN_{i+1})``.
    "PRGAIN" uses Flach & Kull's precision and recall gains (Keras' definition).

    ``multi_label=True``: inputs of shape ``(N, L)`` give one curve per label (state ``(T, L)``,
    built from the first batch unless ``num_labels`` is given) and the result is their mean, or
    their ``label_weights``-weighted mean. Without ``multi_label`` every value is one sample and
    ``label_weights`` weight the columns. ``from_logits=True`` applies a sigmoid first.

    Keras' defaults: ``num_thresholds=200``, ``curve="ROC"``, ``summation_method="interpolation"``,
    ``name=None`` ("auc"), ``thresholds=None``, ``multi_label=False``, ``num_labels=None``,
    ``label_weights=None``, ``from_logits=False``. Variables ``true_positives``,
    ``false_positives``, ``true_negatives``, ``false_negatives`` (float32, summed over replicas).
    """

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        curve_key = str(getattr(curve, "value", curve))  # Keras' AUCCurve / AUCSummationMethod enums too
        method = str(getattr(summation_method, "value", summation_method))
        if curve_key.lower() not in CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"].')
        if method.lower() not in SUMMATION_METHODS:
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". '
                'Expected values are ["interpolation", "majoring", "minoring"].'
            )
        self.curve, self.summation_method = CURVES[curve_key.lower()], method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
            evenly = _thresholded.evenly_distributed(np.array([0.0, *inner, 1.0]))
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds <= 1:
                raise ValueError(
                    f"Argument `num_thresholds` must be an integer > 1; received num_thresholds={num_thresholds!r}."
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            evenly = True
        epsilon = _thresholded.EPSILON
        self._set_thresholds([0.0 - epsilon, *inner, 1.0 + epsilon], with_epsilon=True, evenly=evenly)
        self.multi_label, self.num_labels, self.from_logits = bool(multi_label), num_labels, from_logits
        self.label_weights = None
        if label_weights is not None:
            self.label_weights = torch.as_tensor(np.asarray(label_weights), dtype=self._dtype)
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {len(shape)}. "
                    f"Full shape received for `y_pred`: {tuple(shape)}"
                )
            self._num_labels = int(shape[1])
            variable_shape = (self.num_thresholds, self._num_labels)
        else:
            variable_shape = (self.num_thresholds,)
        for variable in _VARIABLES.values():
            setattr(self, variable, self.add_variable(variable_shape, "zeros", name=variable))
        self._built = True

    def _build_from_state(self, state):
        self._build((None, tuple(state["true_positives"].shape)[-1]) if self.multi_label else None)

    def _move_constants(self, device):
        super()._move_constants(device)
        if self.label_weights is not None:
            self.label_weights = self.label_weights.to(device)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred)
        if not self._built:
            self._build(y_pred.shape)
        if self.from_logits:
            y_pred = torch.sigmoid(y_pred.detach().float() if not y_pred.is_floating_point() else y_pred.detach())
        self._to_device(y_pred.device)
        counts = {count: getattr(self, variable) for count, variable in _VARIABLES.items()}
        label_weights = None if self.multi_label else self.label_weights
        self._accumulate(
            counts, y_true, y_pred, sample_weight, multi_label=self.multi_label, label_weights=label_weights
        )

    def _counts(self):
        return (self.true_positives.detach(), self.false_positives.detach(), self.true_negatives.detach(),
                self.false_negatives.detach())

    def _average_over_labels(self, per_threshold):
        if not self.multi_label:
            return per_threshold.sum()
        by_label = per_threshold.sum(0)
        if self.label_weights is None:
            return by_label.mean()
        return divide_no_nan((by_label * self.label_weights).sum(), self.label_weights.sum())

    def interpolate_pr_auc(self):
        """The Davis & Goadrich interpolated area under the PR curve (Keras' method name)."""
        tp, fp, _, fn = self._counts()
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        both_positive = (p[:-1] > 0) & (p[1:] > 0)
        ratio = torch.where(both_positive, divide_no_nan(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
        increments = divide_no_nan(slope * (dtp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp_min(0))
        return self._average_over_labels(increments)

    def result(self):
        if not self._built:
            return torch.zeros(())
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = self._counts()
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), divide_no_nan(tp, tp + fn)
        elif self.curve == "PR":
            x, y = divide_no_nan(tp, tp + fn), divide_no_nan(tp, tp + fp)
        else:  # PRGAIN: gains relative to the positive fraction P / N
            scale = divide_no_nan(tp + fn, tn + fp)
            x = torch.where(tp == 0, 0.0, 1.0 - scale * divide_no_nan(fn, tp)).clamp_min(0.0)
            y = torch.where(tp == 0, 1.0, 1.0 - scale * divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average_over_labels((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {
            **super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
            "summation_method": self.summation_method, "multi_label": self.multi_label, "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
