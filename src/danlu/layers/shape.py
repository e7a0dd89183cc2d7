"""Shape and masking layers (Keras 3.15): Permute, RepeatVector, TimeDistributed, Masking,
Identity. (`Flatten` and `Reshape` live in `danlu.layers.core`.)"""

from __future__ import annotations

import torch

from danlu.layers.base import Layer
from danlu.saving import serialization


class Permute(Layer):
    """Permute the non-batch axes: ``dims`` is a permutation of ``1..rank-1`` (the batch axis
    0 stays first); ``Permute((2, 1))`` swaps the two axes of ``(batch, a, b)``. Useful
    between danlu's channels-first layout and Keras' channels-last one: ``Permute((2, 3, 1))``
    turns ``(batch, c, h, w)`` into ``(batch, h, w, c)``."""

    def __init__(self, dims, **kwargs):
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"dims must be a permutation of 1..{len(dims)} (the batch axis 0 is not permuted); received dims={dims!r}.")
        self.dims = dims
        super().__init__(**kwargs)

    def build(self, input_shape):
        _check_rank(self, input_shape, len(self.dims) + 1)

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, len(self.dims) + 1)
        return (input_shape[0], *(input_shape[d] for d in self.dims))


def _check_rank(layer, input_shape, rank, at_least=False):
    if (len(input_shape) < rank) if at_least else (len(input_shape) != rank):
        raise ValueError(f"{type(layer).__name__} expects inputs of rank {'>= ' if at_least else ''}{rank}; "
                         f"received shape {tuple(input_shape)}.")


class RepeatVector(Layer):
    """Repeat each ``(batch, features)`` sample ``n`` times: ``(batch, n, features)``."""

    def __init__(self, n, **kwargs):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int; received n={n!r}.")
        if n <= 0:
            raise ValueError(f"n must be a positive int; received n={n!r}.")
        self.n = n
        super().__init__(**kwargs)

    def build(self, input_shape):
        _check_rank(self, input_shape, 2)

    def call(self, inputs):
        return inputs.unsqueeze(1).repeat(1, self.n, 1)

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 2)
        return (input_shape[0], self.n, input_shape[1])


class TimeDistributed(Layer):
    """Apply ``layer`` to every step of ``(batch, time, ...)`` inputs.

    The steps are folded into the batch: the layer runs once on ``(batch * time, ...)`` and
    the result is unfolded to ``(batch, time, ...)``, which is what Keras' per-step loop
    computes, at the cost of one call. ``layer`` may be a danlu layer or any
    ``torch.nn.Module``; its weights are this layer's weights (Keras' order). A mask
    ``(batch, time, ...)`` is folded the same way for a layer whose ``call`` takes ``mask``,
    and passes on to the output.
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(f"TimeDistributed wraps a layer (a danlu layer or a torch.nn.Module); received {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer

    def get_config(self):
        config = super().get_config()
        if isinstance(self.layer, Layer):  # Keras' nested form; a plain torch module stays as is
            config["layer"] = serialization.serialize(self.layer, "layer")
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = config.pop("layer")
        if isinstance(layer, dict):
            layer = serialization.deserialize(layer, custom_objects, "danlu.layers")
        elif isinstance(layer, Layer):  # a fresh copy: never share the weights of the original
            layer = type(layer).from_config(layer.get_config())
        return cls(layer, **config)

    @staticmethod
    def _step_shape(input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 3:
            raise ValueError(f"TimeDistributed expects inputs of rank >= 3, (batch, time, ...); received shape {input_shape!r}.")
        return (input_shape[0], *tuple(input_shape)[2:])

    def build(self, input_shape):
        step = self._step_shape(input_shape)
        if isinstance(self.layer, Layer):
            self.layer.build_from_shape(step)

    def call(self, inputs, mask=None):
        batch, steps = inputs.shape[:2]
        kwargs = {}
        if mask is not None:
            if mask.ndim < 2 or tuple(mask.shape[:2]) != (batch, steps):
                raise ValueError(f"The mask of TimeDistributed must start with (batch, time) = {(batch, steps)}; "
                                 f"received a mask of shape {tuple(mask.shape)} for inputs {tuple(inputs.shape)}.")
            if getattr(type(self.layer), "_call_takes_mask", False):
                kwargs["mask"] = mask.reshape(batch * steps, *mask.shape[2:])
        outputs = self.layer(inputs.reshape(batch * steps, *inputs.shape[2:]), **kwargs)
        return outputs.reshape(batch, steps, *outputs.shape[1:])

    def compute_output_shape(self, input_shape):
        step = self._step_shape(input_shape)
        inner = self.layer.compute_output_shape(step) if isinstance(self.layer, Layer) else super().compute_output_shape(input_shape)
        if not isinstance(self.layer, Layer):
            return inner
        return (inner[0], input_shape[1], *tuple(inner)[1:])


class Masking(Layer):
    """Mask the steps whose features all equal ``mask_value`` (Keras default 0): the output
    mask is ``any(inputs != mask_value, axis=-1)`` (``(batch, time)`` for
    ``(batch, time, features)`` inputs), and masked steps are set to 0, as Keras."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise TypeError(f"mask_value must be a number; received mask_value={mask_value!r}.")
        self.mask_value = mask_value
        super().__init__(**kwargs)

    def call(self, inputs):
        keep = (inputs != self.mask_value).any(dim=-1, keepdim=True)
        return inputs.masked_fill(~keep, 0)

    def compute_mask(self, inputs, mask=None):
        return (inputs != self.mask_value).any(dim=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


class Identity(Layer):
    """Return the inputs unchanged (any structure); masks pass through."""

    supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
