"""ConvLSTM1D / 2D / 3D (Shi et al., 2015): an LSTM whose products are convolutions.

    [z_i, z_f, z_c, z_o] = conv(x_t, kernel) + bias + conv_same(h_{t-1}, recurrent_kernel)
    c_t = sigma(z_f) * c_{t-1} + sigma(z_i) * act(z_c),   h_t = sigma(z_o) * act(c_t)

The input convolution has the layer's ``strides`` / ``padding`` / ``dilation_rate``; the
recurrent one has stride 1 and "same" padding (TensorFlow's: the extra pixel at the end).
Layout: danlu's channels-first by default, inputs ``(batch, time, channels, *spatial)`` and
states ``(batch, filters, *spatial_out)``; ``data_format="channels_last"`` takes Keras' default
layout ``(batch, time, *spatial, channels)`` (permuted around the channels-first computation).
Weights in Keras' layout: ``kernel`` ``(*kernel_size, channels, 4 * filters)``,
``recurrent_kernel`` ``(*kernel_size, filters, 4 * filters)``, ``bias`` ``(4 * filters,)``;
stored as PyTorch convolution weights ``(4 * filters, channels, *kernel_size)``. Dropout as
Keras': one mask per gate block for the inputs and for the state.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from danlu import activations
from danlu._validation import check_positive_int
from danlu.layers.recurrent.cells import RecurrentCell
from danlu.layers.recurrent.lstm import unit_forget_bias
from danlu.layers.recurrent.rnn import CellRNN

_CONVOLUTIONS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _as_tuple(value, rank, name, low=1):
    values = (value,) * rank if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    if len(values) != rank or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values):
        raise ValueError(f"{name} must be an int >= {low} or a tuple of {rank} of them; received {name}={value!r}.")
    return values


def same_pads(sizes, kernel, strides, dilation):
    """``F.pad`` widths of TensorFlow's "same" padding (output size ``ceil(size / stride)``)."""
    pads = []
    for size, k, s, d in zip(sizes, kernel, strides, dilation):
        effective = (k - 1) * d + 1
        total = effective - 1 if s == 1 else max(0, (math.ceil(size / s) - 1) * s + effective - size)
        pads.append((total // 2, total - total // 2))
    return [p for pair in reversed(pads) for p in pair]


class ConvLSTMCell(RecurrentCell):
    """One ConvLSTM step over channels-first inputs ``(batch, channels, *spatial)``; Keras'
    arguments and defaults (``rank`` first, as Keras' cell; no ``data_format``: the layer
    handles it)."""

    gates = 4

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        if rank not in _CONVOLUTIONS:
            raise ValueError(f"rank must be 1, 2 or 3; received rank={rank!r}.")
        check_positive_int("filters", filters)
        self.rank = rank
        self.kernel_size = _as_tuple(kernel_size, rank, "kernel_size")
        self.strides = _as_tuple(strides, rank, "strides")
        self.dilation_rate = _as_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"strides > 1 and dilation_rate > 1 cannot be combined; received strides={strides!r}, "
                             f"dilation_rate={dilation_rate!r}.")
        self.padding = padding.lower() if isinstance(padding, str) else padding
        if self.padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same'; received padding={padding!r}.")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.spatial_dims = None
        super().__init__(filters, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, implementation=1, **kwargs)

    @property
    def filters(self):
        return self.units

    @property
    def state_size(self):
        return [self.units, self.units]

    def _mask_count(self):
        return 4  # Keras' ConvLSTM cell always draws one mask per gate

    def build(self, input_shape):
        channels, spatial = input_shape[1], tuple(input_shape[2:])
        if len(spatial) != self.rank or channels is None or None in spatial:
            raise ValueError(f"ConvLSTM{self.rank}D needs steps of known shape (batch, channels, {self.rank} spatial sizes); "
                             f"received {tuple(input_shape)}.")
        self.spatial_dims = spatial
        receptive, size = math.prod(self.kernel_size), 4 * self.units
        layout = (*range(2, self.rank + 2), 1, 0)  # (out, in, *k) -> Keras' (*k, in, out)
        for name, keras_name, inputs, initializer, regularizer, constraint in (
            ("weight_ih", "kernel", channels, self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint),
            ("weight_hh", "recurrent_kernel", self.units, self.recurrent_initializer, self.recurrent_regularizer,
             self.recurrent_constraint),
        ):
            self.add_weight(shape=(size, inputs, *self.kernel_size), initializer=initializer, regularizer=regularizer,
                            constraint=constraint, name=name, keras_name=keras_name, keras_layout=layout,
                            fans=(float(inputs * receptive), float(size * receptive)))
        if self.use_bias:
            initial = unit_forget_bias(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer
            self.add_weight(shape=(size,), initializer=initial, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None

    @property
    def kernel(self):
        return self.weight_ih.permute(*range(2, self.rank + 2), 1, 0)

    @property
    def recurrent_kernel(self):
        return self.weight_hh.permute(*range(2, self.rank + 2), 1, 0)

    def output_spatial(self, spatial):
        if self.padding == "same":
            return tuple(math.ceil(n / s) for n, s in zip(spatial, self.strides))
        return tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, self.kernel_size, self.strides,
                                                                            self.dilation_rate))

    def get_initial_state(self, batch_size=None):
        weight = self.weight_ih
        shape = (batch_size, self.units, *self.output_spatial(self.spatial_dims))
        return [torch.zeros(shape, dtype=weight.dtype, device=weight.device) for _ in range(2)]

    def zero_states_like(self, sequences):
        zeros = sequences.new_zeros((sequences.shape[0], self.units, *self.output_spatial(sequences.shape[-self.rank:])))
        return [zeros, zeros]

    def check_sequences(self, layer_name, sequences):
        channels = self._parameters["weight_ih"].shape[1]
        if sequences.shape[2] != channels:
            raise ValueError(f"{layer_name} was built for {channels} input channels; received inputs of shape "
                             f"{tuple(sequences.shape)} (batch, time, channels, *spatial).")

    def _convolve(self, x, weight, bias, strides, dilation, same):
        if same:
            x = F.pad(x, same_pads(x.shape[2:], self.kernel_size, strides, dilation))
        return _CONVOLUTIONS[self.rank](x, weight, bias, strides, 0, dilation)

    def project_inputs(self, inputs, masks=None):
        """The input convolution (and bias) of steps with any leading axes."""
        lead, step = inputs.shape[: -(self.rank + 1)], inputs.shape[-(self.rank + 1):]
        same = self.padding == "same"

        def convolve(x, weight, bias):
            out = self._convolve(x.reshape(-1, *step), weight, bias, self.strides, self.dilation_rate, same)
            return out.reshape(*lead, *out.shape[1:])

        if masks is None:
            return convolve(inputs, self.weight_ih, self.bias)
        biases = self.bias.chunk(4) if self.bias is not None else [None] * 4
        blocks = zip(masks, self.weight_ih.chunk(4), biases)
        return torch.cat([convolve(inputs * m, w, b) for m, w, b in blocks], dim=-(self.rank + 1))

    def recurrent_step(self, projected, states, recurrent_masks=None):
        h, c = states[0], states[1]
        ones = (1,) * self.rank
        if recurrent_masks is None:
            z = projected + self._convolve(h, self.weight_hh, None, ones, ones, True)
        else:
            z = projected + torch.cat([self._convolve(h * m, w, None, ones, ones, True)
                                       for m, w in zip(recurrent_masks, self.weight_hh.chunk(4))], dim=1)
        z_i, z_f, z_c, z_o = z.chunk(4, dim=1)
        sigma, act = self.recurrent_activation, self.activation
        c = sigma(z_f) * c + sigma(z_i) * act(z_c)
        h = sigma(z_o) * act(c)
        return h, [h, c]


class _ConvLSTM(CellRNN):
    rank = 2
    cell_class = ConvLSTMCell
    cell_name = "conv_lstm_cell"
    cell_positional = ("filters", "kernel_size")

    def __init__(self, filters, kernel_size, data_format="channels_first", **kwargs):
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' (danlu's default) or 'channels_last'; received "
                             f"data_format={data_format!r}.")
        self.data_format = data_format
        self.input_rank = self.rank + 3
        self._init_cell_and_layer((self.rank, filters, kernel_size), kwargs)

    def _channels_first(self, tensor, channel_axis):
        return tensor.movedim(-1, channel_axis) if self.data_format == "channels_last" else tensor

    def _channels_back(self, tensor, channel_axis):
        return tensor.movedim(channel_axis, -1) if self.data_format == "channels_last" else tensor

    def build(self, sequences_shape):
        shape = tuple(sequences_shape)
        if self.data_format == "channels_last" and len(shape) == self.rank + 3:
            shape = (*shape[:2], shape[-1], *shape[2:-1])
        super().build(shape)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        if self.data_format == "channels_last":
            sequences = self._channels_first(sequences, 2)
            if initial_state is not None:
                initial_state = [self._channels_first(torch.as_tensor(s), 1) for s in initial_state]
        result = super().call(sequences, initial_state=initial_state, mask=mask, training=training)
        if self.data_format == "channels_first":
            return result
        outputs = result if not self.return_state else result[0]
        outputs = self._channels_back(outputs, 2 if self.return_sequences else 1)
        if self.return_state:
            return (outputs, *(self._channels_back(s, 1) for s in result[1:]))
        return outputs

    def get_config(self):
        config = super().get_config()
        config.pop("rank", None)
        config["data_format"] = self.data_format
        return config


class ConvLSTM1D(_ConvLSTM):
    """1-D convolutional LSTM over ``(batch, time, channels, steps)`` (channels first; Keras'
    ``(batch, time, steps, channels)`` with ``data_format="channels_last"``). ``ConvLSTM1D(filters,
    kernel_size, strides=1, padding="valid", data_format="channels_first", dilation_rate=1, ...)``
    with the cell arguments of `ConvLSTMCell` and the layer arguments of `RNN`."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """2-D convolutional LSTM over ``(batch, time, channels, rows, cols)`` (channels first; Keras'
    ``(batch, time, rows, cols, channels)`` with ``data_format="channels_last"``). Arguments as
    Keras 3.15 (``filters``, ``kernel_size``, ``strides=1``, ``padding="valid"``,
    ``dilation_rate=1``, ``activation="tanh"``, ``recurrent_activation="sigmoid"``,
    ``unit_forget_bias=True``, initializers, regularizers, constraints, ``dropout``,
    ``recurrent_dropout``, ``seed``, ``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``), ``data_format`` defaulting to danlu's ``"channels_first"``."""

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """3-D convolutional LSTM over ``(batch, time, channels, d1, d2, d3)``; as `ConvLSTM2D`."""

    rank = 3
