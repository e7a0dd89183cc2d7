"""Weight regularizers (Keras 3 formulas): penalties added to the training objective."""

from __future__ import annotations

import torch

from danlu._identifiers import unknown_identifier_error
from danlu._validation import check_number


class Regularizer:
    """``regularizer(weight) -> scalar penalty``."""

    def __call__(self, x):
        return torch.zeros((), dtype=x.dtype, device=x.device)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1(Regularizer):
    """``l1 * sum(|x|)`` (Keras default ``l1=0.01``)."""

    def __init__(self, l1=0.01):
        check_number("l1", l1, low=0)
        self.l1 = l1

    def __call__(self, x):
        return self.l1 * x.abs().sum()

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x^2)`` (Keras default ``l2=0.01``; no factor 1/2)."""

    def __init__(self, l2=0.01):
        check_number("l2", l2, low=0)
        self.l2 = l2

    def __call__(self, x):
        return self.l2 * x.square().sum()

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x^2)`` (Keras defaults 0 and 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        check_number("l1", l1, low=0)
        check_number("l2", l2, low=0)
        self.l1, self.l2 = l1, l2

    def __call__(self, x):
        penalty = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards orthogonality:
    ``factor * 0.5 * sum(|N N^T - diag|) / (n (n - 1) / 2)`` with ``N`` the L2-normalized rows.
    Keras defaults ``factor=0.01``, ``mode="rows"``."""

    def __init__(self, factor=0.01, mode="rows"):
        check_number("factor", factor, low=0)
        if mode not in ("rows", "columns"):
            raise ValueError(f"mode must be 'rows' or 'columns'; received mode={mode!r}.")
        self.factor, self.mode = factor, mode

    def __call__(self, x):
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer needs a 2-D weight; received shape {tuple(x.shape)}.")
        vectors = x if self.mode == "rows" else x.T
        vectors = vectors * torch.rsqrt(vectors.square().sum(dim=1, keepdim=True)).clamp_max(1e7)
        product = vectors @ vectors.T
        size = product.shape[0]
        off_diagonal = product * (1.0 - torch.eye(size, dtype=x.dtype, device=x.device))
        return self.factor * 0.5 * off_diagonal.abs().sum() / (size * (size - 1.0) / 2.0)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


REGULARIZERS = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def get(identifier):
    """``None``, a name (``"l1"``, ``"l2"``, ``"l1_l2"``, ``"orthogonal_regularizer"``), a
    regularizer, or any callable ``weight -> penalty``."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in REGULARIZERS:
            raise unknown_identifier_error("regularizer", identifier, REGULARIZERS)
        return REGULARIZERS[key]()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret regularizer identifier {identifier!r}.")
