"""Keras activation functions by name, as torch functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu._identifiers import unknown_identifier_error


def linear(x):
    return x


def softmax(x, axis=-1):
    return torch.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    return torch.log_softmax(x, dim=axis)


def hard_sigmoid(x):
    """Keras 3: ``relu6(x + 3) / 6``."""
    return F.relu6(x + 3.0) / 6.0


def leaky_relu(x, negative_slope=0.2):
    """Keras' default slope is 0.2 (PyTorch's is 0.01)."""
    return F.leaky_relu(x, negative_slope)


def gelu(x, approximate=False):
    return F.gelu(x, approximate="tanh" if approximate else "none")


ACTIVATIONS = {
    "linear": linear, "relu": torch.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "softmax": softmax, "log_softmax": log_softmax, "softplus": F.softplus, "softsign": F.softsign,
    "elu": F.elu, "selu": torch.selu, "gelu": gelu, "silu": F.silu, "swish": F.silu, "mish": F.mish,
    "exponential": torch.exp, "hard_sigmoid": hard_sigmoid, "leaky_relu": leaky_relu,
    "hard_silu": F.hardswish, "hard_swish": F.hardswish,
}


def get(identifier):
    """``None`` or a name -> the function (``None`` means linear); callables pass through."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in ACTIVATIONS:
            raise unknown_identifier_error("activation", identifier, ACTIVATIONS)
        return ACTIVATIONS[identifier]
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation identifier {identifier!r}.")
