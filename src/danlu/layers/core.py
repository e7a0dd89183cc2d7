"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Lambda, Embedding."""

from __future__ import annotations

import math

import torch.nn.functional as F

from danlu import activations
from danlu._validation import check_number, check_positive_int
from danlu.layers.base import KernelLayer, Layer


class Dense(KernelLayer):
    """``activation(inputs @ kernel + bias)`` on the last axis.

    Keras arguments and defaults: ``units``, ``activation=None``, ``use_bias=True``,
    ``kernel_initializer="glorot_uniform"``, ``bias_initializer="zeros"``,
    ``kernel_regularizer``, ``bias_regularizer``, ``activity_regularizer``. The input size is
    taken from the first input. The weight is stored in PyTorch's layout, ``weight`` of shape
    ``(units, input_dim)`` as in ``nn.Linear`` (its fastest form); ``kernel`` is the same
    tensor in Keras' shape ``(input_dim, units)``.
    """

    def __init__(
        self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
        kernel_regularizer=None, bias_regularizer=None, **kwargs,
    ):
        check_positive_int("units", units)
        self.units = units
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer, **kwargs)

    def build(self, input_shape):
        fans = (float(input_shape[-1]), float(self.units))
        self.add_kernel_and_bias((self.units, input_shape[-1]), self.units, fans, keras_layout=(1, 0))

    @property
    def kernel(self):
        """The weight in Keras' shape ``(input_dim, units)`` (a view of ``weight``)."""
        return self.weight.T

    def call(self, inputs):
        return self.activation(F.linear(inputs, self.weight, self.bias))


class Activation(Layer):
    """Apply an activation by name (``"relu"``, ``"softmax"``, ...) or a callable."""

    def __init__(self, activation, **kwargs):
        self.activation = activations.get(activation)
        super().__init__(**kwargs)

    def call(self, inputs):
        return self.activation(inputs)


class Dropout(Layer):
    """Zero a fraction ``rate`` of the inputs while training, scaling the rest by
    ``1 / (1 - rate)``; the identity in evaluation."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        check_number("rate", rate, low=0, high=1, high_open=True)
        self.rate = rate
        super().__init__(**kwargs)

    def call(self, inputs):
        return F.dropout(inputs, self.rate, self.training)


class Flatten(Layer):
    """Flatten every axis but the batch axis (PyTorch's channels-first order)."""

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], -1)


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (batch axis kept; one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        self.target_shape = tuple(target_shape)
        super().__init__(**kwargs)

    def call(self, inputs):
        per_sample = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 not in self.target_shape and known != per_sample) or (known and per_sample % known):
            raise ValueError(
                f"Reshape cannot turn samples of shape {tuple(inputs.shape[1:])} ({per_sample} values) "
                f"into target_shape={self.target_shape}."
            )
        return inputs.reshape(inputs.shape[0], *self.target_shape)


class Lambda(Layer):
    """Wrap a function of the inputs as a layer: ``Lambda(lambda x: x ** 2)``."""

    def __init__(self, function, **kwargs):
        if not callable(function):
            raise TypeError(f"function must be callable; received {function!r}.")
        self.function = function
        super().__init__(**kwargs)

    def call(self, inputs):
        return self.function(inputs)


class Embedding(Layer):
    """Look up rows of an ``(input_dim, output_dim)`` table for integer inputs.

    Keras defaults: ``embeddings_initializer="uniform"`` (uniform in [-0.05, 0.05]),
    ``embeddings_regularizer=None``. ``sparse=True`` gives sparse gradients (for LazyAdam).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None, sparse=False, **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{arg} must be a positive int; received {arg}={value!r}.")
        self.input_dim, self.output_dim, self.sparse = input_dim, output_dim, sparse
        super().__init__(**kwargs)
        self.add_weight("embeddings", (input_dim, output_dim), embeddings_initializer, embeddings_regularizer)
        self.build_from_shape(None)

    def call(self, inputs):
        return F.embedding(inputs.long(), self.embeddings, sparse=self.sparse)
