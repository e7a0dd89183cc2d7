"""Divergences and likelihoods of distributions: KL divergence, Poisson, generalized CE.

KL divergence and Poisson are fused into ``F.kl_div`` and ``F.poisson_nll_loss`` (Keras'
clipping first); the generalized crossentropy has no PyTorch kernel.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from danlu.losses.base import LossFunctionWrapper, float_inputs, squeeze_or_expand_to_same_rank
from danlu.losses.fused import loss_function, mean_over_axis
from danlu.losses.labels import class_indices

EPSILON = 1e-7


def fused_kl_divergence(y_true, y_pred, reduction):
    """``F.kl_div(log(clip(y_pred)), clip(y_true))``: the same ``y (log y - log p)`` terms,
    summed over the last axis per sample."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape or not y_pred.ndim:
        return None
    log_p, y_true = y_pred.clamp(EPSILON, 1.0).log(), y_true.clamp(EPSILON, 1.0)
    if reduction == "none":
        return F.kl_div(log_p, y_true, reduction="none").sum(dim=-1)
    total = F.kl_div(log_p, y_true, reduction="sum")
    return total if reduction == "sum" else total / (y_pred.numel() // y_pred.shape[-1])


@loss_function(fused=fused_kl_divergence)
def kl_divergence(y_true, y_pred):
    """``sum(y log(y / p), axis=-1)`` with both ``y`` and ``p`` clipped to ``[eps, 1]``."""
    y_true, y_pred = float_inputs(y_true, y_pred)
    y_true = y_true.clamp(EPSILON, 1.0)
    y_pred = y_pred.clamp(EPSILON, 1.0)
    return (y_true * torch.log(y_true / y_pred)).sum(dim=-1)


@loss_function(fused=partial(mean_over_axis, F.poisson_nll_loss, log_input=False, eps=EPSILON))
def poisson(y_true, y_pred):
    """``mean(p - y log(p + eps), axis=-1)``: the Poisson negative log-likelihood of counts
    ``y`` at rate ``p``, up to a term that does not depend on ``p``."""
    y_true, y_pred = float_inputs(y_true, y_pred)
    return (y_pred - y_true * torch.log(y_pred + EPSILON)).mean(dim=-1)


def check_q(q):
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < q < 1.0:
        raise ValueError(f"q must be a number in the open interval (0, 1); received q={q!r}.")


@loss_function(labels="class_indices")
def categorical_generalized_cross_entropy(y_true, y_pred, q=0.5, *, validate_labels=True):
    """``(1 - p[y]^q) / q`` (Zhang & Sabuncu, 2018) for integer labels ``y`` and class
    probabilities ``p``: crossentropy as ``q -> 0``, mean absolute error at ``q = 1``;
    robust to noisy labels. ``validate_labels=False`` skips reading the label values."""
    check_q(q)
    y_true, y_pred = float_inputs(y_true, y_pred, keep_integer_labels=True)
    labels = class_indices(y_true, y_pred.shape[-1], validate=validate_labels)
    p = y_pred.gather(-1, labels.reshape(y_pred.shape[:-1] + (1,))).squeeze(-1)
    return (1 - torch.pow(p, q)) / q


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence ``KL(y_true || y_pred)``, see `kl_divergence`."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss, see `poisson`."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized crossentropy with ``q=0.5`` (in (0, 1)), see
    `categorical_generalized_cross_entropy`. Labels are integer class indices."""

    def __init__(
        self, q=0.5, reduction="sum_over_batch_size",
        name="categorical_generalized_cross_entropy", dtype=None,
    ):
        check_q(q)
        super().__init__(categorical_generalized_cross_entropy, reduction=reduction, name=name, dtype=dtype, q=q)
