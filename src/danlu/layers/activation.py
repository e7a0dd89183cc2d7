"""Activation layers (Keras 3.15): ReLU, LeakyReLU, PReLU, ELU, Softmax.

Element-wise layers keep the input's shape and layout and pass masks on. (`Activation`, the
layer that applies any activation by name, lives in `danlu.layers.core`.)
"""

from __future__ import annotations

import warnings

import torch

from danlu import activations
from danlu._validation import check_number
from danlu.layers.base import Layer


class _Elementwise(Layer):
    supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


class ReLU(_Elementwise):
    """``min(x, max_value)`` above ``threshold``, ``negative_slope * (x - threshold)`` below
    (`danlu.activations.relu`). Keras defaults: ``max_value=None``, ``negative_slope=0``,
    ``threshold=0`` (the plain rectifier); all must be >= 0."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        check_number("max_value", max_value, low=0, allow_none=True)
        check_number("negative_slope", negative_slope, low=0)
        check_number("threshold", threshold, low=0)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold
        super().__init__(**kwargs)

    def call(self, inputs):
        return activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)


class LeakyReLU(_Elementwise):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below. The layer's Keras default slope is
    0.3 (the function `danlu.activations.leaky_relu` defaults to 0.2, as Keras). The tf.keras
    2.x spelling ``alpha=`` is accepted with a warning."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU(alpha=...) is deprecated (Keras 3); use negative_slope=...", DeprecationWarning, stacklevel=2)
        check_number("negative_slope", negative_slope, low=0)
        self.negative_slope = negative_slope
        super().__init__(**kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("alpha", None)
        config["negative_slope"] = self.negative_slope  # the value given as alpha= included
        return config

    def call(self, inputs):
        return activations.leaky_relu(inputs, self.negative_slope)


class ELU(_Elementwise):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below. Keras default ``alpha=1``."""

    def __init__(self, alpha=1.0, **kwargs):
        check_number("alpha", alpha)
        self.alpha = alpha
        super().__init__(**kwargs)

    def call(self, inputs):
        return activations.elu(inputs, self.alpha)


class PReLU(_Elementwise):
    """Parametric ReLU: ``max(x, 0) - alpha * max(-x, 0)`` with a learned ``alpha``.

    ``alpha`` has the per-sample shape of the input (axes listed in ``shared_axes`` -- 1-based,
    the batch axis is 0 -- have size 1 and share one value). Keras defaults:
    ``alpha_initializer="zeros"``, no regularizer or constraint, ``shared_axes=None``.
    Layout: ``alpha`` follows the input's layout, which is Keras' for ``(batch, features)`` and
    ``(batch, time, features)`` inputs; for channels-first images ``(batch, c, h, w)`` it is
    ``(c, h, w)`` where a channels-last Keras model has ``(h, w, c)``, and
    ``shared_axes=[2, 3]`` here is Keras' ``shared_axes=[1, 2]``.
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None, **kwargs):
        if shared_axes is not None:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in axes):
                raise ValueError(f"shared_axes must be axes >= 1 (the batch axis is 0); received shared_axes={shared_axes!r}.")
            shared_axes = axes
        self.shared_axes = shared_axes
        self.alpha_initializer, self.alpha_regularizer, self.alpha_constraint = alpha_initializer, alpha_regularizer, alpha_constraint
        super().__init__(**kwargs)

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis >= len(input_shape):
                raise ValueError(f"shared_axes={self.shared_axes} names axis {axis}; the inputs have rank {len(input_shape)}.")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU needs known sizes for the axes it does not share; received input shape {tuple(input_shape)}.")
        self.add_weight(shape=shape, initializer=self.alpha_initializer, regularizer=self.alpha_regularizer,
                        constraint=self.alpha_constraint, name="alpha")

    def call(self, inputs):
        return torch.relu(inputs) - self.alpha * torch.relu(-inputs)


def _large_negative(dtype):
    return -3e4 if dtype == torch.float16 else -1e9  # Keras' Softmax mask fill


class Softmax(_Elementwise):
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int or a list of ints; Keras default -1).

    A ``mask`` (given, or the input's) broadcastable to the input keeps the positions where it
    is True (or > 0.5): the others are set to -1e9 (-3e4 in float16) before the softmax and
    to 0 after, as Keras does."""

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, bool) or not (isinstance(axis, int) or (isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis))):
            raise ValueError(f"axis must be an int or a list of ints; received axis={axis!r}.")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        super().__init__(**kwargs)

    def call(self, inputs, mask=None):
        if mask is not None:
            _check_broadcastable(mask.shape, inputs.shape)
            if mask.dtype != torch.bool:
                mask = mask > 0.5
            inputs = inputs.masked_fill(~mask, _large_negative(inputs.dtype))
        outputs = activations.softmax(inputs, self.axis)
        if mask is not None:
            outputs = outputs.masked_fill(~mask, 0.0)
        return outputs


def _check_broadcastable(mask_shape, input_shape):
    fits = len(mask_shape) <= len(input_shape) and all(
        m == 1 or m == i for m, i in zip(reversed(tuple(mask_shape)), reversed(tuple(input_shape)))
    )
    if not fits:
        raise ValueError(
            f"The mask must be broadcastable to the inputs (each mask axis 1 or the input's size, counted from "
            f"the last); received inputs of shape {tuple(input_shape)} and a mask of shape {tuple(mask_shape)}."
        )
