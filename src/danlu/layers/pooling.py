"""Pooling: Max/AveragePooling1D/2D/3D and GlobalMax/GlobalAveragePooling1D/2D/3D.

Inputs are channels first, ``(batch, channels, *spatial)`` (``data_format="channels_last"``
takes Keras' layout; see `danlu.layers.spatial`). Window pooling: ``pool_size`` windows
every ``strides`` (default: ``pool_size``), "valid" (output ``floor((n - k) / s) + 1``) or
"same" (output ``ceil(n / s)``, TensorFlow's padding with the odd pixel at the end).

With "same" padding the padded cells never count: a maximum is over the real cells of its
window, and an average is the sum of the real cells divided by *their* number (TensorFlow's and
JAX's rule, and Keras' torch backend's when the padding is symmetric). Where the padding is
asymmetric Keras' torch backend instead repeats the edge values into the padding and averages
them in (e.g. ``AveragePooling1D(4, 1, "same")`` on ``[1, 2, 3, 4, 5]`` gives ``1.75`` first,
not ``2.0``); danlu keeps TensorFlow's rule there, which is what Keras documents.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu.layers.spatial import (
    SpatialLayer,
    conv_output_length,
    int_tuple,
    same_padding,
    standardize_data_format,
    standardize_padding,
)

_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class BasePooling(SpatialLayer):
    """Window pooling; Keras arguments ``pool_size``, ``strides=None`` (= ``pool_size``),
    ``padding="valid"`` (or ``"same"``), ``data_format=None`` (channels first)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else int_tuple(strides, self.rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)

    def channels_first_output_shape(self, input_shape):
        sizes = tuple(conv_output_length(n, k, s, self.padding) for n, k, s in zip(input_shape[2:], self.pool_size, self.strides))
        if any(n is not None and n <= 0 for n in sizes):
            raise ValueError(
                f"{type(self).__name__} would give an output of size {sizes} (zero or negative) for inputs of shape "
                f"{tuple(input_shape)} with pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r}."
            )
        return (*input_shape[:2], *sizes)

    def _same_pads(self, inputs):
        return [same_padding(n, k, s) for n, k, s in zip(inputs.shape[2:], self.pool_size, self.strides)]


class _MaxPooling(BasePooling):
    """The maximum of each window."""

    def call(self, inputs):
        padding = 0
        if self.padding == "same":
            pads = self._same_pads(inputs)
            if all(a == b for a, b in pads):
                padding = [a for a, _ in pads]
            else:  # the edge values repeated: the maximum of each window is unchanged
                inputs = F.pad(inputs, [p for pair in reversed(pads) for p in pair], mode="replicate")
        return _MAX_POOL[self.rank](inputs, self.pool_size, self.strides, padding)


class _AveragePooling(BasePooling):
    """The mean of each window's real cells (see the module docstring for "same")."""

    def call(self, inputs):
        pool = _AVG_POOL[self.rank]
        if self.padding == "valid":
            return pool(inputs, self.pool_size, self.strides)
        pads = self._same_pads(inputs)
        if all(a == b for a, b in pads):
            return pool(inputs, self.pool_size, self.strides, [a for a, _ in pads], count_include_pad=False)
        flat = [p for pair in reversed(pads) for p in pair]
        means = pool(F.pad(inputs, flat), self.pool_size, self.strides)  # sums / window size
        ones = torch.ones((1, 1, *inputs.shape[2:]), dtype=inputs.dtype, device=inputs.device)
        real_fraction = pool(F.pad(ones, flat), self.pool_size, self.strides)  # real cells / window size
        return means / real_fraction


class MaxPooling1D(_MaxPooling):
    """Max pooling over ``(batch, channels, steps)``; Keras defaults ``pool_size=2``,
    ``strides=None``, ``padding="valid"``."""

    rank = 1


class MaxPooling2D(_MaxPooling):
    """Max pooling over ``(batch, channels, height, width)``; Keras defaults ``pool_size=(2, 2)``,
    ``strides=None``, ``padding="valid"``."""

    rank = 2


class MaxPooling3D(_MaxPooling):
    """Max pooling over ``(batch, channels, depth, height, width)``; Keras defaults
    ``pool_size=(2, 2, 2)``, ``strides=None``, ``padding="valid"``."""

    rank = 3


class AveragePooling1D(_AveragePooling):
    """Average pooling over ``(batch, channels, steps)``; ``pool_size`` (Keras 3 requires it;
    danlu keeps tf.keras 2's default 2), ``strides=None``, ``padding="valid"``."""

    rank = 1


class AveragePooling2D(_AveragePooling):
    """Average pooling over ``(batch, channels, height, width)``; arguments as `AveragePooling1D`."""

    rank = 2


class AveragePooling3D(_AveragePooling):
    """Average pooling over ``(batch, channels, depth, height, width)``; arguments as `AveragePooling1D`."""

    rank = 3


class BaseGlobalPooling(SpatialLayer):
    """Pooling over all spatial axes: ``(batch, channels, *spatial) -> (batch, channels)``, or
    ``(batch, channels, 1, ...)`` with ``keepdims=True``. Keras arguments ``data_format=None``
    (channels first), ``keepdims=False``."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        self.data_format = standardize_data_format(data_format)
        if not isinstance(keepdims, bool):
            raise ValueError(f"keepdims must be True or False; received keepdims={keepdims!r}.")
        self.keepdims = keepdims
        self._axes = tuple(range(2, self.rank + 2))
        super().__init__(**kwargs)

    def channels_first_output_shape(self, input_shape):
        return (*input_shape[:2], *(1,) * self.rank) if self.keepdims else tuple(input_shape[:2])


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps of ``(batch, channels, steps)``. With a mask ``(batch, steps)``
    (Keras), the mean of the unmasked steps only."""

    rank = 1

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs.mean(dim=2, keepdim=self.keepdims)
        mask = mask.to(torch.bool).unsqueeze(1)
        total = torch.where(mask, inputs, 0).sum(dim=2, keepdim=self.keepdims)
        return total / mask.to(inputs.dtype).sum(dim=2, keepdim=self.keepdims)


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over the spatial axes of ``(batch, channels, height, width)``."""

    rank = 2

    def call(self, inputs):
        return inputs.mean(dim=self._axes, keepdim=self.keepdims)


class GlobalAveragePooling3D(GlobalAveragePooling2D):
    """Mean over the spatial axes of ``(batch, channels, depth, height, width)``."""

    rank = 3


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Maximum over the steps of ``(batch, channels, steps)``."""

    rank = 1

    def call(self, inputs):
        return inputs.amax(dim=self._axes, keepdim=self.keepdims)


class GlobalMaxPooling2D(GlobalMaxPooling1D):
    """Maximum over the spatial axes of ``(batch, channels, height, width)``."""

    rank = 2


class GlobalMaxPooling3D(GlobalMaxPooling1D):
    """Maximum over the spatial axes of ``(batch, channels, depth, height, width)``."""

    rank = 3


# Keras' aliases.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
