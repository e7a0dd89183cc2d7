"""`Strategy`: what every multi-process strategy shares — the process group, the scope, the
global batch, sharded data and combined results. `DataParallel` and `ShardedDataParallel`
add how the model is wrapped and how its states are saved.

A strategy is created in every process of a launched job (torchrun, SLURM, `launch`); the
process group starts at once, from the environment. Run without a launcher, a strategy is a
world of one process and behaves as `danlu.trainer.strategy.SingleProcess` (the same script
runs on one CPU, one GPU or many).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from danlu._validation import check_number
from danlu.distribute import collectives, environment, scope
from danlu.trainer import sharding
from danlu.trainer.strategy import SingleProcess


class Strategy(SingleProcess):
    """Base of the multi-process strategies.

    Arguments: ``devices`` (``None``: the GPU of this process' local rank when there are
    GPUs, else the CPU; ``"cpu"``, ``"cuda"``, or one device per process on the machine),
    ``backend`` (``None``: NCCL on GPUs, Gloo on CPUs; ``"nccl"`` on a machine without GPUs is
    an error), ``timeout`` (seconds a collective may wait for the other processes before it
    raises, default 600).
    """

    def __init__(self, devices=None, backend=None, timeout=600.0):
        check_number("timeout", timeout, low=0, low_open=True)
        self.world_size, self.rank, self.local_rank = environment.launched_world()
        self.device = environment.resolve_device(devices, self.local_rank)
        self.backend = environment.check_backend(backend, self.device)
        self.timeout = float(timeout)
        self.distributed = self.world_size > 1
        if self.distributed:
            environment.init_process_group(self.backend, self.device, self.timeout)
            self.world_size, self.rank = dist.get_world_size(), dist.get_rank()
        self.collective_device = self.device if self.backend == "nccl" else torch.device("cpu")

    def __repr__(self):
        return f"{type(self).__name__}(world_size={self.world_size}, rank={self.rank}, device={str(self.device)!r})"

    @property
    def num_replicas_in_sync(self) -> int:
        """tf.distribute's name for the number of processes."""
        return self.world_size

    def scope(self):
        """The context in which models are created and compiled (see `danlu.distribute.scope`)."""
        return scope.entered(self)

    # --- The trainer's questions ------------------------------------------------------------------

    def choose_device(self, model, device=None):
        requested = None if device is None or device == "auto" else torch.device(device)
        if requested is not None and (requested.type != self.device.type or requested.index not in (None, self.device.index)):
            raise ValueError(
                f"compile(device={device!r}) under {self!r}, which trains this process on {self.device}: choose the "
                "device with the strategy's devices= argument."
            )
        return self.device

    def check_batch_size(self, batch_size, argument="batch_size"):
        if self.distributed and isinstance(batch_size, int) and batch_size < self.world_size:
            raise ValueError(
                f"{argument}={batch_size} is the global batch, shared by the {self.world_size} processes: it must be at "
                f"least {self.world_size} so that every process gets samples (any {argument} >= {self.world_size} works, "
                "divisible or not)."
            )

    def shard(self, data):
        return sharding.shard(data, self.rank, self.world_size) if self.distributed else data

    def shared_seed(self, seed):
        return collectives.broadcast_int(seed, self.collective_device) if self.distributed else seed

    def reduce_metrics(self, metrics):
        if self.distributed:
            collectives.reduce_metrics(metrics, self.collective_device, self.world_size, self.rank)

    def reduce_logs(self, logs):
        return collectives.reduce_logs(logs, self.collective_device, self.world_size) if self.distributed else logs

    def gather_batches(self, outputs):
        return collectives.gather_batches(outputs, self.collective_device, self.world_size) if self.distributed else outputs

    def barrier(self):
        if self.distributed:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()
