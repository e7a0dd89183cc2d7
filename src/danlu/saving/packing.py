"""Nested state (dicts, lists, tuples, numbers, strings, tensors) <-> flat tensors + JSON.

``pack(state, prefix)`` returns a JSON-able structure in which every tensor is replaced by a
reference ``{"__tensor__": key}``, and the dict ``{key: tensor}``; ``unpack`` is its exact
inverse. Keys that are not strings (torch optimizers key their state by int) and tuples are
kept as they were: ``{"__items__": [[key, value], ...]}`` and ``{"__tuple__": [...]}``. This is
how model files and backups store optimizer, progress and callback state without pickling.
"""

from __future__ import annotations

import numpy as np
import torch

TENSOR, ITEMS, TUPLE = "__tensor__", "__items__", "__tuple__"
_MARKERS = {TENSOR, ITEMS, TUPLE}


def pack(state, prefix: str = "state") -> tuple[object, dict[str, torch.Tensor]]:
    """Split ``state`` into (JSON-able structure, ``{key: tensor}``); tensors are copied to
    the CPU, contiguous, detached."""
    tensors: dict[str, torch.Tensor] = {}
    return _pack(state, prefix, tensors), tensors


def _pack(value, key, tensors):
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().contiguous().cpu()
        return {TENSOR: key}
    if isinstance(value, np.ndarray):
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value)).clone()
        return {TENSOR: key}
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (set(value) & _MARKERS):
            return {k: _pack(v, f"{key}/{k}", tensors) for k, v in value.items()}
        return {ITEMS: [[_pack(k, f"{key}/key{i}", tensors), _pack(v, f"{key}/{i}", tensors)] for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, tuple):
        return {TUPLE: [_pack(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_pack(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Cannot store {key}={value!r} ({type(value).__name__}): only tensors, arrays, numbers, strings, lists, tuples and dicts.")


def unpack(structure, tensors: dict[str, torch.Tensor]):
    """Rebuild the state that `pack` split (tensors looked up in ``tensors``)."""
    if isinstance(structure, dict):
        if set(structure) == {TENSOR}:
            key = structure[TENSOR]
            if key not in tensors:
                raise ValueError(f"The stored state refers to a tensor {key!r} that the file does not hold.")
            return tensors[key]
        if set(structure) == {ITEMS}:
            return {_hashable(unpack(k, tensors)): unpack(v, tensors) for k, v in structure[ITEMS]}
        if set(structure) == {TUPLE}:
            return tuple(unpack(v, tensors) for v in structure[TUPLE])
        return {k: unpack(v, tensors) for k, v in structure.items()}
    if isinstance(structure, list):
        return [unpack(v, tensors) for v in structure]
    return structure


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key
