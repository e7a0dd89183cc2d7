"""Connectionist Temporal Classification (CTC) loss for unsegmented sequence labelling."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu.losses.base import LossFunctionWrapper, float_inputs
from danlu.losses.fused import loss_function
from danlu.losses.labels import class_indices


@loss_function(labels="class_indices")
def ctc(y_true, y_pred, *, validate_labels=True):
    """Negative log-likelihood of the label sequences under CTC (Graves et al., 2006).

    ``y_true``: integer labels of shape ``(batch, max_label_length)``, padded with 0; class 0
    is also the CTC blank, as in Keras. ``y_pred``: logits of shape
    ``(batch, time_steps, num_classes)``; every step of every sample counts. Returns one
    value per sample. ``validate_labels=False`` skips reading the label values.
    """
    y_true, y_pred = float_inputs(y_true, y_pred, keep_integer_labels=True)
    if y_true.ndim != 2:
        raise ValueError(
            "ctc needs y_true of shape (batch_size, max_label_length) holding integer labels; "
            f"received y_true.shape={tuple(y_true.shape)}."
        )
    if y_pred.ndim != 3:
        raise ValueError(
            "ctc needs y_pred of shape (batch_size, time_steps, num_classes) holding logits; "
            f"received y_pred.shape={tuple(y_pred.shape)}."
        )
    labels = class_indices(y_true, y_pred.shape[-1], validate=validate_labels)
    batch, steps = y_pred.shape[:2]
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    label_lengths = (labels != 0).sum(dim=-1)
    log_probs = F.log_softmax(y_pred.transpose(0, 1), dim=-1)
    return F.ctc_loss(log_probs, labels, input_lengths, label_lengths, blank=0, reduction="none")


class CTC(LossFunctionWrapper):
    """CTC loss, see `ctc`."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)
