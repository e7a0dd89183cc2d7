"""What every spatial layer (convolution, pooling, resizing, spatial dropout) shares: the
``data_format`` convention, the checks of its integer arguments and TensorFlow's "same" padding.

Layout: danlu is channels first, PyTorch's layout: ``(batch, channels, steps)`` in 1-D,
``(batch, channels, height, width)`` in 2-D, ``(batch, channels, depth, height, width)`` in 3-D;
``data_format=None`` means ``"channels_first"`` (Keras' ``None`` means its global
``image_data_format``, ``"channels_last"`` unless configured). ``data_format="channels_last"``
takes Keras' layout ``(batch, ..., channels)``: the layer moves the channel axis to the front,
runs the same torch kernel and moves it back (weights are the same either way).

"same" padding (TensorFlow's rule, which Keras follows on every backend): along an axis of
size ``n`` with kernel ``k``, stride ``s`` and dilation ``d`` the output has ``ceil(n / s)``
entries, the total padding is ``max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0)`` and the odd
pixel, when there is one, goes at the end.
"""

from __future__ import annotations

import math

import numpy as np
import torch.nn.functional as F

from danlu._identifiers import closest_name_hint, unknown_identifier_error
from danlu.layers.base import Layer

DATA_FORMATS = ("channels_first", "channels_last")
_SPATIAL_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def standardize_data_format(value) -> str:
    """``None`` -> ``"channels_first"`` (danlu's layout); Keras' names, any case."""
    if value is None:
        return "channels_first"
    if not isinstance(value, str) or value.lower() not in DATA_FORMATS:
        if isinstance(value, str):
            raise unknown_identifier_error("data_format", value, DATA_FORMATS)
        raise ValueError(f"data_format must be 'channels_first' or 'channels_last'; received data_format={value!r}.")
    return value.lower()


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def int_tuple(value, rank: int, name: str, minimum: int = 1) -> tuple[int, ...]:
    """An int or a sequence of ``rank`` ints, each ``>= minimum``, as a ``rank``-tuple."""
    values = (value,) * rank if _is_int(value) else tuple(value) if isinstance(value, (list, tuple)) else None
    if values is None or len(values) != rank or not all(_is_int(v) and v >= minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{name} must be a {kind} int or a tuple of {rank} {kind} ints; received {name}={value!r}.")
    return tuple(int(v) for v in values)


def int_pairs(value, rank: int, name: str) -> tuple[tuple[int, int], ...]:
    """Keras' padding / cropping amounts: per spatial axis a ``(before, after)`` pair of
    non-negative ints. Accepted: an int (everywhere), for one axis a pair ``(before, after)``,
    for 2 or 3 axes a sequence of ``rank`` entries, each an int (symmetric) or a pair."""
    message = (
        f"{name} must be a non-negative int, "
        + ("a tuple (before, after)" if rank == 1 else f"a tuple of {rank} non-negative ints or of {rank} (before, after) pairs")
        + f"; received {name}={value!r}."
    )
    if _is_int(value):
        entries = [value] * rank
    elif rank == 1 and isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        entries = [tuple(value)]
    elif isinstance(value, (list, tuple)) and len(value) == rank:
        entries = list(value)
    else:
        raise ValueError(message)
    pairs = []
    for entry in entries:
        pair = (entry, entry) if _is_int(entry) else tuple(entry) if isinstance(entry, (list, tuple)) else ()
        if len(pair) != 2 or not all(_is_int(v) and v >= 0 for v in pair):
            raise ValueError(message)
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


def standardize_padding(value, allowed=("valid", "same")) -> str:
    """Keras' padding names, any case; an unknown one names the closest."""
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    names = " or ".join(", ".join(repr(a) for a in allowed).rsplit(", ", 1))
    hint = closest_name_hint(value, allowed) if isinstance(value, str) else ""
    raise ValueError(f"padding must be {names}; received padding={value!r}.{hint}")


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding ``(before, after)`` of one axis (see the module docstring)."""
    effective = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_same(inputs, kernel_size, strides, dilation=None, mode="constant"):
    """``(inputs, padding)`` ready for a torch convolution or pooling with "same" semantics:
    symmetric padding is left to the kernel (``padding`` a list of ints, nothing copied);
    otherwise the inputs are padded here (``mode`` as ``F.pad``) and ``padding`` is 0."""
    dilation = dilation or (1,) * len(kernel_size)
    pads = [same_padding(n, k, s, d) for n, k, s, d in zip(inputs.shape[2:], kernel_size, strides, dilation)]
    if all(before == after for before, after in pads):
        return inputs, [before for before, _ in pads]
    return F.pad(inputs, [p for pair in reversed(pads) for p in pair], mode=mode), 0


def conv_output_length(size, kernel: int, stride: int, padding: str, dilation: int = 1):
    """Keras' output size of a convolution or pooling axis (``None`` stays unknown):
    ``floor((n - (k - 1) d - 1) / s) + 1`` for "valid", ``ceil(n / s)`` for "same" / "causal"."""
    if size is None:
        return None
    if padding == "valid":
        return (size - (kernel - 1) * dilation - 1) // stride + 1
    return (size + stride - 1) // stride


class SpatialLayer(Layer):
    """A layer over ``(batch, channels, *spatial)`` inputs of ``rank`` spatial axes, with
    Keras' ``data_format`` (see the module docstring).

    A subclass sets ``rank`` and ``self.data_format`` (before ``super().__init__``), writes
    ``call`` (and ``build``) for channels-first tensors and shapes, and
    ``channels_first_output_shape(input_shape)``; this class checks the rank, moves the
    channel axis for ``"channels_last"`` and answers `compute_output_shape`.
    """

    rank = 2
    data_format = "channels_first"

    def layout_name(self) -> str:
        spatial = ", ".join(_SPATIAL_NAMES[self.rank])
        return f"(batch, channels, {spatial})" if self.data_format == "channels_first" else f"(batch, {spatial}, channels)"

    def channels_first_shape(self, input_shape) -> tuple:
        """``input_shape`` checked (rank) and put in channels-first order."""
        shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else None
        if shape is None or len(shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank {self.rank + 2} {self.layout_name()}; "
                f"received shape {input_shape}."
            )
        if self.data_format == "channels_last":
            return (shape[0], shape[-1], *shape[1:-1])
        return shape

    def _to_layout(self, shape) -> tuple:
        shape = tuple(shape)
        if self.data_format == "channels_last" and len(shape) == self.rank + 2:
            return (shape[0], *shape[2:], shape[1])
        return shape

    def channels_first_output_shape(self, input_shape) -> tuple:
        """The output shape for a channels-first ``input_shape`` (rank already checked)."""
        return input_shape

    def compute_output_shape(self, input_shape):
        return self._to_layout(self.channels_first_output_shape(self.channels_first_shape(input_shape)))

    def build_from_shape(self, input_shape, device=None):
        if not self.built:
            input_shape = self.channels_first_shape(input_shape)
        super().build_from_shape(input_shape, device)

    def forward(self, inputs, *args, **kwargs):
        if inputs.ndim != self.rank + 2:
            self.channels_first_shape(tuple(inputs.shape))  # raises the rank error
        if self.data_format == "channels_first":
            return self.call(inputs, *args, **kwargs)
        outputs = self.call(inputs.movedim(-1, 1), *args, **kwargs)
        return outputs.movedim(1, -1) if outputs.ndim == inputs.ndim else outputs

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.data_format == "channels_first" else ", data_format='channels_last'")
