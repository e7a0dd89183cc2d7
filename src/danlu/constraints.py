"""Weight constraints (Keras 3): projections applied to a weight after each optimizer
update (``kernel_constraint=``, ``bias_constraint=`` of layers, ``add_weight(constraint=)``).

Norms are taken over ``axis`` of Keras' layout; danlu weights name their layout, and a
constraint receives the weight in its Keras layout (the layer's ``keras_layout``), so the
axes mean what Keras' documentation says.
"""

from __future__ import annotations

import torch

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_number


class Constraint:
    """``constraint(w) -> w'`` (the projected weight, same shape)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    return w.square().sum(dim=axis, keepdim=True).sqrt()


EPSILON = 1e-7  # Keras' backend.epsilon()


class MaxNorm(Constraint):
    """Rescale so that the L2 norm over ``axis`` is at most ``max_value``:
    ``w * clip(n, 0, max_value) / (eps + n)``. Keras defaults ``max_value=2``, ``axis=0``."""

    def __init__(self, max_value=2, axis=0):
        check_number("max_value", max_value, low=0)
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return w * norms.clamp(0, self.max_value) / (EPSILON + norms)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms over ``axis`` moved toward ``[min_value, max_value]`` at ``rate``:
    ``desired = rate * clip(n, min, max) + (1 - rate) * n``; ``w * desired / (eps + n)``.
    Keras defaults ``min_value=0``, ``max_value=1``, ``rate=1``, ``axis=0``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        check_number("min_value", min_value, low=0)
        check_number("max_value", max_value, low=min_value)
        check_number("rate", rate, low=0, high=1)
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * desired / (EPSILON + norms)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    """Negative values set to 0."""

    def __call__(self, w):
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    """Unit L2 norm over ``axis``: ``w / (eps + n)``. Keras default ``axis=0``."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


CONSTRAINTS = {
    "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
    "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm,
}


def get(identifier):
    """``None``, a name (``"max_norm"``, ``"non_neg"``, ...), a config dict, a
    `Constraint` or any callable ``w -> w``."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in CONSTRAINTS:
            raise unknown_identifier_error("constraint", identifier, CONSTRAINTS)
        return CONSTRAINTS[identifier]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in CONSTRAINTS:
            raise unknown_identifier_error("constraint", str(name), CONSTRAINTS)
        return CONSTRAINTS[name].from_config(identifier.get("config") or {})
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret constraint identifier {identifier!r}.")


@torch.no_grad()
def apply(variable: torch.Tensor, keras_layout=None) -> None:
    """Project ``variable`` in place by its ``constraint``, in Keras' layout."""
    constraint = variable.constraint
    if keras_layout:
        inverse = tuple(sorted(range(len(keras_layout)), key=keras_layout.__getitem__))
        variable.copy_(constraint(variable.permute(keras_layout)).permute(inverse))
    else:
        variable.copy_(constraint(variable))


__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "apply", "get"]
