"""What danlu asks of ``torch.nn.Module``'s call machinery (one place, for layers and losses)."""

from __future__ import annotations

import torch
import torch.nn.modules.module as torch_module


def nothing_hooked(module: torch.nn.Module) -> bool:
    """Whether ``Module.__call__`` would go straight to ``forward``: no forward or backward
    hook (the module's or a global one), no ``module.compile()``, no ``torch.jit.trace``
    running. Layers and losses then call ``forward`` themselves (~0.6 us less per call)."""
    return not (
        module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks
        or torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks
        or torch_module._global_backward_hooks or torch_module._global_backward_pre_hooks
        or module._compiled_call_impl is not None or torch._C._get_tracing_state()
    )
