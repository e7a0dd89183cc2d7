"""`MultiHeadAttention` (Keras 3.15), running on ``F.scaled_dot_product_attention``.

For ``query (batch, T, dim_q)``, ``value (batch, S, dim_v)`` and ``key (batch, S, dim_k)``
(key defaults to value), with ``H = num_heads``::

    q = query @ Wq + bq        Wq: (dim_q, H, key_dim)      -> (batch, T, H, key_dim)
    k = key   @ Wk + bk        Wk: (dim_k, H, key_dim)
    v = value @ Wv + bv        Wv: (dim_v, H, value_dim)
    weights = softmax(q . k / sqrt(key_dim), masked)          (batch, H, T, S)
    output  = (weights @ v) @ Wo + bo                         Wo: (H, value_dim, dim_q)

Weights (Keras' names, shapes, layout and order): ``query/kernel``, ``query/bias``,
``key/...``, (``gate/...`` with ``use_gate``), ``value/...``, ``attention_output/kernel``,
``attention_output/bias``; the kernels are stored in Keras' layout.

Masks, combined with AND as Keras: ``attention_mask (batch, T, S)`` (True = attend), the
query's and value's / key's own masks (or ``query_mask=`` / ``value_mask=`` / ``key_mask=``),
``use_causal_mask=True`` (step i sees steps <= i), ``sliding_window=w`` (``|i - j| < w``).
A query row with every key masked follows Keras on torch: its weights are uniform when Keras
takes its fused path (no dropout, no scores returned, rank-3 inputs) and zero otherwise.
The output carries the query's mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from danlu._validation import check_number
from danlu.layers.base import Layer, device_of, shape_of

#: Keras' additive mask value for its fused path (``-0.7 * float32 max``); float16: -0.7 * 65500.
_FUSED_NEGATIVE = {torch.float16: 65500.0 * -0.7}
_FUSED_NEGATIVE_DEFAULT = 3.38953e38 * -0.7


class EinsumProjection(Layer):
    """``y = x @ kernel + bias`` contracting the last ``len(input_dims)`` axes of ``x``:
    ``kernel`` has shape ``(*input_dims, *output_dims)`` (Keras' EinsumDense layout, fans
    ``prod(input_dims)`` in, ``prod(output_dims)`` out), ``bias`` ``output_dims``."""

    def __init__(self, contracted_axes, output_dims, use_bias=True, activation=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        self.contracted_axes, self.output_dims, self.use_bias = contracted_axes, tuple(output_dims), use_bias
        self.activation = activation
        self._kernel_args = (kernel_initializer, kernel_regularizer, kernel_constraint)
        self._bias_args = (bias_initializer, bias_regularizer, bias_constraint)
        super().__init__(**kwargs)

    def build(self, input_shape):
        input_dims = tuple(input_shape[-self.contracted_axes:])
        if None in input_dims:
            raise ValueError(f"{self.name}: the projected axes must have known sizes; received input shape {tuple(input_shape)}.")
        init, reg, con = self._kernel_args
        self.add_weight(shape=(*input_dims, *self.output_dims), initializer=init, regularizer=reg, constraint=con,
                        name="kernel", fans=(float(math.prod(input_dims)), float(math.prod(self.output_dims))))
        if self.use_bias:
            init, reg, con = self._bias_args
            self.add_weight(shape=self.output_dims, initializer=init, regularizer=reg, constraint=con, name="bias")
        else:
            self.bias = None

    def call(self, inputs):
        lead = inputs.shape[: inputs.ndim - self.contracted_axes]
        kernel = self.kernel.reshape(-1, math.prod(self.output_dims))
        bias = None if self.bias is None else self.bias.reshape(-1)
        outputs = F.linear(inputs.reshape(*lead, kernel.shape[0]), kernel.T, bias).reshape(*lead, *self.output_dims)
        return outputs if self.activation is None else self.activation(outputs)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017); see the module docstring for the math.

    Keras arguments and defaults: ``num_heads``, ``key_dim``, ``value_dim=None`` (=
    key_dim), ``dropout=0`` (on the attention weights, while training), ``use_bias=True``,
    ``output_shape=None`` (the query's last size; an int or a tuple), ``attention_axes=None``
    (every axis between batch and features: for ``(batch, a, b, dim)`` inputs attention runs
    over ``a`` and ``b`` jointly; give e.g. ``(2,)`` to attend over ``b`` only),
    ``sliding_window=None``, ``flash_attention=None`` (torch chooses its fastest kernel
    itself; ``True`` only keeps Keras' checks: no dropout, no returned scores),
    initializers (``glorot_uniform`` kernels with EinsumDense's fans, ``zeros`` biases),
    regularizers, ``activity_regularizer`` (of each projection, as Keras), constraints,
    ``use_gate=False`` (``output = (attention * sigmoid(query @ Wg + bg)) @ Wo``), ``seed``
    (recorded; dropout uses torch's global generator).

    Call: ``mha(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None,
    use_causal_mask=False)``; with ``return_attention_scores=True`` it returns
    ``(output, weights)``, ``weights`` of shape ``(batch, H, T, S)``.
    """

    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None, attention_axes=None,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, use_gate=False, seed=None, **kwargs):
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim), ("sliding_window", sliding_window)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{arg} must be a positive int{'' if arg in ('num_heads', 'key_dim') else ' or None'}; received {arg}={value!r}.")
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        if flash_attention and dropout > 0:
            raise ValueError("flash_attention=True does not support dropout; set dropout=0.")
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape is not None and not all(isinstance(d, int) and d > 0 for d in tuple(output_shape)):
            raise ValueError(f"output_shape must be a positive int or a tuple of them; received output_shape={output_shape!r}.")
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None and not (isinstance(attention_axes, (list, tuple)) and all(isinstance(a, int) for a in attention_axes)):
            raise ValueError(f"attention_axes must be an int or a tuple of ints; received attention_axes={attention_axes!r}.")
        self.num_heads, self.key_dim, self.value_dim = num_heads, key_dim, value_dim or key_dim
        self.dropout, self.use_bias, self.use_gate, self.seed = dropout, use_bias, bool(use_gate), seed
        self._output_dims = None if output_shape is None else tuple(output_shape)
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.sliding_window, self.flash_attention = sliding_window, flash_attention
        self._projection_args = dict(
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint, use_bias=use_bias,
        )
        super().__init__(**kwargs)
        # Keras' compute_output_shape(query_shape, value_shape, key_shape), bound on the instance so
        # that symbolic calls keep inferring their outputs by running (``(output, scores)`` included).
        self.compute_output_shape = self._output_shape

    # --- Building ---------------------------------------------------------------------------

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise TypeError("MultiHeadAttention needs query and value: mha(query, value) (self-attention: mha(x, x)).")
        if not self.built:  # built from all three shapes (the base builds from the first argument only)
            self.build(shape_of(query), shape_of(value), None if key is None else shape_of(key))
            self.built = True
            device = device_of(query)
            if device is not None:
                self.to(device)
        return super().__call__(query, value, key, **kwargs)

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if len(query_shape) < 3 or len(value_shape) != len(query_shape):
            raise ValueError(f"MultiHeadAttention needs query and value of one rank >= 3 (batch, ..., features); received "
                             f"query {query_shape}, value {value_shape}.")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"value and key must agree on every axis but the last; received value {value_shape}, key {key_shape}.")
        rank = len(query_shape)
        axes = tuple(range(1, rank - 1)) if self.attention_axes is None else tuple(a if a >= 0 else rank + a for a in self.attention_axes)
        if not axes or any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"attention_axes={self.attention_axes} must name axes between batch and features of inputs of rank {rank}.")
        self._axes = tuple(sorted(axes))
        heads = self.num_heads
        # Created in Keras' order (its weight order): query, key, gate, value, attention_output.
        self.query_dense = self._projection(query_shape, (heads, self.key_dim), "query")
        self.key_dense = self._projection(key_shape, (heads, self.key_dim), "key")
        if self.use_gate:
            self.gate_dense = self._projection(query_shape, (heads, self.value_dim), "gate", activation=torch.sigmoid)
        self.value_dense = self._projection(value_shape, (heads, self.value_dim), "value")
        self.output_dense = self._projection((*query_shape[:-1], heads, self.value_dim), self._output_dims or (query_shape[-1],),
                                             "attention_output", contracted_axes=2)

    def _projection(self, input_shape, output_dims, name, contracted_axes=1, activation=None):
        projection = EinsumProjection(contracted_axes, output_dims, activation=activation, name=name, dtype=self.dtype_policy,
                                      **self._projection_args)
        projection.build_from_shape(input_shape)
        return projection

    def _output_shape(self, query_shape, value_shape=None, key_shape=None):
        """Keras' ``compute_output_shape``: the query's shape with ``output_shape`` last."""
        query_shape = tuple(query_shape)
        return (*query_shape[:-1], *(self._output_dims or query_shape[-1:]))

    # --- Calling ----------------------------------------------------------------------------

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        if self.flash_attention and return_attention_scores:
            raise ValueError("return_attention_scores=True is not supported with flash_attention=True.")
        query_mask = getattr(query, "_keras_mask", None) if query_mask is None else query_mask
        value_mask = getattr(value, "_keras_mask", None) if value_mask is None else value_mask
        if (use_causal_mask or self.sliding_window is not None) and self._axes != (1,):
            raise ValueError(f"use_causal_mask and sliding_window need attention over axis 1 only (rank-3 inputs); this layer "
                             f"attends over axes {self._axes} of inputs of rank {query.ndim}.")
        if key is None:
            key = value
        elif key_mask is None:
            key_mask = getattr(key, "_keras_mask", None)
        causal_only = use_causal_mask and self.sliding_window is None and all(
            m is None for m in (query_mask, value_mask, key_mask, attention_mask))
        mask = None if causal_only else self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask)
        gate = self.gate_dense(query) if self.use_gate else None
        q, k, v = self.query_dense(query), self.key_dense(key), self.value_dense(value)
        # Keras' fused path (no dropout, no scores, rank-3 inputs) leaves fully masked rows uniform.
        fused_semantics = not (self.dropout > 0 or return_attention_scores or query.ndim != 3)
        attended, scores = self._attend(q, k, v, mask, causal_only, training, return_attention_scores, fused_semantics)
        outputs = self.output_dense(attended if gate is None else attended * gate)
        if query_mask is not None:
            outputs._keras_mask = query_mask
        return (outputs, scores) if return_attention_scores else outputs

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """Keras' ``_compute_attention_mask``: every mask given, as booleans, ANDed."""
        masks = [None if attention_mask is None else attention_mask.bool()]
        if query_mask is not None:
            masks.append(query_mask.bool().unsqueeze(-1))
        for m in (value_mask, key_mask):
            if m is not None:
                masks.append(m.bool().unsqueeze(-2))
        t, s = query.shape[1], value.shape[1]
        if use_causal_mask:
            masks.append(torch.ones(1, t, s, dtype=torch.bool, device=query.device).tril())
        if self.sliding_window is not None:
            distance = torch.arange(t, device=query.device)[:, None] - torch.arange(s, device=query.device)[None, :]
            masks.append((distance.abs() < self.sliding_window).unsqueeze(0))
        masks = [m for m in masks if m is not None]
        if not masks:
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out & m
        return out

    def _attend(self, q, k, v, mask, is_causal, training, return_scores, fused_semantics):
        """Attention over ``self._axes`` of the projected ``(batch, ..., H, dim)`` tensors:
        the other axes are folded into the batch, the attention axes into one sequence axis,
        so that one ``scaled_dot_product_attention`` (or, for the scores, one matmul) runs."""
        rank = q.ndim  # batch, middle axes, heads, dim
        folded = [0] + [a for a in range(1, rank - 2) if a not in self._axes]
        order = folded + [rank - 2, *self._axes, rank - 1]
        batch_sizes = [q.shape[a] for a in folded]
        target_sizes, source_sizes = [q.shape[a] for a in self._axes], [k.shape[a] for a in self._axes]

        def fold(x, sizes):
            return x.permute(order).reshape(math.prod(batch_sizes), self.num_heads, math.prod(sizes), x.shape[-1])

        qf, kf, vf = fold(q, target_sizes), fold(k, source_sizes), fold(v, source_sizes)
        keep = None if mask is None else self._fold_mask(mask, batch_sizes, target_sizes, source_sizes)
        scale = 1.0 / math.sqrt(self.key_dim)
        dropout = self.dropout if training else 0.0
        scores = None
        if return_scores and is_causal:
            keep = torch.ones(qf.shape[-2], kf.shape[-2], dtype=torch.bool, device=qf.device).tril()
        if return_scores:
            logits = (qf * scale) @ kf.transpose(-2, -1)
            if keep is not None:
                logits = logits.masked_fill(~keep, -3e4 if logits.dtype == torch.float16 else -1e9)  # Keras' Softmax fill
            weights = torch.softmax(logits, dim=-1)
            if keep is not None:
                weights = weights.masked_fill(~keep, 0.0)
            out = F.dropout(weights, dropout, True) @ vf if dropout else weights @ vf
            scores = weights.reshape(*batch_sizes, self.num_heads, *target_sizes, *source_sizes)
        else:
            additive = None
            if keep is not None:
                negative = _FUSED_NEGATIVE.get(qf.dtype, _FUSED_NEGATIVE_DEFAULT)
                additive = torch.zeros(keep.shape, dtype=qf.dtype, device=qf.device).masked_fill_(~keep, negative)
            out = F.scaled_dot_product_attention(qf, kf, vf, attn_mask=additive, dropout_p=dropout, is_causal=is_causal, scale=scale)
            if keep is not None and not fused_semantics:
                out = out * keep.any(dim=-1, keepdim=True).to(out.dtype)  # rows with no key: zero weights
        out = out.reshape(*batch_sizes, self.num_heads, *target_sizes, out.shape[-1])
        inverse = sorted(range(rank), key=order.__getitem__)
        return out.permute(inverse), scores

    def _fold_mask(self, mask, batch_sizes, target_sizes, source_sizes):
        """A Keras attention mask, broadcastable to the scores ``(folded..., H, T..., S...)``
        once axes are inserted before the query axes, as the folded ``(B', H | 1, T', S')``."""
        n = len(self._axes)
        rank = len(batch_sizes) + 1 + 2 * n
        while mask.ndim < rank:
            mask = mask.unsqueeze(-2 * n - 1)
        if len(batch_sizes) == 1 and n == 1:
            return mask  # already (B | 1, H | 1, T, S): SDPA broadcasts
        heads = mask.shape[len(batch_sizes)]
        mask = mask.expand(*batch_sizes, heads, *target_sizes, *source_sizes)
        return mask.reshape(math.prod(batch_sizes), heads, math.prod(target_sizes), math.prod(source_sizes))
