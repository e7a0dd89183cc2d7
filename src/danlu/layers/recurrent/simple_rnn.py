"""SimpleRNNCell and SimpleRNN: ``h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``."""

from __future__ import annotations

import torch.nn.functional as F

from danlu.layers.recurrent.cells import RELU, TANH, RecurrentCell, is_one_of
from danlu.layers.recurrent.rnn import CellRNN


class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected RNN whose output is its state:

        h_t = activation((x_t * d) @ kernel + bias + (h_{t-1} * d_r) @ recurrent_kernel)

    with ``d`` / ``d_r`` the dropout masks while training. Keras 3.15 arguments and defaults:
    ``units``, ``activation="tanh"``, ``use_bias=True``, ``kernel_initializer="glorot_uniform"``,
    ``recurrent_initializer="orthogonal"``, ``bias_initializer="zeros"``, regularizers and
    constraints of ``kernel`` / ``recurrent_kernel`` / ``bias``, ``dropout=0``,
    ``recurrent_dropout=0``, ``seed=None``. Weights: see `RecurrentCell`. With ``tanh`` or
    ``relu`` the layer runs torch's fused ``rnn_tanh`` / ``rnn_relu`` kernel.
    """

    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, **kwargs)

    def _mask_count(self):
        return None  # Keras' SimpleRNNCell draws one mask, whatever the implementation

    def recurrent_step(self, projected, states, recurrent_masks=None):
        h = states[0]
        if recurrent_masks is not None:
            h = h * recurrent_masks
        output = self.activation(projected + F.linear(h, self.weight_hh))
        return output, [output]

    def fused_parameters(self):
        if is_one_of(self.activation, TANH):
            kind = "rnn_tanh"
        elif is_one_of(self.activation, RELU):
            kind = "rnn_relu"
        else:
            return None
        if self.bias is None:
            return kind, [self.weight_ih, self.weight_hh], False
        return kind, [self.weight_ih, self.weight_hh, self.bias, self.zero_bias()], True


class SimpleRNN(CellRNN):
    """A fully connected RNN over ``(batch, timesteps, features)`` inputs (Keras' layout).

    ``SimpleRNN(units, **arguments)``: the cell's arguments (`SimpleRNNCell`: ``activation``,
    ``use_bias``, initializers, regularizers, constraints, ``dropout``, ``recurrent_dropout``,
    ``seed``) and the layer's (`RNN`: ``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``unroll``), with Keras 3.15's defaults, plus ``activity_regularizer``, ``name``,
    ``dtype``, ``trainable``, ``input_shape``. Weights (Keras): ``kernel`` ``(features, units)``,
    ``recurrent_kernel`` ``(units, units)``, ``bias`` ``(units,)``.
    """

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"
