"""Keras weight initializers by name, for torch tensors (kernels in Keras' fan convention).

Fans: for a kernel of shape ``(..., fan_in_axis, fan_out_axis)`` Keras takes
``receptive field x shape[-2]`` in and ``receptive field x shape[-1]`` out. danlu's Dense
kernel is Keras' ``(in, out)``; convolution kernels are PyTorch's ``(out, in, *k)`` and pass
their fans explicitly.
"""

from __future__ import annotations

import math
import re

import torch

from danlu._identifiers import unknown_identifier_error


def keras_fans(shape) -> tuple[float, float]:
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """``initializer(shape, dtype=None, fans=None) -> Tensor``."""

    def __call__(self, shape, dtype=None, fans=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None, fans=None):
        return torch.full(tuple(shape), float(self.value), dtype=dtype or torch.float32)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class RandomUniform(Initializer):
    """Uniform in ``[minval, maxval]`` (Keras: -0.05, 0.05)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None, fans=None):
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        return torch.empty(tuple(shape), dtype=dtype or torch.float32).uniform_(self.minval, self.maxval, generator=generator)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev`` (Keras: 0, 0.05)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None, fans=None):
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        return torch.empty(tuple(shape), dtype=dtype or torch.float32).normal_(self.mean, self.stddev, generator=generator)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal cut at two standard deviations (Keras: mean 0, stddev 0.05)."""

    def __call__(self, shape, dtype=None, fans=None):
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        out = torch.empty(tuple(shape), dtype=dtype or torch.float32)
        return torch.nn.init.trunc_normal_(
            out, self.mean, self.stddev, self.mean - 2 * self.stddev, self.mean + 2 * self.stddev, generator=generator
        )


class VarianceScaling(Initializer):
    """Keras' ``VarianceScaling``: variance ``scale / n`` with ``n`` the fan in, fan out or their
    mean; a truncated normal (stddev divided by 0.8796 to undo the truncation), a normal, or a
    uniform in ``[-sqrt(3 scale / n), sqrt(3 scale / n)]``."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if not scale > 0:
            raise ValueError(f"scale must be positive; received scale={scale!r}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg'; received mode={mode!r}.")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform'; received {distribution!r}.")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None, fans=None):
        fan_in, fan_out = fans or keras_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return RandomUniform(-limit, limit, self.seed)(shape, dtype)
        if self.distribution == "untruncated_normal":
            return RandomNormal(0.0, math.sqrt(scale), self.seed)(shape, dtype)
        return TruncatedNormal(0.0, math.sqrt(scale) / 0.8796256610342398, self.seed)(shape, dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _scaled(name, scale, mode, distribution):
    def make(seed=None):
        initializer = VarianceScaling(scale, mode, distribution, seed)
        initializer.keras_name = name
        return initializer

    make.__name__ = name
    return make


GlorotUniform = _scaled("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaled("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaled("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaled("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaled("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaled("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (Keras: gain 1.0)."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype=None, fans=None):
        out = torch.empty(tuple(shape), dtype=dtype or torch.float32)
        generator = torch.Generator().manual_seed(self.seed) if self.seed is not None else None
        with torch.random.fork_rng(enabled=generator is not None):
            if generator is not None:
                torch.manual_seed(self.seed)
            return torch.nn.init.orthogonal_(out, gain=self.gain)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


INITIALIZERS = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform,
    "random_normal": RandomNormal, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "uniform": RandomUniform, "normal": RandomNormal,
}


def get(identifier):
    """A name (``"glorot_uniform"``, ``"he_normal"``, ``"zeros"``, ... or the CamelCase class
    name), an `Initializer`, or any callable ``(shape, dtype) -> Tensor``."""
    if isinstance(identifier, str):
        key = identifier if identifier in INITIALIZERS else "_".join(
            part.lower() for part in re.findall(r"[A-Z][a-z]*", identifier)
        )
        if key not in INITIALIZERS:
            raise unknown_identifier_error("initializer", identifier, INITIALIZERS)
        return INITIALIZERS[key]()
    if identifier in INITIALIZERS.values():  # a class or factory given uninstantiated
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret initializer identifier {identifier!r}.")
