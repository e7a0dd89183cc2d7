"""Hinge metrics: the weighted mean over samples of the danlu hinge losses' per-sample values.

Labels in {0, 1} are mapped to {-1, 1} first (``2 y - 1``), as Keras does. Keras' defaults:
``dtype=None`` (float32); the name is the snake-case class name.
"""

from __future__ import annotations

from danlu import losses
from danlu.metrics.reduction import MeanMetricWrapper


class Hinge(MeanMetricWrapper):
    """``mean_last_axis(max(1 - y y_pred, 0))``."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """``mean_last_axis(max(1 - y y_pred, 0)^2)``."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """``max(max_{k != true}(y_pred_k) - y_pred_true + 1, 0)`` for one-hot labels."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(losses.categorical_hinge, name=name, dtype=dtype)
