"""Gradient clipping with Keras 3's formulas, over lists of tensors (``torch._foreach_*``).

- `clip_by_norm`: each gradient ``g * c / max(||g||, c)`` (``clipnorm``)
- `clip_by_global_norm`: every gradient ``g * c * min(1 / N, 1 / c)``, ``N`` the norm of all
  gradients together; a non-finite ``N`` makes every gradient NaN, as Keras (``global_clipnorm``)
- `clip_by_value`: each element into ``[-c, c]`` (``clipvalue``)

All of them run on the device without reading values back to the host.
"""

from __future__ import annotations

import torch


def clip_by_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    norms = torch._foreach_norm(grads)
    torch._foreach_clamp_min_(norms, clipnorm)
    scaled = torch._foreach_mul(grads, clipnorm)
    return list(torch._foreach_div(scaled, norms))


def global_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([n.to(torch.float32) for n in torch._foreach_norm(grads)]))


def clip_by_global_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    if not grads:
        return grads
    by_device: dict[torch.device, list[int]] = {}
    for i, g in enumerate(grads):
        by_device.setdefault(g.device, []).append(i)
    norms = [global_norm([grads[i] for i in idx]).to(grads[0].device) for idx in by_device.values()]
    norm = torch.linalg.vector_norm(torch.stack(norms)) if len(norms) > 1 else norms[0]
    scale = clipnorm * torch.minimum(1.0 / norm, torch.full_like(norm, 1.0 / clipnorm))
    scale = scale + (norm - norm)  # NaN for an infinite or NaN norm, as Keras
    out = list(grads)
    for idx in by_device.values():
        device_scale = scale.to(grads[idx[0]].device)
        for i, g in zip(idx, torch._foreach_mul([grads[i] for i in idx], device_scale)):
            out[i] = g
    return out


def clip_by_value(grads: list[torch.Tensor], clipvalue: float) -> list[torch.Tensor]:
    return list(torch._foreach_clamp_max(torch._foreach_clamp_min(grads, -clipvalue), clipvalue))
