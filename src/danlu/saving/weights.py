"""Model weights in safetensors files (never unpickled), written atomically."""

from __future__ import annotations

import os

import torch

from danlu.saving.atomic import atomic_path


def save_weights(module: torch.nn.Module, path) -> None:
    """Write every parameter and buffer of ``module`` to ``path`` (``.safetensors``)."""
    from safetensors.torch import save_file

    path = os.fspath(path)
    if not path.endswith(".safetensors"):
        raise ValueError(f"Weight files use the safetensors format: the path must end in '.safetensors'; received {path!r}.")
    tensors = {name: value.detach().contiguous().cpu() for name, value in module.state_dict().items()}
    with atomic_path(path) as temporary:
        save_file(tensors, temporary, metadata={"format": "danlu"})


def load_weights(module: torch.nn.Module, path) -> None:
    """Load weights saved by `save_weights`. Names and shapes are checked first: a file from
    another architecture raises ``ValueError`` listing what differs, and changes nothing."""
    from safetensors.torch import load_file

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    tensors = load_file(path)
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [
        f"{name}: file {tuple(tensors[name].shape)}, model {tuple(expected[name].shape)}"
        for name in expected if name in tensors and tensors[name].shape != expected[name].shape
    ]
    if missing or unexpected or mismatched:
        details = []
        if missing:
            details.append(f"missing from the file: {', '.join(missing)}")
        if unexpected:
            details.append(f"not in the model: {', '.join(unexpected)}")
        if mismatched:
            details.append(f"different shapes: {'; '.join(mismatched)}")
        raise ValueError(f"The weights in {path!r} do not fit this model ({'; '.join(details)}).")
    module.load_state_dict(tensors)
