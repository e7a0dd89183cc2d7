"""Turning user inputs (tensors, numpy arrays, lists, scalars) into torch tensors."""

from __future__ import annotations

import numpy as np
import torch


def as_tensor(value, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """Convert ``value`` to a tensor without copying when it already is one.

    Python floats and float64 numpy arrays become float32 (Keras' ``floatx``) unless
    ``dtype`` says otherwise; torch tensors keep their dtype unless ``dtype`` is given.
    Autograd history is preserved.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        if tensor.dtype == torch.float64 and dtype is None:
            tensor = tensor.to(torch.float32)
    else:
        tensor = torch.as_tensor(value)
        if tensor.dtype == torch.float64 and dtype is None:
            tensor = tensor.to(torch.float32)
    if dtype is not None or device is not None:
        tensor = tensor.to(device=device, dtype=dtype)
    return tensor
