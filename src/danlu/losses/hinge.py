"""Maximum-margin losses for classifiers that output scores: hinge, squared and categorical.

Labels for `hinge` and `squared_hinge` are -1 / 1; labels given as 0 / 1 are converted to
-1 / 1 when *every* label is 0 or 1 (Keras' rule, decided on the device without a host read).
"""

from __future__ import annotations

import torch

from danlu.losses.base import LossFunctionWrapper, float_inputs


def to_signed_labels(y_true):
    """``2 y - 1`` when every label is 0 or 1, else ``y`` unchanged."""
    is_binary = ((y_true == 0) | (y_true == 1)).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    """``mean(max(1 - y * y_pred, 0), axis=-1)``."""
    y_true, y_pred = float_inputs(y_true, y_pred)
    return torch.clamp_min(1.0 - to_signed_labels(y_true) * y_pred, 0.0).mean(dim=-1)


def squared_hinge(y_true, y_pred):
    """``mean(max(1 - y * y_pred, 0)^2, axis=-1)``."""
    y_true, y_pred = float_inputs(y_true, y_pred)
    return torch.clamp_min(1.0 - to_signed_labels(y_true) * y_pred, 0.0).square().mean(dim=-1)


def categorical_hinge(y_true, y_pred):
    """``max(neg - pos + 1, 0)`` with ``pos = sum(y * y_pred)`` the score of the true class and
    ``neg = max((1 - y) * y_pred)`` the best other score (one-hot ``y``)."""
    y_true, y_pred = float_inputs(y_true, y_pred)
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return torch.clamp_min(neg - pos + 1.0, 0.0)


class Hinge(LossFunctionWrapper):
    """Hinge loss, see `hinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss, see `squared_hinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss, see `categorical_hinge`."""

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)
