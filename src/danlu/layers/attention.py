"""Attention layers (Keras 3.15): Attention (Luong, dot-product or concat scores) and
AdditiveAttention (Bahdanau). `MultiHeadAttention` is in `danlu.layers.multi_head_attention`.

Both are called on ``[query, value]`` or ``[query, value, key]`` (key defaults to value):
``query (batch, Tq, dim)``, ``value (batch, Tv, dim_v)``, ``key (batch, Tv, dim)``::

    scores  = score(query, key)                  (batch, Tq, Tv)
    weights = softmax(scores - 1e9 * masked)     over Tv
    output  = weights @ value                    (batch, Tq, dim_v)

``mask=[query_mask, value_mask]`` (or the inputs' own masks): value steps that are masked get
no weight, query steps that are masked give zero outputs, and the output carries the query
mask. ``use_causal_mask=True`` lets query step i see value steps <= i.
``return_attention_scores=True`` also returns ``weights``. ``dropout`` drops weights while
training (torch's global generator; ``seed`` is recorded only).
"""

from __future__ import annotations

import warnings

import torch

from danlu._validation import check_number
from danlu.layers.base import Layer


class Attention(Layer):
    """Dot-product attention (Luong). ``score_mode="dot"``: ``scores = query @ key^T``
    (times a learned scalar ``scale`` when ``use_scale``); ``"concat"``: ``scores =
    concat_score_weight * sum(tanh(scale * (query_i + key_j)))``. Keras defaults:
    ``use_scale=False``, ``score_mode="dot"``, ``dropout=0``. The tf.keras 2.x constructor
    argument ``causal=True`` is accepted (with a warning) as the default of
    ``use_causal_mask``."""

    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        causal = kwargs.pop("causal", None)
        if causal is not None:
            warnings.warn("Attention(causal=...) is deprecated in Keras 3; pass use_causal_mask=True when calling.",
                          DeprecationWarning, stacklevel=2)
        if score_mode not in self._score_modes:
            raise ValueError(f"score_mode must be one of {', '.join(repr(m) for m in self._score_modes)}; received score_mode={score_mode!r}.")
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        self.use_scale, self.score_mode, self.dropout, self.seed = bool(use_scale), score_mode, dropout, seed
        self.causal = bool(causal)
        super().__init__(**kwargs)
        self.compute_output_shape = self._output_shape  # see MultiHeadAttention: keeps symbolic calls structured

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if self.use_scale:
            self.add_weight(shape=(), initializer="ones", name="scale")
        else:
            self.scale = None
        if self.score_mode == "concat":
            self.add_weight(shape=(), initializer="ones", name="concat_score_weight")

    def _check_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} must be called on a list [query, value] or [query, value, key]; received {inputs!r:.100}.")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name}'s mask must be a list [query_mask, value_mask]; received mask={mask!r:.100}.")

    def scores(self, query, key):
        if self.score_mode == "dot":
            scores = query @ key.transpose(-2, -1)
            return scores if self.scale is None else scores * self.scale
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)  # (batch, Tq, Tv, dim)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * torch.tanh(pairs).sum(dim=-1)

    def call(self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=None):
        self._check_inputs(inputs, mask)
        if mask is None:
            mask = [getattr(x, "_keras_mask", None) for x in inputs]
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = mask[0], mask[1]
        scores = self.scores(query, key)
        keep = None if value_mask is None else value_mask.unsqueeze(-2)
        if self.causal if use_causal_mask is None else use_causal_mask:
            tq, tv = scores.shape[-2:]
            causal = torch.ones(tq, tv, dtype=torch.bool, device=scores.device).tril()
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = torch.where(keep, scores, scores - (65504.0 if scores.dtype == torch.float16 else 1e9))
        weights = torch.softmax(scores, dim=-1)
        used = torch.nn.functional.dropout(weights, self.dropout, True) if training and self.dropout > 0 else weights
        outputs = used @ value
        if query_mask is not None:
            outputs = outputs.masked_fill(~query_mask.unsqueeze(-1), 0)
            outputs._keras_mask = query_mask  # also when the scores come along (Keras masks the first output)
        return (outputs, weights) if return_attention_scores else outputs

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            mask = [getattr(x, "_keras_mask", None) for x in inputs] if isinstance(inputs, (list, tuple)) else None
        return None if not mask else mask[0]

    def get_own_weights(self):
        # The base's np.ascontiguousarray turns the scalar weights into shape (1,); Keras has ().
        return [array.reshape(tensor.shape) for array, (_, tensor) in zip(super().get_own_weights(), self._own_named_weights())]

    def _output_shape(self, input_shape):
        """Keras' ``compute_output_shape([query_shape, value_shape(, key_shape)])``."""
        self._check_inputs(input_shape)
        return (*tuple(input_shape[0])[:-1], input_shape[1][-1])


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau): ``scores = sum(scale * tanh(query_i + key_j))``, with a
    learned ``scale`` of shape ``(dim,)`` (glorot uniform) when ``use_scale`` (Keras default
    True), else 1. Keras defaults: ``use_scale=True``, ``dropout=0``."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        if self.use_scale:
            self.add_weight(shape=(input_shape[0][-1],), initializer="glorot_uniform", name="scale")
        else:
            self.scale = None

    def scores(self, query, key):
        pairs = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        return (pairs if self.scale is None else self.scale * pairs).sum(dim=-1)
