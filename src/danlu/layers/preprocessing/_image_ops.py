"""Image operations of the image layers, on channels-first batches ``(batch, channels, h, w)``:
resizing (with Keras' crop / pad to aspect ratio) and Keras' affine transform (rotations,
zooms, translations), with the arithmetic of Keras 3.15's torch backend so that a given
transform gives Keras' pixels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from danlu._identifiers import unknown_identifier_error

DATA_FORMATS = ("channels_first", "channels_last")
RESIZE_INTERPOLATIONS = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}
#: Keras names that its torch backend (and so danlu) cannot resize with.
UNSUPPORTED_INTERPOLATIONS = ("lanczos3", "lanczos5", "area", "gaussian", "mitchellcubic")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
TRANSFORM_INTERPOLATIONS = ("nearest", "bilinear")


def check_data_format(data_format) -> str:
    """``None`` means danlu's ``"channels_first"``."""
    if data_format is None:
        return "channels_first"
    if data_format not in DATA_FORMATS:
        raise unknown_identifier_error("data_format", str(data_format), DATA_FORMATS)
    return data_format


def check_choice(argument, value, valid) -> str:
    if not isinstance(value, str) or value not in valid:
        raise unknown_identifier_error(argument, str(value), valid)
    return value


def as_channels_first(images: torch.Tensor, data_format: str):
    """``(batch, c, h, w)`` images and a function that restores the caller's layout (a 3-D
    input is one image; ``channels_last`` inputs are permuted)."""
    if images.ndim not in (3, 4):
        raise ValueError(f"Image layers take images of rank 3 (one image) or 4 (a batch); received shape {tuple(images.shape)}.")
    unbatched = images.ndim == 3
    x = images.unsqueeze(0) if unbatched else images
    if data_format == "channels_last":
        x = x.permute(0, 3, 1, 2)

    def restore(y):
        if data_format == "channels_last":
            y = y.permute(0, 2, 3, 1)
        return y.squeeze(0) if unbatched else y

    return x, restore


def image_size_axes(data_format: str, rank: int) -> tuple[int, int]:
    """The (height, width) axes of an input shape of ``rank``."""
    offset = rank - 3
    return (offset + 1, offset + 2) if data_format == "channels_first" else (offset, offset + 1)


# --- Resizing ---------------------------------------------------------------------------------


def crop_to_aspect_ratio(images, height, width):
    """The largest centred window of ``images`` with the aspect ratio ``height / width``."""
    h, w = images.shape[-2:]
    crop_h = max(min(h, int(float(w * height) / width)), 1)
    crop_w = max(min(w, int(float(h * width) / height)), 1)
    top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
    return images[..., top: top + crop_h, left: left + crop_w]


def pad_to_aspect_ratio(images, height, width, fill_value):
    """``images`` padded evenly on their short side towards the aspect ratio ``height / width``
    (Keras pads the same amount on both sides)."""
    h, w = images.shape[-2:]
    top = int(float(max(h, int(float(w * height) / width)) - h) / 2)
    left = int(float(max(w, int(float(h * width) / height)) - w) / 2)
    if top == 0 and left == 0:
        return images
    return F.pad(images, (left, left, top, top), value=float(fill_value))


def resize(images, height, width, interpolation="bilinear", antialias=False, crop=False, pad=False, fill_value=0.0):
    """Resize channels-first ``images`` to ``(height, width)`` as Keras' torch backend does
    (``F.interpolate``, half-pixel centres; ``"nearest"`` is ``"nearest-exact"``). Integer
    images are resized in float32 and rounded back to their dtype."""
    out_dtype = images.dtype
    x = images if images.dtype in (torch.float32, torch.float64) else images.to(torch.float32)
    if crop:
        x = crop_to_aspect_ratio(x, height, width)
    elif pad:
        x = pad_to_aspect_ratio(x, height, width, fill_value)
    smooth = interpolation in ("bilinear", "bicubic")
    y = F.interpolate(x, size=(height, width), mode=RESIZE_INTERPOLATIONS[interpolation],
                      align_corners=False if smooth else None, antialias=bool(antialias) and smooth)
    if out_dtype == x.dtype:
        return y
    if interpolation == "bicubic" and out_dtype == torch.uint8:
        y = y.clamp(0, 255)
    if not out_dtype.is_floating_point:
        y = torch.round(y)
    return y.to(out_dtype)


# --- Affine transforms --------------------------------------------------------------------------


def affine_transform(images, transforms, interpolation="bilinear", fill_mode="reflect", fill_value=0.0):
    """Keras' ``ops.image.affine_transform`` on channels-first float ``images``.

    ``transforms`` is ``(batch, 8)``: ``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps each output
    pixel ``(x, y)`` to the input point ``x' = a0 x + a1 y + a2``, ``y' = b0 x + b1 y + b2``
    (Keras' torch backend ignores ``c0, c1``; so does this). The input is sampled there
    (``"bilinear"``: the four neighbours weighted; ``"nearest"``: rounded half to even);
    points outside are filled by ``fill_mode``: ``"constant"`` (``fill_value``, per
    neighbour), ``"nearest"`` (edge pixel), ``"wrap"``, ``"reflect"`` (about the edge of
    the last pixel, ``d c b a | a b c d | d c b a``)."""
    batch, channels, h, w = images.shape
    t = transforms.to(device=images.device, dtype=torch.float32)
    a0, a1, a2, b0, b1, b2 = (t[:, i, None, None] for i in range(6))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=images.device),
                            torch.arange(w, dtype=torch.float32, device=images.device), indexing="ij")
    source_y = (ys * b1 + xs * b0) + b2  # Keras' rounding, bit for bit (checked in the tests)
    source_x = (ys * a1 + xs * a0) + a2
    nodes_y, nodes_x = _nodes(source_y, interpolation), _nodes(source_x, interpolation)
    flat = images.reshape(batch, channels, h * w)
    out = None
    for iy, wy in nodes_y:
        for ix, wx in nodes_x:
            fy, fx = _fix_index(iy, h, fill_mode), _fix_index(ix, w, fill_mode)
            index = (fy * w + fx).reshape(batch, 1, h * w).expand(batch, channels, h * w)
            values = flat.gather(2, index).reshape(batch, channels, h, w)
            if fill_mode == "constant":
                inside = ((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)).unsqueeze(1)
                values = torch.where(inside, values, torch.as_tensor(fill_value, dtype=values.dtype, device=values.device))
            term = values if wy is None else (wy * wx).unsqueeze(1) * values
            out = term if out is None else out + term
    return out


def _nodes(coordinate, interpolation):
    """The sample indices along one axis and their weights (None: weight 1)."""
    if interpolation == "nearest":
        return [(torch.round(coordinate).long(), None)]
    lower = torch.floor(coordinate)
    upper_weight = coordinate - lower
    index = lower.long()
    return [(index, 1 - upper_weight), (index + 1, upper_weight)]


def _fix_index(index, size, fill_mode):
    if fill_mode in ("constant", "nearest"):
        return index.clamp(0, size - 1)
    if fill_mode == "wrap":
        return index % size
    # reflect: a triangular wave of period 2 * size over the half-pixel grid
    return torch.div(_mirror(2 * index + 1, 2 * size + 1) - 1, 2, rounding_mode="floor")


def _mirror(index, size):
    half = size - 1
    return torch.abs((index + half) % (2 * half) - half)


def affine_matrix(angle_degrees, scale, height, width, translate_x=None, translate_y=None):
    """Keras' rotation (and scale) about the image centre as ``(batch, 8)`` transforms:
    ``a0 = s cos t, a1 = -s sin t, a2 = tx + cx - cx a0 - cy a1``,
    ``b0 = s sin t, b1 = s cos t, b2 = ty + cy - cx b0 - cy b1`` with ``cx = (w - 1) / 2``,
    ``cy = (h - 1) / 2`` (float32, as Keras computes it)."""
    angle = torch.as_tensor(angle_degrees, dtype=torch.float32)
    theta = angle * torch.tensor(math.pi / 180.0, dtype=torch.float32, device=angle.device)
    scale = torch.as_tensor(scale, dtype=torch.float32, device=angle.device).expand_as(theta)
    zeros = torch.zeros_like(theta)
    translate_x = zeros if translate_x is None else translate_x
    translate_y = zeros if translate_y is None else translate_y
    cx = 0.5 * (width - 1.0)  # exact in float32
    cy = 0.5 * (height - 1.0)
    cos, sin = torch.cos(theta), torch.sin(theta)
    shear = torch.tan(zeros)  # Keras' shear terms, zero for a rotation
    a0 = scale * (cos + shear * sin)
    a1 = scale * (-sin + shear * cos)
    a2 = translate_x + cx - cx * a0 - cy * a1
    b0 = scale * (shear * cos + sin)
    b1 = scale * (shear * -sin + cos)
    b2 = translate_y + cy - cx * b0 - cy * b1
    return torch.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], dim=1)
