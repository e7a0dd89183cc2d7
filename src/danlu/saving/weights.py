"""Weight files: a state dict in a danlu safetensors file (never unpickled), written
atomically, loaded only after every name and shape has been checked."""

from __future__ import annotations

import torch

from danlu.saving import files


def save_weights(state: dict[str, torch.Tensor], path) -> None:
    """Write the tensors of ``state`` (a ``state_dict()``) to ``path``, whatever its suffix."""
    files.write(path, state, {}, files.WEIGHTS)


def load_weights(path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors in the weights file at ``path``, checked against ``expected`` (the
    ``state_dict()`` they will be loaded into): a file from another architecture raises
    ``ValueError`` listing what differs."""
    _, tensors = files.read(path, files.WEIGHTS)
    check_matching(expected, tensors, f"The weights in {str(path)!r}")
    return tensors


def check_matching(expected: dict, found: dict, what: str) -> None:
    """Raise ``ValueError`` unless ``found`` has exactly ``expected``'s names and shapes."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = [
        f"{name}: file {tuple(found[name].shape)}, model {tuple(expected[name].shape)}"
        for name in expected if name in found and tuple(found[name].shape) != tuple(expected[name].shape)
    ]
    details = []
    if missing:
        details.append(f"missing from the file: {', '.join(missing)}")
    if unexpected:
        details.append(f"not in the model: {', '.join(unexpected)}")
    if mismatched:
        details.append(f"different shapes: {'; '.join(mismatched)}")
    if details:
        raise ValueError(f"{what} do not fit this model ({'; '.join(details)}).")
