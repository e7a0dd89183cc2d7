"""Keras 3.15's activation functions, by name, as torch functions (same formulas, same defaults).

Every name ``keras.activations`` exports resolves here: ``danlu.activations.get("gelu")``,
``Dense(4, activation="silu")``, ``layers.Activation("sparsemax")``. The aliases ``swish`` (=
``silu``) and ``hard_swish`` (= ``hard_silu``) are Keras'. Defaults follow Keras, not PyTorch:
``leaky_relu`` slope 0.2 (PyTorch: 0.01), ``gelu`` exact (``approximate=False``), ``softmax``
over the last axis (``axis=None``: over every axis, batch included, as Keras on torch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from danlu._identifiers import unknown_identifier_error


def linear(x):
    """``x``."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' general rectifier (defaults: the plain ``max(x, 0)``)::

        f(x) = min(x, max_value)                if x > threshold (x >= 0 when threshold = 0)
               negative_slope * (x - threshold) otherwise
    """
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return torch.relu(x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return F.leaky_relu(x, negative_slope)
        negative_part = torch.relu(threshold - x) if threshold != 0 else torch.relu(-x)
    clip = max_value is not None
    if threshold != 0:
        x = torch.where(x > threshold, x, 0.0)
    elif max_value == 6:
        x, clip = F.relu6(x), False
    else:
        x = torch.relu(x)
    if clip:
        x = x.clamp(0.0, max_value)
    if negative_slope != 0.0:
        x = x - negative_slope * negative_part
    return x


def leaky_relu(x, negative_slope=0.2):
    """``x`` if ``x >= 0`` else ``negative_slope * x``; Keras' default slope is 0.2."""
    return F.leaky_relu(x, negative_slope)


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return F.relu6(x)


def elu(x, alpha=1.0):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return F.elu(x, alpha)


def selu(x):
    """``scale * elu(x, alpha)`` with ``alpha = 1.67326324``, ``scale = 1.05070098``."""
    return F.selu(x)


def celu(x, alpha=1.0):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return F.celu(x, alpha)


def gelu(x, approximate=False):
    """``x * Phi(x)`` (``approximate=True``: the tanh approximation)."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


def glu(x, axis=-1):
    """Split ``x`` in halves ``a, b`` along ``axis``: ``a * sigmoid(b)``."""
    return F.glu(x, dim=axis)


def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return torch.sigmoid(x)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    return F.hardsigmoid(x)


def sparse_sigmoid(x):
    """0 for ``x <= -1``, 1 for ``x >= 1``, ``(x + 1) / 2`` between."""
    return torch.where(x <= -1, 0.0, torch.where(x >= 1, 1.0, 0.5 * (x + 1)))  # Keras' form (zero slope at the kinks)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return F.logsigmoid(x)


def tanh(x):
    return torch.tanh(x)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return F.tanhshrink(x)


def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return F.hardtanh(x, -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    return F.hardshrink(x, threshold)


def soft_shrink(x, threshold=0.5):
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0."""
    return F.softshrink(x, threshold)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value`` (both required, as Keras)."""
    return F.threshold(x, threshold, default_value)


def softplus(x):
    """``log(1 + exp(x))``."""
    return F.softplus(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    return F.softsign(x)


def sparse_plus(x):
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return torch.where(x <= -1, 0.0, torch.where(x < 1, 0.25 * (x + 1) ** 2, x))


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``."""
    return (x + torch.sqrt(x * x + b)) / 2


def silu(x):
    """``x * sigmoid(x)`` (also named ``swish``)."""
    return F.silu(x)


def hard_silu(x):
    """``x * relu6(x + 3) / 6`` (also named ``hard_swish``)."""
    return F.hardswish(x)


def mish(x):
    """``x * tanh(softplus(x))``."""
    return x * torch.tanh(F.softplus(x))


def exponential(x):
    """``exp(x)``."""
    return torch.exp(x)


def _over(fn, x, axis):
    if axis is None:  # Keras on torch: every axis, batch included
        return fn(x.reshape(-1), dim=-1).reshape(x.shape)
    if isinstance(axis, (list, tuple)):
        if len(axis) == 1:
            return fn(x, dim=axis[0])
        log_probs = x - torch.logsumexp(x, dim=tuple(axis), keepdim=True)  # Keras' form for several axes
        return log_probs if fn is torch.log_softmax else torch.exp(log_probs)
    return fn(x, dim=axis)


def _half_on_cpu(x):
    return x.dtype == torch.float16 and x.device.type == "cpu"


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int, a tuple of ints, or None for all)."""
    if _half_on_cpu(x):
        return _over(torch.softmax, x.float(), axis).half()
    return _over(torch.softmax, x, axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` over ``axis``."""
    if _half_on_cpu(x):
        return _over(torch.log_softmax, x.float(), axis).half()
    return _over(torch.log_softmax, x, axis)


def sparsemax(x, axis=-1):
    """Euclidean projection of ``x`` onto the probability simplex along ``axis`` (Martins and
    Astudillo, 2016): ``max(x - tau, 0)``, where, with ``z`` sorted in decreasing order and
    ``k`` the number of ``j`` with ``1 + j z_j > z_1 + ... + z_j``,
    ``tau = (z_1 + ... + z_k - 1) / k``; the outputs sum to 1.

    Keras 3.15 takes for ``z_1 + ... + z_k`` the sum of the partial sums
    ``sum_{j<=k} (z_1 + ... + z_j)`` instead (on every backend), so its outputs do not sum
    to 1 whenever more than one entry is positive; danlu computes the projection Keras
    documents. Where one entry dominates (``k = 1``) both agree."""
    ordered = torch.sort(x, dim=axis, descending=True).values
    cumulative = ordered.cumsum(dim=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    ranks = torch.arange(1, x.shape[axis] + 1, device=x.device, dtype=x.dtype).view(shape)
    support = ordered - (cumulative - 1) / ranks > 0
    k = support.sum(dim=axis, keepdim=True)
    tau = (cumulative.gather(axis, k - 1) - 1) / k.to(x.dtype)
    return torch.clamp(x - tau, min=0.0)


ACTIVATIONS = {
    fn.__name__: fn
    for fn in (
        relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus, soft_shrink, sparse_plus,
        silu, gelu, glu, tanh, tanh_shrink, threshold, sigmoid, sparse_sigmoid, exponential, hard_sigmoid, hard_silu,
        hard_tanh, hard_shrink, linear, mish, log_softmax, log_sigmoid, sparsemax,
    )
}
# Keras' aliases (registered after the canonical names, so functions serialize as those).
ACTIVATIONS["swish"] = silu
ACTIVATIONS["hard_swish"] = hard_silu
swish, hard_swish = silu, hard_silu

#: torch functions that compute a Keras activation with its defaults, by that name: a layer
#: given ``activation=torch.relu`` saves ``"relu"`` (register them with the serializer too).
TORCH_ALIASES = {
    "relu": torch.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "softplus": F.softplus,
    "softsign": F.softsign, "elu": F.elu, "selu": torch.selu, "silu": F.silu, "mish": F.mish, "exponential": torch.exp,
    "hard_silu": F.hardswish, "hard_sigmoid": F.hardsigmoid, "log_sigmoid": F.logsigmoid, "tanh_shrink": F.tanhshrink,
}


def get(identifier):
    """``None`` (linear), a name (``"relu"``, ...), a Keras config (``{"class_name":
    "function", "config": "relu"}``) or a callable (returned as is) -> the function."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict) and isinstance(identifier.get("config"), str):
        identifier = identifier["config"]
    if isinstance(identifier, str):
        if identifier not in ACTIVATIONS:
            raise unknown_identifier_error("activation", identifier, ACTIVATIONS)
        return ACTIVATIONS[identifier]
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation identifier {identifier!r}: expected a name, a config or a callable.")


def serialize(activation) -> str:
    """The Keras name of a registered activation (``danlu.activations.serialize(relu) == "relu"``)."""
    for table in (ACTIVATIONS, TORCH_ALIASES):
        for name, fn in table.items():
            if fn is activation:
                return name
    raise ValueError(f"Activation {activation!r} has no registered name; only danlu.activations functions serialize by name.")


def deserialize(config, custom_objects=None):
    """Inverse of `serialize` (``custom_objects`` may map names to functions of your own)."""
    if custom_objects and isinstance(config, str) and config in custom_objects:
        return custom_objects[config]
    return get(config)


__all__ = [*ACTIVATIONS, "deserialize", "get", "serialize"]
