"""Each process' part of every global batch (data parallelism).

``batch_size`` is the **global** batch, as with tf.distribute's MirroredStrategy: the
processes go through the same sequence of global batches (the same shuffling, from one
seed) and process ``r`` of ``W`` takes the ``r``-th contiguous piece of each, the pieces'
sizes differing by at most one (``n = q W + m``: the first ``m`` processes take ``q + 1``).
Every sample is seen once per epoch across processes, every process runs the same number
of steps, and a short last batch splits unevenly — possibly leaving a process with no
samples, which still runs its (empty) step so that the gradient all-reduce completes.

``share`` is, for the batch just produced, ``W * local / global``: multiplying the local
mean loss by it makes the average of the processes' gradients (what DDP and FSDP compute)
the gradient of the global batch's mean loss, exactly — regularization terms included,
since the shares sum to ``W``.

- `ShardedArrayData` slices in-memory arrays (no copy of the data per process).
- `ShardedStream` reshards a ``DataLoader`` over a sized, map-style dataset by indices (each
  process loads only its samples; the loader's sampler is drawn under one seed on every
  process) and, for every other source (generators, ``IterableDataset``\\ s, custom batch
  samplers), reads the global batches on every process and keeps its piece. A loader whose
  sampler is already a ``DistributedSampler`` is the user's sharding and is used as is (its
  ``batch_size`` is then per process).
"""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, IterableDataset
from torch.utils.data.distributed import DistributedSampler

from danlu.trainer.data import (
    ArrayData,
    StreamData,
    as_batch,
    conform,
    flatten,
    map_structure,
)


def local_range(total: int, rank: int, world: int) -> tuple[int, int]:
    """``[start, stop)`` of process ``rank``'s piece of ``total`` samples."""
    quotient, remainder = divmod(total, world)
    start = rank * quotient + min(rank, remainder)
    return start, start + quotient + (1 if rank < remainder else 0)


def share_of(local: int, total: int, world: int) -> float:
    return world * local / total if total else 0.0


class ShardedArrayData(ArrayData):
    """An `ArrayData` that yields process ``rank``'s piece of each global batch."""

    sharded = True

    def __init__(self, data: ArrayData, rank: int, world: int):
        self.__dict__.update(data.__dict__)
        self.rank, self.world = rank, world
        self.share = 1.0

    def split(self, validation_split):
        raise RuntimeError("split the data before sharding it")

    def _selectors(self, generator, start, device):
        for pick in super()._selectors(generator, start, device):
            if isinstance(pick, slice):
                total = min(pick.stop, self.size) - pick.start
                lo, hi = local_range(total, self.rank, self.world)
                local = slice(pick.start + lo, pick.start + hi)
            else:
                total = int(pick.shape[0])
                lo, hi = local_range(total, self.rank, self.world)
                local = pick[lo:hi]
            self.share = share_of(hi - lo, total, self.world)
            yield local


class ShardedBatchSampler:
    """Process ``rank``'s indices of each global batch drawn from ``sampler`` (its order the
    same on every process: it is drawn under a seed `set_seed` gives). A process whose piece
    of a batch is empty gets the batch's first index, which the stream then drops (a loader
    cannot collate an empty batch)."""

    def __init__(self, sampler, batch_size, drop_last, rank, world):
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last
        self.rank, self.world = rank, world
        self.seed = 0

    def set_seed(self, seed: int) -> None:
        self.seed = seed

    def global_sizes(self) -> list[int]:
        """The size of each global batch of an epoch."""
        n, b = len(self.sampler), self.batch_size
        full, rest = divmod(n, b)
        return [b] * full + ([rest] if rest and not self.drop_last else [])

    def __len__(self):
        return len(self.global_sizes())

    def __iter__(self):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            order = list(iter(self.sampler))
        b = self.batch_size
        for size, first in zip(self.global_sizes(), range(0, len(order), b)):
            lo, hi = local_range(size, self.rank, self.world)
            yield order[first + lo : first + hi] if hi > lo else [order[first]]


class ShardedStream:
    """A `StreamData` whose batches are this process' piece of each global batch (see the
    module docstring for the two ways)."""

    sharded = True

    def __init__(self, stream: StreamData, rank: int, world: int):
        self.stream, self.rank, self.world = stream, rank, world
        self.share = 1.0
        self.steps, self.reiterable = stream.steps, stream.reiterable
        source = stream.source
        self.loader = None
        self.user_sharded = isinstance(source, DataLoader) and isinstance(source.sampler, DistributedSampler)
        if isinstance(source, DataLoader) and not self.user_sharded and _index_reshardable(source):
            batch_sampler = source.batch_sampler
            self.batch_sampler = ShardedBatchSampler(
                batch_sampler.sampler, batch_sampler.batch_size, batch_sampler.drop_last, rank, world
            )
            self.loader = _loader_like(source, self.batch_sampler)

    def conform_inputs(self, expected):
        self.stream.conform_inputs(expected)

    def first_batch(self):
        """The first global batch (to build the model on)."""
        return self.stream.first_batch()

    def batches(self, generator=None, start=0):
        if self.user_sharded:
            self.share = 1.0
            yield from self.stream.batches(generator, start)
            return
        if self.loader is None:
            for batch in self.stream.batches(generator, start):
                total = _leading(batch)
                lo, hi = local_range(total, self.rank, self.world)
                self.share = share_of(hi - lo, total, self.world)
                yield map_structure(lambda t, lo=lo, hi=hi: t[lo:hi], batch)
            return
        seed = 0 if generator is None else int(torch.randint(0, 2**62, (1,), generator=generator))
        self.batch_sampler.set_seed(seed)
        expected = self.stream._expected
        for size, data in zip(self.batch_sampler.global_sizes(), self.loader):
            lo, hi = local_range(size, self.rank, self.world)
            batch = as_batch(data)
            if hi == lo:
                batch = map_structure(lambda t: t[:0], batch)
            if expected is not None:
                batch = (conform(batch[0], expected), *batch[1:])
            self.share = share_of(hi - lo, size, self.world)
            yield batch


def _leading(batch) -> int:
    leaves = [leaf for leaf in flatten(batch) if hasattr(leaf, "shape") and len(leaf.shape)]
    return int(leaves[0].shape[0]) if leaves else 0


def _index_reshardable(loader: DataLoader) -> bool:
    """A loader over a sized map-style dataset batched by a plain ``BatchSampler``."""
    return (
        not isinstance(loader.dataset, IterableDataset)
        and type(loader.batch_sampler) is BatchSampler
        and hasattr(loader.dataset, "__len__")
    )


def _loader_like(loader: DataLoader, batch_sampler) -> DataLoader:
    """A DataLoader with ``loader``'s settings and another batch sampler."""
    workers = loader.num_workers
    return DataLoader(
        loader.dataset, batch_sampler=batch_sampler, num_workers=workers, collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory, timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context if workers else None, generator=loader.generator,
        prefetch_factor=loader.prefetch_factor if workers else None, persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device, in_order=True,  # batches must come in the sampler's order
    )


def shard(data, rank: int, world: int):
    """This process' view of ``data`` (an `ArrayData` or a `StreamData`)."""
    if data is None or world == 1:
        return data
    if isinstance(data, ArrayData):
        return ShardedArrayData(data, rank, world)
    return ShardedStream(data, rank, world)
