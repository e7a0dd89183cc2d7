"""Normalization layers with Keras' defaults."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu._validation import check_number
from danlu.layers.base import Layer


class BatchNormalization(Layer):
    """Normalize each feature (channel) by batch statistics while training and by moving
    averages in evaluation: ``gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    Keras defaults: ``momentum=0.99`` (moving = 0.99 moving + 0.01 batch), ``epsilon=1e-3``,
    ``center=True``, ``scale=True``. The feature axis is ``axis=1`` (PyTorch's channels-first
    layout; for ``(batch, features)`` inputs this is Keras' ``-1``). The moving variance is
    updated with the unbiased batch variance, as PyTorch does.
    """

    def __init__(self, axis=1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        check_number("momentum", momentum, low=0, high=1)
        check_number("epsilon", epsilon, low=0, low_open=True)
        if axis != 1:
            raise ValueError(f"BatchNormalization normalizes channels-first inputs: axis must be 1; received axis={axis!r}.")
        self.axis, self.momentum, self.epsilon, self.center, self.scale = axis, momentum, epsilon, center, scale
        self._initializers = (beta_initializer, gamma_initializer)
        self._regularizers = (beta_regularizer, gamma_regularizer)
        super().__init__(**kwargs)

    def build(self, input_shape):
        features = input_shape[1]
        self.gamma = self.add_weight("gamma", (features,), self._initializers[1], self._regularizers[1]) if self.scale else None
        self.beta = self.add_weight("beta", (features,), self._initializers[0], self._regularizers[0]) if self.center else None
        self.register_buffer("moving_mean", torch.zeros(features))
        self.register_buffer("moving_variance", torch.ones(features))

    def call(self, inputs):
        return F.batch_norm(
            inputs, self.moving_mean, self.moving_variance, self.gamma, self.beta,
            training=self.training, momentum=1.0 - self.momentum, eps=self.epsilon,
        )


class LayerNormalization(Layer):
    """Normalize each sample over its last axis: ``gamma * (x - mean) / sqrt(var + epsilon) +
    beta``. Keras defaults: ``axis=-1``, ``epsilon=1e-3``, ``center=True``, ``scale=True``."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        check_number("epsilon", epsilon, low=0, low_open=True)
        if axis != -1:
            raise ValueError(f"LayerNormalization normalizes the last axis: axis must be -1; received axis={axis!r}.")
        self.axis, self.epsilon, self.center, self.scale = axis, epsilon, center, scale
        super().__init__(**kwargs)

    def build(self, input_shape):
        features = input_shape[-1]
        self.gamma = self.add_weight("gamma", (features,), "ones") if self.scale else None
        self.beta = self.add_weight("beta", (features,), "zeros") if self.center else None

    def call(self, inputs):
        return F.layer_norm(inputs, inputs.shape[-1:], self.gamma, self.beta, self.epsilon)
