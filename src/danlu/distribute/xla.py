"""`TPUStrategy`: data parallelism on TPUs through PyTorch/XLA (torch_xla) and its PJRT runtime.

One process per TPU chip (``torchrun`` on each host of a pod slice, or ``PJRT_DEVICE=TPU``
with torch_xla's own launcher); every process trains on the ``xla`` device, the gradients
are all-reduced by DDP over torch_xla's ``xla`` process-group backend (``init_method=
"xla://"``), and each step ends with torch_xla's ``sync()`` (``mark_step``) so that the
lazily traced step runs. Everything else — the global batch, sharded data, combined
metrics, rank 0's files — is `DataParallel`'s.

torch_xla is not installed with danlu; without it `TPUStrategy()` raises an ``ImportError``
naming the package (as does ``compile(device="xla")``).
"""

from __future__ import annotations

import datetime

import torch
import torch.distributed as dist

from danlu.distribute.data_parallel import DataParallel
from danlu.trainer.strategy import xla_device


def _torch_xla():
    try:
        import torch_xla
        import torch_xla.distributed.xla_backend
        import torch_xla.runtime as xr
    except ImportError as error:
        raise ImportError(
            "TPUStrategy needs the torch_xla package (PyTorch/XLA, with its PJRT runtime), which is not installed or "
            f"does not fit this torch {torch.__version__} ({error}): on a TPU VM, pip install 'torch_xla[tpu]' of the "
            "same version as torch."
        ) from error
    return torch_xla, xr


class TPUStrategy(DataParallel):
    """``strategy = TPUStrategy(); with strategy.scope(): model = ...; model.compile(...)``.
    ``timeout``, ``find_unused_parameters`` as `DataParallel`."""

    def __init__(self, timeout=600.0, find_unused_parameters=None):
        torch_xla, xr = _torch_xla()
        self.device = xla_device()
        self.backend = "xla"
        self.timeout = float(timeout)
        self.world_size, self.rank = xr.world_size(), xr.global_ordinal()
        self.local_rank = xr.local_ordinal()
        self.distributed = self.world_size > 1
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("xla", init_method="xla://", timeout=datetime.timedelta(seconds=self.timeout))
        self.collective_device = self.device
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = 25
        self.step_end = torch_xla.sync if hasattr(torch_xla, "sync") else _mark_step

    def wrap_model(self, model):
        if not self.distributed:
            return model
        return torch.nn.parallel.DistributedDataParallel(
            model, gradient_as_bucket_view=True, broadcast_buffers=False,
            find_unused_parameters=bool(self.find_unused_parameters),
        )

    def barrier(self):
        if self.distributed:
            import torch_xla.core.xla_model as xm

            xm.rendezvous("danlu")


def _mark_step():
    import torch_xla.core.xla_model as xm

    xm.mark_step()
