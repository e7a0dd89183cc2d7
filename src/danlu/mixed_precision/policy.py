"""Dtype policies (Keras 3's ``DTypePolicy`` / ``mixed_precision.Policy``): the dtype of a
layer's weights and the dtype it computes in.

``"float32"`` (default), ``"float64"``, ``"bfloat16"``, ``"float16"``: both dtypes the same;
``"mixed_bfloat16"``, ``"mixed_float16"``: float32 weights, 16-bit computation (layers run
under ``torch.autocast`` in the compute dtype; losses and metrics are computed in float32).
``set_global_policy`` sets the policy of layers created afterwards; a layer's ``dtype=``
takes a policy, a policy name or a dtype name (unknown names raise ``ValueError`` with the
closest valid one). ``"mixed_float16"`` also makes ``compile`` wrap the optimizer in a
`danlu.optimizers.LossScaleOptimizer` (dynamic loss scaling), as Keras does.
"""

from __future__ import annotations

import torch

from danlu._dtypes import dtype_name, standardize_dtype
from danlu._identifiers import closest_name_hint

MIXED = {"mixed_float16": torch.float16, "mixed_bfloat16": torch.bfloat16}

PLAIN = ("float16", "bfloat16", "float32", "float64")


class Policy:
    """``Policy(name)``: ``name`` is a policy name (``"mixed_float16"``, ``"mixed_bfloat16"``)
    or a floating dtype name (``"float32"``, ...). ``compute_dtype`` / ``variable_dtype`` are
    Keras' strings; ``torch_compute_dtype`` / ``torch_variable_dtype`` the torch dtypes;
    ``is_mixed`` says whether they differ."""

    def __init__(self, name="float32"):
        if isinstance(name, Policy):
            name = name.name
        if isinstance(name, str) and name in MIXED:
            self.name = name
            self.torch_variable_dtype, self.torch_compute_dtype = torch.float32, MIXED[name]
        else:
            try:
                dtype = standardize_dtype(name, "dtype", floating=True)
            except (ValueError, TypeError):
                valid = [*MIXED, *PLAIN]
                hint = closest_name_hint(name, valid) if isinstance(name, str) else ""
                raise ValueError(f"Unknown dtype policy {name!r}.{hint} Valid names: {', '.join(valid)}.") from None
            self.name = dtype_name(dtype)
            self.torch_variable_dtype = self.torch_compute_dtype = dtype
        self.is_mixed = self.torch_variable_dtype != self.torch_compute_dtype
        #: Whether a layer call under this policy differs from a plain float32 call (a mixed
        #: policy, or a compute dtype other than float32): layers check it once per call.
        self.changes_computation = self.is_mixed or self.torch_compute_dtype != torch.float32

    @property
    def compute_dtype(self) -> str:
        return dtype_name(self.torch_compute_dtype)

    @property
    def variable_dtype(self) -> str:
        return dtype_name(self.torch_variable_dtype)

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<Policy "{self.name}">'


DTypePolicy = Policy  # Keras 3's name
_GLOBAL = [Policy("float32")]


def set_global_policy(policy) -> None:
    """Set the policy of the layers created from now on (a name or a `Policy`)."""
    _GLOBAL[0] = Policy(policy)


def global_policy() -> Policy:
    return _GLOBAL[0]


def get(dtype) -> Policy:
    """The policy for a layer's ``dtype=`` argument: ``None`` -> the global policy; a name,
    a torch dtype or a `Policy` -> that policy."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, Policy):
        return dtype
    return Policy(dtype)
