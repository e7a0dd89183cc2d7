"""Encoding integer indices as ``one_hot`` / ``multi_hot`` / ``count`` vectors (Keras'
``encode_categorical_inputs``), shared by CategoryEncoding, Discretization, Hashing and the
lookup layers.

Axes (Keras): a scalar is one sample of one value. ``one_hot`` encodes every value,
``(..., 1)`` inputs dropping their last axis: ``(batch,)`` and ``(batch, 1)`` give
``(batch, depth)``, ``(batch, n)`` gives ``(batch, n, depth)``. ``multi_hot`` and ``count``
reduce one axis: a 1-D input is one sample (``(n,)`` gives ``(depth,)``), otherwise axis 1
is reduced (``(batch, n)`` gives ``(batch, depth)``, ``(batch, n, m)`` gives
``(batch, m, depth)``). An index equal to ``depth`` is dropped (the lookups' mask token).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def encode(indices: torch.Tensor, output_mode: str, depth: int, dtype=torch.float32, count_weights=None) -> torch.Tensor:
    """``indices`` (ints in ``[0, depth]``) encoded as ``output_mode`` (see the module)."""
    if output_mode == "int":
        return indices.to(dtype)
    indices = indices.long()
    if indices.ndim == 0:
        indices = indices.reshape(1)
        count_weights = None if count_weights is None else count_weights.reshape(1)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices.squeeze(-1)
        return F.one_hot(indices, depth + 1)[..., :depth].to(dtype)
    # multi_hot / count: move the reduced axis last, flatten the rest into rows.
    axis = 0 if indices.ndim == 1 else 1
    moved = indices.movedim(axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    out = torch.zeros(rows.shape[0], depth + 1, dtype=dtype, device=indices.device)
    if output_mode == "multi_hot":
        out.scatter_(1, rows, 1)
    else:
        if count_weights is None:
            values = torch.ones(rows.shape, dtype=dtype, device=indices.device)
        else:
            values = torch.as_tensor(count_weights, device=indices.device).to(dtype).movedim(axis, -1).reshape(rows.shape)
        out.scatter_add_(1, rows, values)
    return out[:, :depth].reshape(*moved.shape[:-1], depth)


def check_index_range(indices: torch.Tensor, depth: int, argument: str, what: str) -> None:
    """Raise ``ValueError`` if a value of ``indices`` is outside ``[0, depth)``. On an
    accelerator the check is asynchronous (``torch._assert_async``: no host sync; a bad value
    fails at the next synchronization); skipped on the fake tensors of shape inference."""
    if indices.numel() == 0 or _is_fake(indices):
        return
    if indices.device.type != "cpu":
        torch._assert_async(((indices >= 0) & (indices < depth)).all(), f"{argument}: {what} must be in [0, {depth})")
        return
    low, high = int(indices.min()), int(indices.max())
    if low < 0 or high >= depth:
        bad = low if low < 0 else high
        raise ValueError(f"{argument}: {what} must be in [0, {depth}); received the value {bad}.")


def _is_fake(tensor) -> bool:
    from torch._subclasses.fake_tensor import FakeTensor

    return isinstance(tensor, FakeTensor)


def encoded_shape(input_shape, output_mode: str, depth) -> tuple:
    """The output shape of `encode` for inputs of ``input_shape``."""
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if len(shape) == 0:
        return (depth,)
    if output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
        return shape + (depth,)
    if len(shape) == 1:
        return (depth,)
    return shape[:1] + shape[2:] + (depth,)
