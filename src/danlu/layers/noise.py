"""Noise layers, active only while training (the identity in inference, as in Keras):
SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout.

Randomness comes from torch's global generator (``torch.manual_seed`` /
``danlu.utils.set_random_seed``), so seeded runs and resumed runs repeat; the Keras ``seed``
argument is accepted (and kept in the config) but does not fork a generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from danlu._validation import check_number
from danlu.layers.base import Layer
from danlu.layers.spatial import SpatialLayer, standardize_data_format

_SPATIAL_DROPOUT = {1: F.dropout1d, 2: F.dropout2d, 3: F.dropout3d}

# SELU's constants (Klambauer et al., 2017), as Keras writes them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class _SpatialDropout(SpatialLayer):
    supports_masking = True

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        check_number("rate", rate, low=0, high=1)
        self.rate, self.seed = rate, seed
        self.data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)

    def forward(self, inputs, training=None):
        if training and self.rate > 0:
            return super().forward(inputs, training=training)
        if inputs.ndim != self.rank + 2:
            self.channels_first_shape(tuple(inputs.shape))  # raises the rank error
        return inputs  # the inputs themselves, in either layout

    def call(self, inputs, training=None):
        return _SPATIAL_DROPOUT[self.rank](inputs, self.rate, True)


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels: while training each ``(sample, channel)`` of
    ``(batch, channels, steps)`` is zeroed with probability ``rate`` (Keras' noise shape
    ``(batch, 1, channels)`` in its layout), the rest scaled by ``1 / (1 - rate)``. Keras'
    SpatialDropout1D has no ``data_format`` (channels last); danlu's takes one (channels first
    by default)."""

    rank = 1

    def __init__(self, rate, seed=None, data_format=None, **kwargs):
        super().__init__(rate, data_format, seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of ``(batch, channels, height, width)``: each
    ``(sample, channel)`` zeroed with probability ``rate``, the rest scaled by ``1 / (1 - rate)``."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature volumes of ``(batch, channels, depth, height, width)``."""

    rank = 3


class GaussianNoise(Layer):
    """``inputs + N(0, stddev^2)`` noise while training. Keras accepts ``0 <= stddev <= 1``."""

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        check_number("stddev", stddev, low=0, high=1)
        self.stddev, self.seed = stddev, seed
        super().__init__(**kwargs)

    def call(self, inputs, training=None):
        if training and self.stddev > 0:
            return inputs + torch.randn_like(inputs) * self.stddev
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class GaussianDropout(Layer):
    """Multiplicative noise while training: ``inputs * N(1, rate / (1 - rate))``, which keeps
    the mean and has the variance of dropout at ``rate``. ``0 <= rate < 1`` (Keras accepts
    ``rate=1``, an infinite standard deviation; danlu refuses it)."""

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        check_number("rate", rate, low=0, high=1, high_open=True)
        self.rate, self.seed = rate, seed
        super().__init__(**kwargs)

    def call(self, inputs, training=None):
        if training and self.rate > 0:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            return inputs * (torch.randn_like(inputs) * stddev + 1.0)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class AlphaDropout(Layer):
    """Dropout that keeps SELU's self-normalisation: while training each value is dropped
    with probability ``rate`` to ``alpha' = -SELU_SCALE * SELU_ALPHA`` (SELU's limit at
    minus infinity), then ``a * x + b`` with ``a = ((1 - rate)(1 + rate alpha'^2))^(-1/2)`` and
    ``b = -a alpha' rate``, so inputs of mean 0 and variance 1 keep them.

    ``noise_shape`` (Keras): the shape of the drop mask, broadcast over the inputs, ``None``
    entries taking the input's size (in danlu's channels-first layout, e.g. ``(None, None, 1)``
    drops whole channels of ``(batch, channels, steps)``). ``0 <= rate < 1``.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        check_number("rate", rate, low=0, high=1, high_open=True)
        if noise_shape is not None and not (
            isinstance(noise_shape, (list, tuple)) and all(d is None or (isinstance(d, int) and d >= 1) for d in noise_shape)
        ):
            raise ValueError(
                f"noise_shape must be None or a tuple of positive ints / None; received noise_shape={noise_shape!r}."
            )
        self.rate, self.seed = rate, seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        super().__init__(**kwargs)

    def call(self, inputs, training=None):
        if not (training and self.rate > 0):
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != inputs.ndim:
                raise ValueError(f"noise_shape={self.noise_shape} does not match inputs of shape {tuple(shape)}.")
            shape = [n if d is None else d for n, d in zip(inputs.shape, self.noise_shape)]
        kept = torch.rand(shape, device=inputs.device) >= self.rate
        alpha_p = -SELU_ALPHA * SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return torch.where(kept, inputs, alpha_p) * a + b

    def compute_output_shape(self, input_shape):
        return input_shape
