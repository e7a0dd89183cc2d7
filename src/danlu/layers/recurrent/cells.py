"""`RecurrentCell`: what SimpleRNNCell, LSTMCell and GRUCell share (one time step each).

A cell holds ``G`` gate blocks of ``units`` each (SimpleRNN 1, GRU 3, LSTM 4) and three
weights, stored in PyTorch's layout with Keras' gate order so that torch's fused kernels take
them as they are (LSTM) or after one reordering (GRU):

- ``weight_ih`` ``(G * units, features)``: Keras' ``kernel`` ``(features, G * units)``
  transposed (``cell.kernel`` is that view);
- ``weight_hh`` ``(G * units, units)``: Keras' ``recurrent_kernel`` transposed;
- ``bias``: Keras' shape (``(G * units,)``; GRU with ``reset_after=True`` ``(2, 3 * units)``).

`get_weights` / `set_weights` speak Keras' arrays. Keras' defaults: ``glorot_uniform``
kernels (fans of Keras' ``(features, G * units)``), ``orthogonal`` recurrent kernels, zero
biases. A step is split in two so that a layer can project the whole sequence at once:
``project_inputs(x)`` (``x @ kernel + bias``, any leading axes) and
``recurrent_step(projected_t, states)``.

Dropout (Keras' ``DropoutRNNCell``): ``dropout`` drops input features, ``recurrent_dropout``
state features, with masks drawn once per sequence (``get_dropout_mask`` /
``get_recurrent_dropout_mask`` cache them; the RNN layer resets them after each call) and used
at every step. With ``recurrent_dropout`` (Keras' ``implementation=1``) each gate block gets its
own mask. Masks come from torch's global generator; ``seed`` is accepted for Keras
compatibility. Rates must lie in ``[0, 1)`` (Keras clamps out-of-range values silently).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu import activations, constraints, initializers, regularizers
from danlu._validation import check_number, check_positive_int
from danlu.layers.base import Layer

#: The activations torch's fused kernels compute (danlu's by name, and torch's own functions).
TANH = (activations.get("tanh"), torch.tanh, F.tanh, torch.Tensor.tanh)
SIGMOID = (activations.get("sigmoid"), torch.sigmoid, F.sigmoid, torch.Tensor.sigmoid)
RELU = (activations.get("relu"), torch.relu, F.relu, torch.Tensor.relu)


def is_one_of(function, functions) -> bool:
    return any(function is f for f in functions)


def gated_linear(x, weight, bias, masks, gates):
    """``x @ weight.T + bias`` where ``masks`` (one tensor, or one per gate block) drop
    features of ``x`` first."""
    if masks is None:
        return F.linear(x, weight, bias)
    if isinstance(masks, torch.Tensor):
        return F.linear(x * masks, weight, bias)
    biases = bias.chunk(gates) if bias is not None else [None] * gates
    return torch.cat([F.linear(x * m, w, b) for m, w, b in zip(masks, weight.chunk(gates), biases)], dim=-1)


class RecurrentCell(Layer):
    """Base of the built-in cells; a subclass sets ``gates`` and writes `recurrent_step`
    (and `fused_parameters` where a torch kernel computes it)."""

    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, implementation=2, **kwargs):
        check_positive_int("units", units)
        check_number("dropout", dropout, low=0, high=1, high_open=True)
        check_number("recurrent_dropout", recurrent_dropout, low=0, high=1, high_open=True)
        if implementation not in (1, 2):
            raise ValueError(f"implementation must be 1 or 2; received implementation={implementation!r}.")
        # Unknown names fail here, before any weight exists.
        for value in (kernel_initializer, recurrent_initializer, bias_initializer):
            initializers.get(value)
        for value in (kernel_regularizer, recurrent_regularizer, bias_regularizer):
            regularizers.get(value)
        for value in (kernel_constraint, recurrent_constraint, bias_constraint):
            constraints.get(value)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint, self.recurrent_constraint = kernel_constraint, recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), float(recurrent_dropout), seed
        # Keras: recurrent dropout switches to implementation 1 (one mask per gate block).
        self.implementation = 1 if recurrent_dropout else implementation
        self._dropout_mask = self._recurrent_dropout_mask = None
        super().__init__(**kwargs)

    # --- Sizes and weights -------------------------------------------------------------------

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, input_shape):
        features, size = input_shape[-1], self.gates * self.units
        if features is None:
            raise ValueError(f"{type(self).__name__} needs a known feature size; received input shape {tuple(input_shape)}.")
        self.add_weight(shape=(size, features), initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, name="weight_ih", keras_name="kernel",
                        fans=(float(features), float(size)), keras_layout=(1, 0))
        self.add_weight(shape=(size, self.units), initializer=self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint, name="weight_hh",
                        keras_name="recurrent_kernel", fans=(float(self.units), float(size)), keras_layout=(1, 0))
        if self.use_bias:
            self.add_weight(shape=self.bias_shape(), initializer=self.bias_initial_values(), regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None

    def bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def bias_initial_values(self):
        return self.bias_initializer

    @property
    def kernel(self):
        """Keras' ``kernel`` ``(features, G * units)``: a view of ``weight_ih``."""
        return self.weight_ih.T

    @property
    def recurrent_kernel(self):
        """Keras' ``recurrent_kernel`` ``(units, G * units)``: a view of ``weight_hh``."""
        return self.weight_hh.T

    def get_initial_state(self, batch_size=None):
        """Zeros of ``(batch_size, size)`` for each state (Keras)."""
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        like = self.weight_ih if self.built else None
        device = None if like is None else like.device
        dtype = self.dtype_policy.torch_compute_dtype
        return [torch.zeros(batch_size, size, device=device, dtype=dtype) for size in sizes]

    def zero_states_like(self, sequences):
        """Zero states for ``sequences`` (its batch, dtype and device)."""
        zeros = sequences.new_zeros((sequences.shape[0], self.units))
        sizes = self.state_size
        return [zeros] * (len(sizes) if isinstance(sizes, (list, tuple)) else 1)

    def check_sequences(self, layer_name, sequences):
        """Raise ``ValueError`` unless ``sequences`` have the feature size the cell was built for."""
        features = self._parameters["weight_ih"].shape[1]
        if sequences.shape[-1] != features:
            raise ValueError(f"{layer_name} was built for {features} input features; received inputs of shape "
                             f"{tuple(sequences.shape)}.")

    # --- One step ----------------------------------------------------------------------------

    def input_bias(self):
        return self.bias

    def project_inputs(self, inputs, masks=None):
        """``inputs @ kernel + bias`` (per gate block when ``masks`` is a list); any leading axes."""
        return gated_linear(inputs, self.weight_ih, self.input_bias(), masks, self.gates)

    def recurrent_step(self, projected, states, recurrent_masks=None):
        """``(output, new_states)`` from the projected input of one step and the states."""
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        """One step, as Keras' cells: ``(output, new_states)``."""
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        masks = self.get_dropout_mask(inputs) if training and self.dropout else None
        recurrent_masks = self.get_recurrent_dropout_mask(states[0]) if training and self.recurrent_dropout else None
        output, new_states = self.recurrent_step(self.project_inputs(inputs, masks), states, recurrent_masks)
        return output, new_states if nested or len(new_states) > 1 else new_states[0]

    def fused_parameters(self):
        """``(kind, parameters, has_biases)`` for ``torch._VF.<kind>`` when a fused torch
        kernel computes this cell exactly, else None."""
        return None

    # --- Dropout masks (Keras' DropoutRNNCell) -------------------------------------------------

    def _mask_count(self):
        return self.gates if self.implementation == 1 and self.gates > 1 else None

    def _make_masks(self, step_input, rate):
        ones = torch.ones_like(step_input)
        count = self._mask_count()
        if count is None:
            return F.dropout(ones, rate, training=True)
        return [F.dropout(ones, rate, training=True) for _ in range(count)]

    # The masks are cached in __dict__ directly: a Layer's __setattr__ costs more than the step.

    def get_dropout_mask(self, step_input):
        """The input dropout mask(s) of the current sequence (drawn on first use)."""
        if self._dropout_mask is None and self.dropout > 0:
            self.__dict__["_dropout_mask"] = self._make_masks(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input):
        """The state dropout mask(s) of the current sequence (drawn on first use)."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self.__dict__["_recurrent_dropout_mask"] = self._make_masks(step_input, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        self.__dict__["_dropout_mask"] = None

    def reset_recurrent_dropout_mask(self):
        self.__dict__["_recurrent_dropout_mask"] = None

    def zero_bias(self):
        """Zeros shaped as ``bias``: the second bias torch's kernels add (cached, except the
        fake tensors of shape inference)."""
        zeros = self.__dict__.get("_zero_bias")
        bias = self._parameters["bias"]
        if zeros is None or zeros.dtype != bias.dtype or zeros.device != bias.device:  # (shapes are fixed once built)
            zeros = torch.zeros(bias.shape, dtype=bias.dtype, device=bias.device)
            if type(zeros) is torch.Tensor:
                self.__dict__["_zero_bias"] = zeros
        return zeros


def reset_dropout_masks(cell) -> None:
    """Forget the cached dropout masks of ``cell`` and of any cell stacked in it."""
    if isinstance(cell, RecurrentCell):
        cell.__dict__["_dropout_mask"] = cell.__dict__["_recurrent_dropout_mask"] = None
        return
    for inner in getattr(cell, "cells", ()):
        reset_dropout_masks(inner)
    if hasattr(cell, "reset_dropout_mask"):
        cell.reset_dropout_mask()
    if hasattr(cell, "reset_recurrent_dropout_mask"):
        cell.reset_recurrent_dropout_mask()
