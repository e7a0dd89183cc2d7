"""GRUCell and GRU (Cho et al., 2014), Keras' gate order ``z, r, h``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu import activations
from danlu.layers.recurrent.cells import SIGMOID, TANH, RecurrentCell, gated_linear, is_one_of
from danlu.layers.recurrent.rnn import CellRNN


class GRUCell(RecurrentCell):
    """One GRU step (``sigma`` = ``recurrent_activation``, ``act`` = ``activation``):

        [x_z, x_r, x_h] = x_t @ kernel + b_in
        z = sigma(x_z + h_{t-1} @ R_z + b_z),  r = sigma(x_r + h_{t-1} @ R_r + b_r)
        reset_after=True  (default, cuDNN's form): hh = act(x_h + r * (h_{t-1} @ R_h + b_h))
        reset_after=False (the original form):     hh = act(x_h + (r * h_{t-1}) @ R_h)
        h_t = z * h_{t-1} + (1 - z) * hh

    With ``reset_after=True`` the bias has Keras' shape ``(2, 3 * units)``: row 0 the input
    bias ``b_in``, row 1 the recurrent one; otherwise ``(3 * units,)``, input side only. Keras
    3.15 arguments and defaults: ``units``, ``activation="tanh"``,
    ``recurrent_activation="sigmoid"``, ``use_bias=True``, ``kernel_initializer="glorot_uniform"``,
    ``recurrent_initializer="orthogonal"``, ``bias_initializer="zeros"``, regularizers and
    constraints, ``dropout=0``, ``recurrent_dropout=0``, ``reset_after=True``, ``seed=None``,
    ``implementation=2``. PyTorch's GRU is the ``reset_after=True`` form with gates ``r, z, n``:
    the fused path reorders the weight blocks for it on each call.
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, implementation=2, **kwargs):
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, implementation, **kwargs)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        if self.bias is None:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def recurrent_step(self, projected, states, recurrent_masks=None):
        h, u = states[0], self.units
        x_z, x_r, x_h = projected.chunk(3, dim=-1)
        sigma = self.recurrent_activation
        if self.reset_after:
            recurrent_bias = None if self.bias is None else self.bias[1]
            inner = gated_linear(h, self.weight_hh, recurrent_bias, recurrent_masks, 3)
            r_z, r_r, r_h = inner.chunk(3, dim=-1)
            z, r = sigma(x_z + r_z), sigma(x_r + r_r)
            hh = self.activation(x_h + r * r_h)
        else:
            masks = recurrent_masks[:2] if recurrent_masks is not None else None
            inner = gated_linear(h, self.weight_hh[: 2 * u], None, masks, 2)
            z, r = sigma(x_z + inner[..., :u]), sigma(x_r + inner[..., u:])
            h_h = h * recurrent_masks[2] if recurrent_masks is not None else h
            hh = self.activation(x_h + F.linear(r * h_h, self.weight_hh[2 * u:]))
        h = z * h + (1 - z) * hh
        return h, [h]

    def fused_parameters(self):
        if not (self.reset_after and is_one_of(self.activation, TANH) and is_one_of(self.recurrent_activation, SIGMOID)):
            return None
        params = [torch_gate_order(self.weight_ih, self.units), torch_gate_order(self.weight_hh, self.units)]
        if self.bias is None:
            return "gru", params, False
        return "gru", params + [torch_gate_order(self.bias[0], self.units), torch_gate_order(self.bias[1], self.units)], True


def torch_gate_order(weight, units):
    """Rows in Keras' gate blocks ``z, r, h`` -> PyTorch's ``r, z, n``."""
    return torch.cat([weight[units: 2 * units], weight[:units], weight[2 * units:]])


class GRU(CellRNN):
    """Gated Recurrent Unit over ``(batch, timesteps, features)`` inputs (Keras' layout).

    ``GRU(units, **arguments)``: the cell's arguments (`GRUCell`, ``reset_after=True`` among
    them) and the layer's (`RNN`), plus ``use_cudnn="auto"``, ``activity_regularizer``, ``name``,
    ``dtype``, ``trainable``, ``input_shape``; Keras 3.15's defaults. Returns the last output,
    the sequence with ``return_sequences``, and ``h`` with ``return_state``. Weights (Keras):
    ``kernel`` ``(features, 3u)``, ``recurrent_kernel`` ``(u, 3u)``, ``bias`` ``(2, 3u)``
    (``(3u,)`` with ``reset_after=False``).

    Speed: with ``reset_after=True``, ``tanh`` / ``sigmoid``, no active recurrent dropout and no
    mask or a one-run-per-sequence mask, torch's fused GRU computes it; else Keras' step loop.
    """

    cell_class = GRUCell
    cell_name = "gru_cell"
    takes_use_cudnn = True
