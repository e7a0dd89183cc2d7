"""Deterministic image layers: `Rescaling`, `Resizing`, `CenterCrop` (channels-first)."""

from __future__ import annotations

import numpy as np
import torch

from danlu._tensors import as_tensor
from danlu._validation import check_positive_int
from danlu.layers.preprocessing import _image_ops as ops
from danlu.layers.preprocessing._base import PreprocessingLayer


class Rescaling(PreprocessingLayer):
    """``inputs * scale + offset`` in the compute dtype (float32), in training and inference.

    Keras arguments: ``scale``, ``offset=0.0`` (numbers or arrays). ``scale=1/255`` maps
    ``[0, 255]`` to ``[0, 1]``; ``scale=1/127.5, offset=-1`` to ``[-1, 1]``. A per-channel
    ``scale`` on images (inputs of rank 3 or more) is aligned with the channels axis of
    danlu's channels-first layout (reshaped to ``(channels, 1, 1)``, as Keras does for
    ``channels_first``); on rank-2 inputs it broadcasts over the last axis.
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        for argument, value in (("scale", scale), ("offset", offset)):
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{argument} must be a number or an array of numbers; received {argument}={value!r}.") from None
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{argument} must be finite; received {argument}={value!r}.")
        self.scale, self.offset = scale, offset
        super().__init__(**kwargs)

    def call(self, inputs):
        dtype = self.dtype_policy.torch_compute_dtype
        x = as_tensor(inputs).to(dtype)
        scale = torch.as_tensor(np.asarray(self.scale, dtype=np.float64), device=x.device).to(dtype)
        offset = torch.as_tensor(np.asarray(self.offset, dtype=np.float64), device=x.device).to(dtype)
        if scale.ndim > 0 and x.ndim >= 3:
            scale = scale.reshape(*scale.shape, *(1,) * (3 - scale.ndim))
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(scale=np.asarray(self.scale).tolist(), offset=np.asarray(self.offset).tolist())
        return config


class _ImageSizeLayer(PreprocessingLayer):
    """A layer whose outputs are images of ``(height, width)`` in ``data_format`` (checked
    here: positive ints, ``"channels_first"`` / ``"channels_last"``)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        check_positive_int("height", height)
        check_positive_int("width", width)
        self.height, self.width = height, width
        self.data_format = ops.check_data_format(data_format)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        return _with_image_size(input_shape, self.height, self.width, self.data_format)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Resizing(_ImageSizeLayer):
    """Resize images to ``(height, width)``.

    Keras 3.15's arguments and defaults: ``height``, ``width``,
    ``interpolation="bilinear"`` (``"nearest"``, ``"bicubic"``; Keras' ``"lanczos3"`` /
    ``"lanczos5"`` are not available on torch, in Keras either), ``crop_to_aspect_ratio=False``
    (resize the largest centred window with the target aspect ratio), ``pad_to_aspect_ratio=False``
    (pad the short side evenly with ``fill_value`` first), ``fill_mode="constant"`` (the only
    mode), ``fill_value=0.0``, ``antialias=False``, ``data_format`` (danlu's default
    ``"channels_first"``: ``(batch, channels, height, width)``; ``"channels_last"`` accepted).
    Floating inputs are resized in the compute dtype; integer images keep their dtype
    (rounded, as Keras' torch backend does).
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs):
        if isinstance(fill_value, bool) or not isinstance(fill_value, (int, float)):
            raise TypeError(f"fill_value must be a number; received fill_value={fill_value!r}.")
        if interpolation in ops.UNSUPPORTED_INTERPOLATIONS:
            raise ValueError(f"interpolation={interpolation!r} is not available with PyTorch (nor in Keras' torch backend); "
                             f"use one of {', '.join(ops.RESIZE_INTERPOLATIONS)}.")
        ops.check_choice("interpolation", interpolation, ops.RESIZE_INTERPOLATIONS)
        ops.check_choice("fill_mode", fill_mode, ("constant",))
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Give at most one of crop_to_aspect_ratio and pad_to_aspect_ratio.")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)
        self.fill_mode, self.fill_value, self.antialias = fill_mode, fill_value, bool(antialias)
        super().__init__(height, width, data_format, **kwargs)

    def call(self, inputs):
        x = as_tensor(inputs)
        if x.dtype.is_floating_point:
            x = x.to(self.dtype_policy.torch_compute_dtype)
        images, restore = ops.as_channels_first(x, self.data_format)
        return restore(ops.resize(images, self.height, self.width, self.interpolation, self.antialias,
                                  self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value))

class CenterCrop(_ImageSizeLayer):
    """Crop the central ``(height, width)`` window of images; an image smaller than that on
    either side is first cropped to the target aspect ratio and resized (bilinear), as
    Keras' ``smart_resize``. Outputs are in the compute dtype (float32).

    Keras arguments: ``height``, ``width``, ``data_format`` (danlu's default
    ``"channels_first"``; ``"channels_last"`` accepted). The window starts at
    ``((h - height) // 2, (w - width) // 2)``.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(height, width, data_format, **kwargs)

    def call(self, inputs):
        x = as_tensor(inputs).to(self.dtype_policy.torch_compute_dtype)
        images, restore = ops.as_channels_first(x, self.data_format)
        h, w = images.shape[-2:]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return restore(images[..., top: top + self.height, left: left + self.width])
        return restore(ops.resize(images, self.height, self.width, "bilinear", crop=True))



def _with_image_size(input_shape, height, width, data_format):
    shape = list(input_shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"Image layers take inputs of rank 3 or 4; received shape {tuple(input_shape)}.")
    h_axis, w_axis = ops.image_size_axes(data_format, len(shape))
    shape[h_axis], shape[w_axis] = height, width
    return tuple(shape)
