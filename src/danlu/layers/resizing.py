"""Changing spatial sizes: UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D.

Inputs are channels first, ``(batch, channels, *spatial)`` (``data_format="channels_last"``
takes Keras' layout; see `danlu.layers.spatial`). Keras' UpSampling1D and Cropping1D have no
``data_format`` (their steps are axis 1); danlu's take one, channels first by default, like
every other danlu layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu._identifiers import unknown_identifier_error
from danlu.layers.spatial import SpatialLayer, int_pairs, int_tuple, standardize_data_format

INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def repeat_spatial(inputs, factors):
    """Each cell repeated ``factors[i]`` times along spatial axis ``i`` (nearest upsampling
    by whole factors, exactly, with one copy)."""
    batch, channels, *sizes = inputs.shape
    view, expanded = [batch, channels], [batch, channels]
    for size, factor in zip(sizes, factors):
        view += [size, 1]
        expanded += [size, factor]
    return inputs.reshape(view).expand(expanded).reshape(batch, channels, *(n * f for n, f in zip(sizes, factors)))


class _UpSampling(SpatialLayer):
    def __init__(self, size=2, data_format=None, **kwargs):
        self.size = int_tuple(size, self.rank, "size")
        self.data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)

    def channels_first_output_shape(self, input_shape):
        return (*input_shape[:2], *(None if n is None else n * f for n, f in zip(input_shape[2:], self.size)))

    def call(self, inputs):
        return repeat_spatial(inputs, self.size)


class UpSampling1D(_UpSampling):
    """Repeat each step ``size`` times (Keras' default 2): ``(batch, channels, steps)`` ->
    ``(batch, channels, steps * size)``."""

    rank = 1


class UpSampling2D(_UpSampling):
    """Scale ``(batch, channels, height, width)`` by ``size`` (Keras' default ``(2, 2)``).

    ``interpolation="nearest"`` (default) repeats rows and columns; ``"bilinear"`` and
    ``"bicubic"`` interpolate as Keras' torch backend does (``F.interpolate`` to the new size,
    ``align_corners=False``, no antialiasing; computed in float32 for other dtypes than
    float32 / float64, then cast back). Keras' ``"lanczos3"`` / ``"lanczos5"`` exist on its
    TensorFlow and JAX backends only; danlu refuses them as its torch backend does.
    """

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
            if isinstance(interpolation, str) and interpolation.lower() in ("lanczos3", "lanczos5"):
                raise ValueError(
                    f"interpolation={interpolation!r} is not available on PyTorch (nor on Keras' torch backend); "
                    f"use one of {', '.join(INTERPOLATIONS)}."
                )
            raise unknown_identifier_error("interpolation", str(interpolation), INTERPOLATIONS)
        self.interpolation = interpolation.lower()
        super().__init__(size, data_format, **kwargs)

    def call(self, inputs):
        if self.interpolation == "nearest":
            return repeat_spatial(inputs, self.size)
        dtype = inputs.dtype
        if dtype not in (torch.float32, torch.float64):
            inputs = inputs.to(torch.float32)
        size = (inputs.shape[2] * self.size[0], inputs.shape[3] * self.size[1])
        outputs = F.interpolate(inputs, size=size, mode=self.interpolation, align_corners=False, antialias=False)
        return outputs.to(dtype)


class UpSampling3D(_UpSampling):
    """Repeat each cell of ``(batch, channels, depth, height, width)`` ``size`` times along
    each axis (Keras' default ``(2, 2, 2)``)."""

    rank = 3


class _ZeroPadding(SpatialLayer):
    def __init__(self, padding=1, data_format=None, **kwargs):
        self.padding = int_pairs(padding, self.rank, "padding")
        self.data_format = standardize_data_format(data_format)
        self._flat = [p for pair in reversed(self.padding) for p in pair]  # F.pad's order: last axis first
        super().__init__(**kwargs)

    def channels_first_output_shape(self, input_shape):
        return (*input_shape[:2], *(None if n is None else n + a + b for n, (a, b) in zip(input_shape[2:], self.padding)))

    def call(self, inputs):
        return F.pad(inputs, self._flat)


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps of ``(batch, channels, steps)``: ``padding`` an int
    (both ends; Keras' default 1) or ``(before, after)``."""

    rank = 1


class ZeroPadding2D(_ZeroPadding):
    """Zeros around ``(batch, channels, height, width)``: ``padding`` an int (Keras' default
    ``(1, 1)``: one row / column on every side), ``(rows, columns)`` (symmetric) or
    ``((top, bottom), (left, right))``."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Zeros around ``(batch, channels, depth, height, width)``: ``padding`` an int, three ints
    (symmetric) or three ``(before, after)`` pairs (Keras' default ``((1, 1), (1, 1), (1, 1))``)."""

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(SpatialLayer):
    def __init__(self, cropping=1, data_format=None, **kwargs):
        self.cropping = int_pairs(cropping, self.rank, "cropping")
        self.data_format = standardize_data_format(data_format)
        self._slices = (slice(None), slice(None), *(slice(a, -b if b else None) for a, b in self.cropping))
        super().__init__(**kwargs)

    def channels_first_output_shape(self, input_shape):
        sizes = []
        for n, (a, b) in zip(input_shape[2:], self.cropping):
            if n is not None and a + b >= n:
                raise ValueError(
                    f"{type(self).__name__}: cropping={self.cropping} must leave something of each spatial axis; "
                    f"received inputs of shape {tuple(input_shape)} (channels first)."
                )
            sizes.append(None if n is None else n - a - b)
        return (*input_shape[:2], *sizes)

    def call(self, inputs):
        self.channels_first_output_shape(tuple(inputs.shape))
        return inputs[self._slices]


class Cropping1D(_Cropping):
    """Remove steps from the start and end of ``(batch, channels, steps)``: ``cropping`` an int
    or ``(start, end)`` (Keras' default ``(1, 1)``)."""

    rank = 1

    def __init__(self, cropping=(1, 1), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping2D(_Cropping):
    """Crop ``(batch, channels, height, width)``: ``cropping`` an int, ``(rows, columns)``
    (symmetric) or ``((top, bottom), (left, right))`` (Keras' default ``((0, 0), (0, 0))``)."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crop ``(batch, channels, depth, height, width)``: ``cropping`` an int, three ints or
    three ``(before, after)`` pairs (Keras' default ``((1, 1), (1, 1), (1, 1))``)."""

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)
