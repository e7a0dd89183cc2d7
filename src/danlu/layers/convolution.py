"""Convolutions: Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D.

Inputs are channels first, ``(batch, channels, *spatial)`` (``data_format="channels_last"``
takes Keras' layout; see `danlu.layers.spatial`). Each layer runs one torch kernel
(``F.conv{1,2,3}d`` / ``F.conv_transpose{1,2,3}d``) with its weights kept in the layout that
kernel wants; `get_weights` / `set_weights` speak Keras' layout:

=====================  ===============================  =========================================
layer                  torch tensor                     Keras' weight (get_weights)
=====================  ===============================  =========================================
ConvND                 ``weight (filters, in/groups,    ``kernel (*k, in/groups, filters)``,
                       *k)``, ``bias (filters,)``       ``bias``
ConvNDTranspose        ``weight (in, filters, *k)``     ``kernel (*k, filters, in)``, ``bias``
DepthwiseConvND        ``kernel (in, multiplier, *k)``  ``kernel (*k, in, multiplier)``, ``bias``
SeparableConvND        ``depthwise_kernel (in, mult,    ``depthwise_kernel (*k, in, mult)``,
                       *k)``, ``pointwise_kernel        ``pointwise_kernel (1.., in*mult,
                       (filters, in*mult, 1..)``        filters)``, ``bias``
=====================  ===============================  =========================================

Initializers see Keras' fans (``receptive field x in`` and ``receptive field x out`` of the
Keras kernel), so ``glorot_uniform`` draws from the same range as Keras. Padding: "valid"
(none), "same" (TensorFlow's rule: output ``ceil(n / s)``, the odd pixel padded at the end),
and for Conv1D "causal" (``(k - 1) * dilation`` zeros before the sequence: output ``t`` sees
inputs ``<= t`` only). As in Keras, ``strides > 1`` with ``dilation_rate > 1`` is refused by
ConvND and ConvNDTranspose.
"""

from __future__ import annotations

import math

import torch.nn.functional as F

from danlu import activations, constraints, initializers, regularizers
from danlu._validation import check_positive_int
from danlu.layers.base import KernelLayer
from danlu.layers.spatial import (
    SpatialLayer,
    conv_output_length,
    int_tuple,
    pad_same,
    standardize_data_format,
    standardize_padding,
)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _check_options(**options):
    """Resolve initializer / regularizer / constraint names now, so a bad one fails at
    construction (the layer keeps the arguments as given, for `get_config`)."""
    for name, value in options.items():
        family = initializers if name.endswith("initializer") else regularizers if name.endswith("regularizer") else constraints
        family.get(value)


def _keras_layout(rank):
    """The permutation from a torch ``(a, b, *k)`` tensor to Keras' ``(*k, b, a)``."""
    return (*range(2, rank + 2), 1, 0)


class _SpatialConv(SpatialLayer):
    """What every convolution shares: kernel size, strides, padding, dilation, checks."""

    paddings = ("valid", "same")

    def _set_geometry(self, kernel_size, strides, padding, dilation_rate, data_format, forbid_strided_dilation=True):
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = int_tuple(strides, self.rank, "strides")
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = standardize_padding(padding, self.paddings)
        self.data_format = standardize_data_format(data_format)
        if forbid_strided_dilation and max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"strides > 1 cannot be combined with dilation_rate > 1 (Keras); received strides={self.strides} and "
                f"dilation_rate={self.dilation_rate}."
            )

    def _channels(self, input_shape):
        channels = input_shape[1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} needs the channel axis of its inputs to be known; received shape {input_shape}."
            )
        return channels

    def _spatial_output(self, input_shape):
        sizes = tuple(
            conv_output_length(n, k, s, self.padding, d)
            for n, k, s, d in zip(input_shape[2:], self.kernel_size, self.strides, self.dilation_rate)
        )
        if any(n is not None and n <= 0 for n in sizes):
            raise ValueError(
                f"{type(self).__name__} would give an output of size {sizes} (zero or negative) for inputs of shape "
                f"{tuple(input_shape)} with kernel_size={self.kernel_size}, strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}, padding={self.padding!r}."
            )
        return sizes

    def _padded(self, inputs):
        """The inputs and the ``padding`` argument for the torch kernel."""
        if self.padding == "valid":
            return inputs, 0
        if self.padding == "causal":
            return F.pad(inputs, ((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)), 0
        return pad_same(inputs, self.kernel_size, self.strides, self.dilation_rate)


class BaseConv(_SpatialConv, KernelLayer):
    """``activation(conv(inputs, kernel) + bias)``, ``filters`` output channels.

    Keras arguments and defaults: ``filters``, ``kernel_size``, ``strides=1``,
    ``padding="valid"`` (``"same"``; ``"causal"`` for Conv1D), ``data_format=None``
    (channels first), ``dilation_rate=1``, ``groups=1`` (input channels and filters split in
    ``groups`` independent convolutions; both must be divisible by it), ``activation=None``,
    ``use_bias=True``, ``kernel_initializer="glorot_uniform"``, ``bias_initializer="zeros"``,
    ``kernel_regularizer``, ``bias_regularizer``, ``activity_regularizer``,
    ``kernel_constraint``, ``bias_constraint``. ``weight`` (also ``kernel``) has PyTorch's
    shape ``(filters, channels / groups, *kernel_size)``.
    """

    def __init__(
        self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
        activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
        bias_constraint=None, **kwargs,
    ):
        check_positive_int("filters", filters)
        check_positive_int("groups", groups)
        self._set_geometry(kernel_size, strides, padding, dilation_rate, data_format)
        if filters % groups:
            raise ValueError(f"filters must be divisible by groups; received filters={filters}, groups={groups}.")
        self.filters, self.groups = int(filters), int(groups)
        _check_options(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                       kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self._conv = _CONV[self.rank]
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         kernel_constraint, bias_constraint, activity_regularizer=activity_regularizer, **kwargs)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"The input channels ({channels}) of {type(self).__name__} must be divisible by groups={self.groups}; "
                f"received inputs of shape {tuple(input_shape)}."
            )
        self._spatial_output(input_shape)
        receptive = math.prod(self.kernel_size)
        fans = (channels // self.groups * receptive, self.filters * receptive)
        self.add_kernel_and_bias((self.filters, channels // self.groups, *self.kernel_size), self.filters, fans,
                                 keras_layout=_keras_layout(self.rank))

    def channels_first_output_shape(self, input_shape):
        return (input_shape[0], self.filters, *self._spatial_output(input_shape))

    def call(self, inputs):
        inputs, padding = self._padded(inputs)
        outputs = self._conv(inputs, self.weight, self.bias, self.strides, padding, self.dilation_rate, self.groups)
        return self.activation(outputs)

    @property
    def kernel(self):
        """The kernel in PyTorch's layout ``(filters, channels / groups, *kernel_size)``."""
        return self.weight


class Conv1D(BaseConv):
    """1-D convolution over ``(batch, channels, steps)``; arguments as `BaseConv`.
    ``padding="causal"`` pads ``dilation_rate * (kernel_size - 1)`` zeros at the start."""

    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(BaseConv):
    """2-D convolution over ``(batch, channels, height, width)``; arguments as `BaseConv`."""

    rank = 2


class Conv3D(BaseConv):
    """3-D convolution over ``(batch, channels, depth, height, width)``; arguments as `BaseConv`."""

    rank = 3


def transpose_output_length(size, kernel, stride, padding, output_padding, dilation):
    """Keras' output size of a transposed convolution axis (``None`` stays unknown), with
    ``K = (kernel - 1) * dilation + 1``: "valid" ``(n - 1) s + K + p`` where ``p`` defaults to
    ``max(K, s) - K``; "same" ``n s``, or ``(n - 1) s + K mod 2 + p`` when ``p`` is given."""
    if size is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return (size - 1) * stride + effective + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + effective % 2 + output_padding


def _transpose_crops(kernel, stride, padding, output_padding, dilation):
    """How much Keras removes from each end of torch's full transposed convolution (size
    ``(n - 1) s + K``); a negative amount adds that many zeros instead."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        before, after = effective - 1, effective - 1 + extra
    else:
        total = stride + effective - 2 if output_padding is None else effective + effective % 2 - 2 + output_padding
        before = min(total // 2 + total % 2, effective - 1)
        after = total - before
    return effective - 1 - before, effective - 1 - after


class BaseConvTranspose(_SpatialConv, KernelLayer):
    """The transpose (gradient) of a convolution: each input pixel spreads ``kernel`` over a
    ``strides``-spaced output grid; ``filters`` output channels.

    Keras arguments and defaults: ``filters``, ``kernel_size``, ``strides=1``,
    ``padding="valid"`` (or ``"same"``), ``output_padding=None`` (extra output rows at the
    end, each ``< strides``), ``data_format=None`` (channels first), ``dilation_rate=1``,
    ``activation=None``, ``use_bias=True``, initializers, regularizers, constraints as
    `BaseConv`. Output sizes are Keras' (`transpose_output_length`). ``weight`` has PyTorch's
    shape ``(channels, filters, *kernel_size)``; Keras' kernel is ``(*kernel_size, filters,
    channels)``.
    """

    def __init__(
        self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None, dilation_rate=1,
        activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
        bias_constraint=None, **kwargs,
    ):
        check_positive_int("filters", filters)
        self.filters = int(filters)
        self._set_geometry(kernel_size, strides, padding, dilation_rate, data_format)
        if output_padding is not None:
            output_padding = int_tuple(output_padding, self.rank, "output_padding", minimum=0)
        self.output_padding = output_padding
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(
                f"output_padding must be smaller than strides along every axis; received output_padding="
                f"{self.output_padding}, strides={self.strides}."
            )
        _check_options(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                       kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self._plan_crops()
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         kernel_constraint, bias_constraint, activity_regularizer=activity_regularizer, **kwargs)

    def _plan_crops(self):
        """Keras' crops, split into what torch does itself (``padding`` removes from both
        ends, ``output_padding`` adds zeros at the end) and the slices / zeros left over."""
        padding, output_padding, self._slices, self._zeros = [], [], [], []
        for i in range(self.rank):
            stride, dilation = self.strides[i], self.dilation_rate[i]
            extra = None if self.output_padding is None else self.output_padding[i]
            before, after = _transpose_crops(self.kernel_size[i], stride, self.padding, extra, dilation)
            both = max(0, min(before, after))
            before, after = before - both, after - both
            grow = 0
            if after < 0 and -after < max(stride, dilation):
                grow, after = -after, 0
            padding.append(both)
            output_padding.append(grow)
            self._slices.append((before, after))
            self._zeros.append(-after if after < 0 else 0)
        self._torch_padding, self._torch_output_padding = tuple(padding), tuple(output_padding)
        self._conv = _CONV_TRANSPOSE[self.rank]

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.channels_first_output_shape(input_shape)
        receptive = math.prod(self.kernel_size)
        fans = (self.filters * receptive, channels * receptive)  # Keras' kernel is (*k, filters, channels)
        self.add_kernel_and_bias((channels, self.filters, *self.kernel_size), self.filters, fans,
                                 keras_layout=_keras_layout(self.rank))

    def channels_first_output_shape(self, input_shape):
        extra = self.output_padding or (None,) * self.rank
        sizes = tuple(
            transpose_output_length(n, k, s, self.padding, p, d)
            for n, k, s, p, d in zip(input_shape[2:], self.kernel_size, self.strides, extra, self.dilation_rate)
        )
        if any(n is not None and n <= 0 for n in sizes):
            raise ValueError(
                f"{type(self).__name__} would give an empty output {sizes} for inputs of shape {tuple(input_shape)}."
            )
        return (input_shape[0], self.filters, *sizes)

    def call(self, inputs):
        zeros = any(self._zeros)
        outputs = self._conv(inputs, self.weight, None if zeros else self.bias, self.strides, self._torch_padding,
                             self._torch_output_padding, 1, self.dilation_rate)
        if any(before > 0 or after > 0 for before, after in self._slices):
            outputs = outputs[(slice(None), slice(None), *(slice(b, (-a) if a > 0 else None) for b, a in self._slices))]
        if zeros:
            outputs = F.pad(outputs, [p for z in reversed(self._zeros) for p in (0, z)])
            if self.bias is not None:
                outputs = outputs + self.bias.reshape(-1, *(1,) * self.rank)
        return self.activation(outputs)

    @property
    def kernel(self):
        """The kernel in PyTorch's layout ``(channels, filters, *kernel_size)``."""
        return self.weight


class Conv1DTranspose(BaseConvTranspose):
    """Transposed 1-D convolution over ``(batch, channels, steps)``; see `BaseConvTranspose`."""

    rank = 1


class Conv2DTranspose(BaseConvTranspose):
    """Transposed 2-D convolution over ``(batch, channels, height, width)``; see `BaseConvTranspose`."""

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """Transposed 3-D convolution over ``(batch, channels, depth, height, width)``; see
    `BaseConvTranspose`. Keras' argument order puts ``data_format`` before ``output_padding``
    here (only here); so does danlu."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, output_padding=None,
                 dilation_rate=1, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate, **kwargs)


class _DepthwiseParts(_SpatialConv):
    """The depthwise step shared by DepthwiseConv and SeparableConv: each input channel ``c``
    convolved with its own ``depth_multiplier`` kernels, giving channels ``c * m + j``."""

    def _set_depthwise(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, use_bias, activation):
        check_positive_int("depth_multiplier", depth_multiplier)
        self.depth_multiplier = int(depth_multiplier)
        self._set_geometry(kernel_size, strides, padding, dilation_rate, data_format, forbid_strided_dilation=False)
        self.use_bias = bool(use_bias)
        self.activation = activations.get(activation)

    def _add_depthwise(self, name, channels, initializer, regularizer, constraint):
        receptive = math.prod(self.kernel_size)
        return self.add_weight(
            shape=(channels, self.depth_multiplier, *self.kernel_size), initializer=initializer, regularizer=regularizer,
            constraint=constraint, name=name, fans=(channels * receptive, self.depth_multiplier * receptive),
            keras_layout=(*range(2, self.rank + 2), 0, 1),
        )

    def _add_bias(self, size, initializer, regularizer, constraint):
        if not self.use_bias:
            self.bias = None
            return
        self.add_weight(shape=(size,), initializer=initializer, regularizer=regularizer, constraint=constraint, name="bias")

    def _depthwise(self, inputs, kernel, bias):
        channels = kernel.shape[0]
        inputs, padding = self._padded(inputs)
        weight = kernel.reshape(channels * self.depth_multiplier, 1, *self.kernel_size)
        return _CONV[self.rank](inputs, weight, bias, self.strides, padding, self.dilation_rate, channels)


class BaseDepthwiseConv(_DepthwiseParts):
    """Depthwise convolution: ``channels * depth_multiplier`` outputs, output channel
    ``c * depth_multiplier + j`` is input channel ``c`` convolved with its ``j``-th kernel.

    Keras arguments and defaults: ``kernel_size``, ``strides=1``, ``padding="valid"`` (or
    ``"same"``), ``depth_multiplier=1``, ``data_format=None`` (channels first),
    ``dilation_rate=1``, ``activation=None``, ``use_bias=True``,
    ``depthwise_initializer="glorot_uniform"``, ``bias_initializer="zeros"``,
    ``depthwise_regularizer``, ``bias_regularizer``, ``activity_regularizer``,
    ``depthwise_constraint``, ``bias_constraint``. ``kernel`` has shape
    ``(channels, depth_multiplier, *kernel_size)``; Keras' is ``(*kernel_size, channels,
    depth_multiplier)``.
    """

    def __init__(
        self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None, dilation_rate=1,
        activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
        depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
        bias_constraint=None, **kwargs,
    ):
        self._set_depthwise(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, use_bias, activation)
        _check_options(depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                       depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                       depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint)
        self._depthwise_options = (depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        self._bias_options = (bias_initializer, bias_regularizer, bias_constraint)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self._spatial_output(input_shape)
        self._add_depthwise("kernel", channels, *self._depthwise_options)
        self._add_bias(channels * self.depth_multiplier, *self._bias_options)

    def channels_first_output_shape(self, input_shape):
        channels = None if input_shape[1] is None else input_shape[1] * self.depth_multiplier
        return (input_shape[0], channels, *self._spatial_output(input_shape))

    def call(self, inputs):
        return self.activation(self._depthwise(inputs, self.kernel, self.bias))


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution over ``(batch, channels, steps)``; see `BaseDepthwiseConv`."""

    rank = 1


class DepthwiseConv2D(BaseDepthwiseConv):
    """Depthwise 2-D convolution over ``(batch, channels, height, width)``; see `BaseDepthwiseConv`."""

    rank = 2


class BaseSeparableConv(_DepthwiseParts):
    """Separable convolution: a depthwise convolution (``depth_multiplier`` kernels per
    channel, with the strides, padding and dilation) then a pointwise ``1 x 1`` convolution to
    ``filters`` channels, plus ``bias``, then ``activation``.

    Keras arguments and defaults: ``filters``, ``kernel_size``, ``strides=1``,
    ``padding="valid"`` (or ``"same"``), ``data_format=None`` (channels first),
    ``dilation_rate=1``, ``depth_multiplier=1``, ``activation=None``, ``use_bias=True``,
    ``depthwise_initializer="glorot_uniform"``, ``pointwise_initializer="glorot_uniform"``,
    ``bias_initializer="zeros"``, ``depthwise_regularizer``, ``pointwise_regularizer``,
    ``bias_regularizer``, ``activity_regularizer``, ``depthwise_constraint``,
    ``pointwise_constraint``, ``bias_constraint``. Weights in Keras' order: depthwise kernel,
    pointwise kernel, bias.
    """

    def __init__(
        self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, depth_multiplier=1,
        activation=None, use_bias=True, depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
        bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
        activity_regularizer=None, depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs,
    ):
        check_positive_int("filters", filters)
        self.filters = int(filters)
        self._set_depthwise(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, use_bias, activation)
        _check_options(depthwise_initializer=depthwise_initializer, pointwise_initializer=pointwise_initializer,
                       bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
                       pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                       depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                       bias_constraint=bias_constraint)
        self._depthwise_options = (depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        self._pointwise_options = (pointwise_initializer, pointwise_regularizer, pointwise_constraint)
        self._bias_options = (bias_initializer, bias_regularizer, bias_constraint)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self._spatial_output(input_shape)
        self._add_depthwise("depthwise_kernel", channels, *self._depthwise_options)
        middle = channels * self.depth_multiplier
        initializer, regularizer, constraint = self._pointwise_options
        self.add_weight(shape=(self.filters, middle, *(1,) * self.rank), initializer=initializer, regularizer=regularizer,
                        constraint=constraint, name="pointwise_kernel", fans=(middle, self.filters),
                        keras_layout=_keras_layout(self.rank))
        self._add_bias(self.filters, *self._bias_options)

    def channels_first_output_shape(self, input_shape):
        return (input_shape[0], self.filters, *self._spatial_output(input_shape))

    def call(self, inputs):
        middle = self._depthwise(inputs, self.depthwise_kernel, None)
        return self.activation(_CONV[self.rank](middle, self.pointwise_kernel, self.bias))


class SeparableConv1D(BaseSeparableConv):
    """Separable 1-D convolution over ``(batch, channels, steps)``; see `BaseSeparableConv`."""

    rank = 1


class SeparableConv2D(BaseSeparableConv):
    """Separable 2-D convolution over ``(batch, channels, height, width)``; see `BaseSeparableConv`."""

    rank = 2


# Keras' aliases.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
