"""Metric-learning losses over embeddings: Circle loss (Sun et al., 2020)."""

from __future__ import annotations

from danlu._validation import check_number

import torch
import torch.nn.functional as F

from danlu._tensors import as_tensor
from danlu.losses.base import LossFunctionWrapper, float_inputs
from danlu.losses.fused import loss_function


@loss_function(labels="integers")
def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80.0, margin=0.4):
    """Circle loss of L2-normalized embeddings ``y_pred`` (batch, dim) with integer labels.

    With cosine distances ``d`` to the reference embeddings (the batch itself by default),
    ``O_p = m``, ``O_n = 1 + m``, ``D_p = m``, ``D_n = 1 - m``:
    ``w_p = max(O_p + d, 0)`` on positive pairs, ``w_n = max(O_n - d, 0)`` on negative pairs,
    ``loss = softplus(logsumexp(-gamma w_p (D_p - d)) + logsumexp(gamma w_n (D_n - d)))``.
    Pairs of a sample with itself are left out when ``remove_diagonal``. Keras 3 defaults:
    ``gamma=80``, ``margin=0.4``. The `Circle` class averages over samples whose loss is > 0.
    """
    y_true, y_pred = float_inputs(y_true, y_pred, keep_integer_labels=True)
    labels = y_true.long().reshape(-1, 1)
    device = y_pred.device
    refs = y_pred if ref_embeddings is None else as_tensor(ref_embeddings, y_pred.dtype, device)
    ref = labels if ref_labels is None else as_tensor(ref_labels, device=device).long().reshape(-1, 1)
    distances = torch.clamp_min(1 - y_pred @ refs.T, 0.0)
    positive = labels == ref.T
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~torch.eye(*positive.shape, dtype=torch.bool, device=positive.device)
    pos_weights = torch.clamp_min((margin + distances) * positive, 0.0)
    neg_weights = torch.clamp_min((1 + margin - distances) * negative, 0.0)
    pos_logits = -gamma * pos_weights * (margin - distances)
    neg_logits = gamma * neg_weights * (1 - margin - distances)
    minus_inf = torch.tensor(float("-inf"), dtype=distances.dtype, device=distances.device)
    p_loss = torch.logsumexp(torch.where(positive, pos_logits, minus_inf), dim=1)
    n_loss = torch.logsumexp(torch.where(negative, neg_logits, minus_inf), dim=1)
    return F.softplus(p_loss + n_loss)


class Circle(LossFunctionWrapper):
    """Circle loss with ``gamma=80.0``, ``margin=0.4``, ``remove_diagonal=True``; the mean
    runs over the samples with a positive loss (Keras' mask). See `circle`."""

    def __init__(
        self, gamma=80.0, margin=0.4, remove_diagonal=True,
        reduction="sum_over_batch_size", name="circle", dtype=None,
    ):
        check_number("gamma", gamma)
        check_number("margin", margin)
        super().__init__(
            circle, reduction=reduction, name=name, dtype=dtype,
            gamma=gamma, margin=margin, remove_diagonal=remove_diagonal,
        )

    def compute_mask(self, y_true, y_pred, values):
        return values > 0
