"""`DataParallel`: data parallelism on ``torch.nn.parallel.DistributedDataParallel``.

Every process holds the whole model; the train step's forward goes through DDP, whose
backward all-reduces the gradients in buckets while the backward pass still runs. With
the data sharded per global batch and each process' loss weighted by its share of that
batch (`danlu.trainer.sharding`), the averaged gradient is the single-process gradient of
the same global batch, exactly (to float round-off), short and uneven last batches
included. Rank 0's weights are broadcast when DDP wraps the model, so every process starts
from the same weights.

tf.distribute's MirroredStrategy and MultiWorkerMirroredStrategy both map here: one
process per device, on one machine or many.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from danlu.distribute.strategy import Strategy
from danlu.optimizers import LossScaleOptimizer, OptimizerWrapper, TorchOptimizer
from danlu.trainer.data import flatten

ACCUMULATOR = "gradient_accumulator"  # danlu's slot for gradient accumulation


class DataParallel(Strategy):
    """``strategy = DataParallel(); with strategy.scope(): model = ...; model.compile(...)``,
    then ``model.fit(x, y, batch_size=GLOBAL_BATCH)``, launched with ``torchrun``.

    ``find_unused_parameters``: ``None`` (default) checks once, on the first batch, whether
    every trainable weight takes part in the forward pass, and asks DDP to look for unused
    ones (an extra graph traversal each step) only when some do not; ``bucket_cap_mb``:
    DDP's bucket size (25). Custom ``train_step``\\ s: gradients are all-reduced when the
    forward goes through ``self.trainer.forward(x)`` (the DDP module); ``self(x)`` computes
    this process' gradients only. See `Strategy` for ``devices``, ``backend``, ``timeout``.
    """

    def __init__(self, devices=None, backend=None, timeout=600.0, find_unused_parameters=None, bucket_cap_mb=25):
        super().__init__(devices=devices, backend=backend, timeout=timeout)
        if find_unused_parameters not in (None, True, False):
            raise ValueError(f"find_unused_parameters must be None, True or False; received {find_unused_parameters!r}.")
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = bucket_cap_mb

    def wrap_model(self, model):
        if not self.distributed or not any(p.requires_grad for p in model.parameters()):
            return model
        unused = self.find_unused_parameters
        if unused is None:
            unused = bool(unused_parameters(model))
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=unused, bucket_cap_mb=self.bucket_cap_mb
        )

    def backward(self, forward, optimizer, loss):
        """With gradient accumulation, the micro-steps skip the all-reduce (``no_sync``) and
        the step that applies the update all-reduces the accumulated gradients once."""
        inner = accumulating(optimizer) if isinstance(forward, DistributedDataParallel) else None
        if inner is None:
            loss.backward()
            return
        if (inner._iterations + 1) % inner.gradient_accumulation_steps:  # a micro-step: no update follows
            with forward.no_sync():
                loss.backward()
            return
        loss.backward()
        accumulators = [inner.state[p][ACCUMULATOR] for p in inner._params() if ACCUMULATOR in inner.state[p]]
        if accumulators:
            flat = torch.cat([a.reshape(-1) for a in accumulators])
            dist.all_reduce(flat)
            flat /= self.world_size
            pieces = torch.split(flat, [a.numel() for a in accumulators])
            torch._foreach_copy_(accumulators, [piece.view_as(a) for piece, a in zip(pieces, accumulators)])


def accumulating(optimizer):
    """The danlu optimizer under ``optimizer``'s wrappers when it accumulates gradients (and
    no loss scaling decides per process whether a step is skipped), else None."""
    inner = optimizer
    while isinstance(inner, OptimizerWrapper) and not isinstance(inner, TorchOptimizer):
        if isinstance(inner, LossScaleOptimizer):
            return None
        inner = inner.optimizer
    return inner if getattr(inner, "gradient_accumulation_steps", None) and hasattr(inner, "_iterations") else None


def unused_parameters(model) -> list[str]:
    """The trainable weights the forward pass on the model's example input does not reach
    (checked in inference mode, with no effect on the model's state)."""
    example = getattr(model, "example_input", None)
    if example is None:
        return []
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            outputs = model(example)
        leaves = [t for t in flatten(outputs) if isinstance(t, torch.Tensor) and t.requires_grad]
        if not leaves:
            return []
        total = sum((t.float().sum() for t in leaves[1:]), leaves[0].float().sum())
        grads = torch.autograd.grad(total, [p for _, p in trainable], allow_unused=True)
    except Exception:  # noqa: BLE001 - a probe that cannot run: let DDP look every step
        return ["(unknown)"]
    finally:
        model.train(was_training)
    return [name for (name, _), g in zip(trainable, grads) if g is None]
