"""Convolution and pooling layers, channels first (PyTorch's layout: ``(batch, channels, ...)``).

``padding="same"`` pads as Keras / TensorFlow do (the extra pixel, if any, at the end), which
also works with strides; ``"valid"`` does not pad.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from danlu._validation import check_positive_int
from danlu.layers.base import KernelLayer, Layer


def _tuple(value, rank, name):
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{name} must be a positive int or a tuple of {rank} positive ints; received {name}={value!r}.")
    return values


def _padding(padding):
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'; received padding={padding!r}.")
    return padding


def same_padding(spatial_shape, kernel_size, strides, dilation=None):
    """``F.pad`` widths giving TensorFlow's "same" output size ``ceil(size / stride)``."""
    dilation = dilation or (1,) * len(kernel_size)
    pads = []
    for size, k, s, d in zip(spatial_shape, kernel_size, strides, dilation):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
    return [p for pair in reversed(pads) for p in pair]


class _Conv(KernelLayer):
    rank = 2

    def __init__(
        self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, groups=1, activation=None,
        use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
        bias_regularizer=None, **kwargs,
    ):
        check_positive_int("filters", filters)
        self.filters = filters
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size")
        self.strides = _tuple(strides, self.rank, "strides")
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = _padding(padding)
        self.groups = groups
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, **kwargs)

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank {self.rank + 2} (batch, channels, "
                f"{'spatial, ' * self.rank}...); received shape {tuple(input_shape)}."
            )
        channels = input_shape[1]
        if channels % self.groups or self.filters % self.groups:
            raise ValueError(f"channels ({channels}) and filters ({self.filters}) must be divisible by groups={self.groups}.")
        receptive = math.prod(self.kernel_size)
        fans = (channels // self.groups * receptive, self.filters // self.groups * receptive)
        layout = (*range(2, self.rank + 2), 1, 0)  # (out, in, *k) -> Keras' (*k, in, out)
        self.add_kernel_and_bias((self.filters, channels // self.groups, *self.kernel_size), self.filters, fans, keras_layout=layout)

    def call(self, inputs):
        if self.padding == "same":
            inputs = F.pad(inputs, same_padding(inputs.shape[2:], self.kernel_size, self.strides, self.dilation_rate))
        conv = F.conv2d if self.rank == 2 else F.conv1d
        return self.activation(conv(inputs, self.weight, self.bias, self.strides, 0, self.dilation_rate, self.groups))

    @property
    def kernel(self):
        """The kernel, in PyTorch's layout ``(filters, channels / groups, *kernel_size)``."""
        return self.weight


class Conv2D(_Conv):
    """2-D convolution over ``(batch, channels, height, width)`` inputs.

    Keras arguments and defaults: ``filters``, ``kernel_size``, ``strides=1``,
    ``padding="valid"``, ``dilation_rate=1``, ``groups=1``, ``activation=None``,
    ``use_bias=True``, ``kernel_initializer="glorot_uniform"``, ``bias_initializer="zeros"``,
    regularizers. The kernel has PyTorch's shape ``(filters, channels, kh, kw)``.
    """

    rank = 2


class Conv1D(_Conv):
    """1-D convolution over ``(batch, channels, steps)`` inputs; arguments as `Conv2D`."""

    rank = 1


class _Pooling2D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        self.pool_size = _tuple(pool_size, 2, "pool_size")
        self.strides = _tuple(strides, 2, "strides") if strides is not None else self.pool_size
        self.padding = _padding(padding)
        super().__init__(**kwargs)

    def _pad(self, inputs, value):
        if self.padding == "valid":
            return inputs
        return F.pad(inputs, same_padding(inputs.shape[2:], self.pool_size, self.strides), value=value)


class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows (Keras: 2x2, strides = pool_size, "valid")."""

    def call(self, inputs):
        return F.max_pool2d(self._pad(inputs, float("-inf")), self.pool_size, self.strides)


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows; with "same" padding the padded cells are not counted."""

    def call(self, inputs):
        if self.padding == "valid":
            return F.avg_pool2d(inputs, self.pool_size, self.strides)
        padded = self._pad(inputs, 0.0)
        ones = self._pad(torch.ones_like(inputs[:1, :1]), 0.0)
        counts = F.avg_pool2d(ones, self.pool_size, self.strides)
        return F.avg_pool2d(padded, self.pool_size, self.strides) / counts


class GlobalAveragePooling2D(Layer):
    """Mean over the spatial axes: ``(batch, channels, h, w) -> (batch, channels)``
    (``keepdims=True`` keeps them as size 1)."""

    def __init__(self, keepdims=False, **kwargs):
        self.keepdims = keepdims
        super().__init__(**kwargs)

    def call(self, inputs):
        return inputs.mean(dim=(2, 3), keepdim=self.keepdims)


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """Maximum over the spatial axes."""

    def call(self, inputs):
        return inputs.amax(dim=(2, 3), keepdim=self.keepdims)
