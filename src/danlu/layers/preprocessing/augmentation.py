"""Random image augmentation: `RandomFlip`, `RandomRotation`, `RandomZoom`,
`RandomTranslation`, `RandomContrast`, `RandomBrightness`.

Each layer is active only in training (``model.train()``, ``fit``, or
``layer(x, training=True)``) and the identity in inference (the output is the input in the
compute dtype, float32, as Keras outputs floats). Random draws come from torch's global
generator (``torch.manual_seed`` / ``danlu.utils.set_random_seed`` make them repeatable;
Keras' ``seed`` argument is accepted and recorded but not used). The draw and the
transform are separate: ``get_random_transformation(images)`` returns the random
parameters (one per image) and ``transform_images(images, transformation)`` applies given
ones deterministically, with Keras' arithmetic (a given angle gives Keras' pixels).
Images are ``(batch, channels, height, width)`` (``data_format="channels_first"``, danlu's
default) or ``channels_last``; a rank-3 input is one image.
"""

from __future__ import annotations

import torch

from danlu._identifiers import unknown_identifier_error
from danlu._tensors import as_tensor
from danlu._validation import check_number
from danlu.layers.preprocessing import _image_ops as ops
from danlu.layers.preprocessing._base import PreprocessingLayer


class RandomImageLayer(PreprocessingLayer):
    """Shared machinery of the random image layers: layout, training switch, draw / apply."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        self.seed = seed
        self.data_format = ops.check_data_format(data_format)
        super().__init__(**kwargs)

    def call(self, inputs, training=None):
        x = as_tensor(inputs).to(self.dtype_policy.torch_compute_dtype)
        if not self.training:
            return x
        images, restore = ops.as_channels_first(x, self.data_format)
        return restore(self.apply(images, self.draw(images)))

    def get_random_transformation(self, images) -> torch.Tensor:
        """Random parameters for each image of ``images`` (in the layer's layout)."""
        x, _ = ops.as_channels_first(as_tensor(images), self.data_format)
        return self.draw(x)

    def transform_images(self, images, transformation) -> torch.Tensor:
        """``images`` transformed by the given parameters (one per image), whatever the mode."""
        x = as_tensor(images).to(self.dtype_policy.torch_compute_dtype)
        channels_first, restore = ops.as_channels_first(x, self.data_format)
        parameters = torch.as_tensor(transformation, device=x.device)
        if parameters.shape[:1] != channels_first.shape[:1]:
            parameters = parameters.reshape(channels_first.shape[0], *parameters.shape[1:])
        return restore(self.apply(channels_first, parameters))

    def draw(self, images):
        raise NotImplementedError

    def apply(self, images, parameters):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


def _uniform(low, high, shape, like):
    return low + (high - low) * torch.rand(shape, device=like.device, dtype=torch.float32)


def _factor_range(argument, factor, low, high, high_open=False):
    """Keras' factor conventions: a number ``f`` means ``[-|f|, |f|]``, a pair ``(a, b)``
    means ``[min, max]``; each value must lie in ``[low, high]``."""
    values = list(factor) if isinstance(factor, (tuple, list)) else [factor]
    if len(values) not in (1, 2):
        raise ValueError(f"{argument} must be a number or a pair of numbers; received {argument}={factor!r}.")
    for value in values:
        check_number(argument, value, low=low, high=high, low_open=high_open)
    if len(values) == 1:
        return -abs(values[0]), abs(values[0])
    return tuple(sorted(values))


class RandomFlip(RandomImageLayer):
    """Flip each image with probability 1/2: ``mode="horizontal"`` (left-right),
    ``"vertical"`` (top-bottom) or ``"horizontal_and_vertical"`` (Keras' default: each flip
    with probability 1/2, drawn independently as in tf.keras 2; Keras 3.15 lets one draw
    decide both, so its images are only ever unchanged or turned 180 degrees, which the
    mode's name does not mean). The transformation is a boolean per image (flip or not;
    both axes alike), or for ``"horizontal_and_vertical"`` a ``(batch, 2)`` boolean
    ``(horizontal, vertical)``."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        if mode not in self.MODES:
            raise unknown_identifier_error("mode", str(mode), self.MODES)
        self.mode = mode
        super().__init__(seed=seed, data_format=data_format, **kwargs)

    def draw(self, images):
        both = self.mode == "horizontal_and_vertical"
        return torch.rand((images.shape[0], 2) if both else images.shape[0], device=images.device) <= 0.5

    def apply(self, images, flips):
        flips = flips.to(torch.bool).reshape(images.shape[0], -1)
        horizontal, vertical = flips[:, 0].reshape(-1, 1, 1, 1), flips[:, -1].reshape(-1, 1, 1, 1)
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            images = torch.where(horizontal, images.flip(-1), images)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            images = torch.where(vertical, images.flip(-2), images)
        return images


class _AffineLayer(RandomImageLayer):
    """Geometric layers: a ``(batch, 8)`` affine transform per image, then Keras'
    ``affine_transform`` with ``fill_mode`` (``"reflect"``, ``"wrap"``, ``"constant"``,
    ``"nearest"``), ``fill_value`` and ``interpolation`` (``"bilinear"``, ``"nearest"``)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **kwargs):
        self.fill_mode = ops.check_choice("fill_mode", fill_mode, ops.FILL_MODES)
        self.interpolation = ops.check_choice("interpolation", interpolation, ops.TRANSFORM_INTERPOLATIONS)
        check_number("fill_value", fill_value)
        self.fill_value = fill_value
        super().__init__(seed=seed, data_format=data_format, **kwargs)

    def apply(self, images, parameters):
        matrix = self.matrix(parameters.to(torch.float32), images.shape[-2], images.shape[-1])
        return ops.affine_transform(images, matrix, self.interpolation, self.fill_mode, self.fill_value)


class RandomRotation(_AffineLayer):
    """Rotate each image about its centre by a random angle: ``factor`` is a fraction of a
    full turn (``0.2``: up to 72 degrees either way; ``(-0.2, 0.3)``: -72 to 108 degrees;
    positive is counter-clockwise), each value in ``[-1, 1]``. Keras defaults:
    ``fill_mode="reflect"``, ``interpolation="bilinear"``, ``fill_value=0.0``. The
    transformation is the angle in degrees per image."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        self.factor = _factor_range("factor", factor, -1, 1)
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def draw(self, images):
        return _uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, (images.shape[0],), images)

    def matrix(self, angles, height, width):
        return ops.affine_matrix(angles.reshape(-1), 1.0, height, width)

    def get_config(self):
        config = super().get_config()
        config["factor"] = list(self.factor)
        return config


class RandomZoom(_AffineLayer):
    """Zoom each image about its centre: ``height_factor`` (and ``width_factor``; ``None``:
    the same zoom on both axes, keeping the aspect ratio) is a number ``f`` (zoom by a
    factor in ``[1 - |f|, 1 + |f|]``) or a pair ``(a, b)`` (``[1 + a, 1 + b]``), each value
    in ``(-1, 1]``; a positive value zooms out (the image shrinks), a negative one zooms in.
    The transformation is ``(width_zoom, height_zoom)`` per image."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height_range = _factor_range("height_factor", height_factor, -1, 1, high_open=True)
        self._width_range = None if width_factor is None else _factor_range("width_factor", width_factor, -1, 1, high_open=True)
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def draw(self, images):
        batch = images.shape[0]
        height = _uniform(1.0 + self._height_range[0], 1.0 + self._height_range[1], (batch,), images)
        width = height if self._width_range is None else _uniform(1.0 + self._width_range[0], 1.0 + self._width_range[1], (batch,), images)
        return torch.stack([width, height], dim=1)

    def matrix(self, zooms, height, width):
        zooms = zooms.reshape(-1, 2)
        zx, zy = zooms[:, 0], zooms[:, 1]
        zeros = torch.zeros_like(zx)
        x_offset = ((width - 1.0) / 2.0) * (1.0 - zx)  # exact in float32, as Keras computes it
        y_offset = ((height - 1.0) / 2.0) * (1.0 - zy)
        return torch.stack([zx, zeros, x_offset, zeros, zy, y_offset, zeros, zeros], dim=1)


class RandomTranslation(_AffineLayer):
    """Shift each image by a random fraction of its size: ``height_factor`` and
    ``width_factor`` are a number ``f`` (``[-|f|, |f|]``) or a pair ``(a, b)``, each in
    ``[-1, 1]`` (``0.2``: up to 20% of the height / width either way; positive shifts
    down / right). The transformation is ``(dx, dy)`` in pixels per image."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height_range = _factor_range("height_factor", height_factor, -1, 1)
        self._width_range = _factor_range("width_factor", width_factor, -1, 1)
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def draw(self, images):
        batch, _, height, width = images.shape
        dy = _uniform(*self._height_range, (batch,), images) * height
        dx = _uniform(*self._width_range, (batch,), images) * width
        return torch.stack([dx, dy], dim=1)

    def matrix(self, shifts, height, width):
        shifts = shifts.reshape(-1, 2)
        ones, zeros = torch.ones_like(shifts[:, 0]), torch.zeros_like(shifts[:, 0])
        return torch.stack([ones, zeros, -shifts[:, 0], zeros, ones, -shifts[:, 1], zeros, zeros], dim=1)


def _value_range(value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"value_range must be a pair (low, high) such as (0, 255); received value_range={value_range!r}.")
    for value in value_range:
        check_number("value_range", value)
    return sorted(value_range)


class RandomContrast(RandomImageLayer):
    """Scale each image's deviation from its per-channel mean:
    ``(x - mean) * c + mean``, clipped to ``value_range`` (Keras' default ``(0, 255)``).
    ``factor`` is a number ``f`` in ``[0, 1]`` (``c`` in ``[1 - f, 1 + f]``) or a pair
    ``(lower, upper)`` (``c`` in ``[1 - lower, 1 + upper]``). (Keras 3.15 draws a single
    number's ``c`` from ``[1, 1 + f]`` only, contrary to its documentation; danlu follows
    the documented range.) The transformation is ``c`` per image."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        values = list(factor) if isinstance(factor, (tuple, list)) else [factor]
        if len(values) not in (1, 2):
            raise ValueError(f"factor must be a number or a pair of numbers; received factor={factor!r}.")
        for value in values:
            check_number("factor", value, low=0, high=1)
        self.factor = (values[0], values[0]) if len(values) == 1 else tuple(sorted(values))
        self.value_range = _value_range(value_range)
        super().__init__(seed=seed, data_format=data_format, **kwargs)

    def draw(self, images):
        return _uniform(1.0 - self.factor[0], 1.0 + self.factor[1], (images.shape[0],), images)

    def apply(self, images, factors):
        factors = factors.to(images.dtype).reshape(-1, 1, 1, 1)
        mean = images.mean(dim=-2, keepdim=True).mean(dim=-1, keepdim=True)
        return ((images - mean) * factors + mean).clamp(self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update(factor=list(self.factor), value_range=list(self.value_range))
        return config


class RandomBrightness(RandomImageLayer):
    """Add a random brightness offset to each image: ``x + d * (high - low)`` clipped to
    ``value_range = (low, high)`` (Keras' default ``(0, 255)``), with ``d`` drawn from
    ``factor`` (a number ``f`` in ``[-1, 1]``: ``[-|f|, |f|]``; or a pair): ``-1`` makes an
    image black, ``1`` white. The transformation is the offset ``d * (high - low)`` per
    image (Keras' ``rgb_delta``)."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        self.factor = _factor_range("factor", factor, -1, 1)
        self.value_range = _value_range(value_range)
        super().__init__(seed=seed, data_format=data_format, **kwargs)

    def draw(self, images):
        span = self.value_range[1] - self.value_range[0]
        return _uniform(self.factor[0], self.factor[1], (images.shape[0],), images) * span

    def apply(self, images, deltas):
        return (images + deltas.to(images.dtype).reshape(-1, 1, 1, 1)).clamp(self.value_range[0], self.value_range[1])

    def get_config(self):
        config = super().get_config()
        config.update(factor=list(self.factor), value_range=list(self.value_range))
        return config
