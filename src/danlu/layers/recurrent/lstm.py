"""LSTMCell and LSTM (Hochreiter & Schmidhuber, 1997), Keras' gate order ``i, f, c, o``."""

from __future__ import annotations

import torch

from danlu import activations, initializers
from danlu.layers.recurrent.cells import SIGMOID, TANH, RecurrentCell, gated_linear, is_one_of
from danlu.layers.recurrent.rnn import CellRNN


class LSTMCell(RecurrentCell):
    """One LSTM step (``sigma`` = ``recurrent_activation``, ``act`` = ``activation``):

        [z_i, z_f, z_c, z_o] = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias
        c_t = sigma(z_f) * c_{t-1} + sigma(z_i) * act(z_c)
        h_t = sigma(z_o) * act(c_t)           states [h_t, c_t], output h_t

    Keras 3.15 arguments and defaults: ``units``, ``activation="tanh"``,
    ``recurrent_activation="sigmoid"``, ``use_bias=True``, ``kernel_initializer="glorot_uniform"``,
    ``recurrent_initializer="orthogonal"``, ``bias_initializer="zeros"``,
    ``unit_forget_bias=True`` (the forget block of the bias starts at 1), regularizers and
    constraints, ``dropout=0``, ``recurrent_dropout=0``, ``seed=None``, ``implementation=2``.
    The gate order is PyTorch's too, so with ``tanh`` / ``sigmoid`` ``torch._VF.lstm`` takes the
    weights as stored (its second bias is zero).
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, implementation=2, **kwargs):
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, implementation, **kwargs)

    @property
    def state_size(self):
        return [self.units, self.units]

    def bias_initial_values(self):
        return unit_forget_bias(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer

    def recurrent_step(self, projected, states, recurrent_masks=None):
        h, c = states[0], states[1]
        z = projected + gated_linear(h, self.weight_hh, None, recurrent_masks, 4)
        z_i, z_f, z_c, z_o = z.chunk(4, dim=-1)
        sigma, act = self.recurrent_activation, self.activation
        c = sigma(z_f) * c + sigma(z_i) * act(z_c)
        h = sigma(z_o) * act(c)
        return h, [h, c]

    def fused_parameters(self):
        if not (is_one_of(self.activation, TANH) and is_one_of(self.recurrent_activation, SIGMOID)):
            return None
        if self.bias is None:
            return "lstm", [self.weight_ih, self.weight_hh], False
        return "lstm", [self.weight_ih, self.weight_hh, self.bias, self.zero_bias()], True


def unit_forget_bias(bias_initializer, units):
    """Keras' ``unit_forget_bias`` initializer: ``[init(u), ones(u), init(2u)]`` (gates i, f, c, o)."""
    base = initializers.get(bias_initializer)

    def initialize(shape, dtype=None, fans=None):
        parts = [torch.as_tensor(base((units,), dtype)), torch.ones(units, dtype=dtype), torch.as_tensor(base((2 * units,), dtype))]
        return torch.cat([p.to(dtype) for p in parts])

    return initialize


class LSTM(CellRNN):
    """Long Short-Term Memory over ``(batch, timesteps, features)`` inputs (Keras' layout).

    ``LSTM(units, **arguments)``: the cell's arguments (`LSTMCell`) and the layer's (`RNN`:
    ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``, ``unroll``), plus
    ``use_cudnn="auto"`` (``False`` always takes the step loop; ``True`` raises where torch's
    fused kernel cannot run), ``activity_regularizer``, ``name``, ``dtype``, ``trainable``,
    ``input_shape``; Keras 3.15's defaults. Returns the last output ``(batch, units)``, the
    sequence with ``return_sequences``, and ``h``, ``c`` after it with ``return_state``. Weights
    (Keras): ``kernel`` ``(features, 4u)``, ``recurrent_kernel`` ``(u, 4u)``, ``bias`` ``(4u,)``.

    Speed: with ``tanh`` / ``sigmoid``, no active recurrent dropout and no mask, or a mask whose
    valid steps are one run per sequence (right- or left-padded), torch's fused LSTM computes it
    (cuDNN on GPUs; packed sequences under masks); anything else takes Keras' step loop.
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"
    takes_use_cudnn = True
