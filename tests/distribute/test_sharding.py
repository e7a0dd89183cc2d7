"""Each process' piece of every global batch: pieces partition the batch (sizes differing by at
most one), every process sees the same shuffled order, the loss shares sum to the world
size, and a DataLoader is resharded by index. In one process, by simulating the ranks."""

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from danlu.trainer.data import ArrayData, StreamData
from danlu.trainer.sharding import (
    ShardedArrayData,
    ShardedBatchSampler,
    ShardedStream,
    local_range,
    shard,
)


@pytest.mark.parametrize("total, world", [(16, 2), (5, 2), (1, 2), (0, 3), (7, 3), (2, 4)])
def test_pieces_partition_a_batch_and_differ_by_at_most_one(total, world):
    pieces = [local_range(total, rank, world) for rank in range(world)]
    assert pieces[0][0] == 0 and pieces[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    sizes = [hi - lo for lo, hi in pieces]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("shuffle", [False, True])
def test_array_pieces_rebuild_the_single_process_batches(shuffle):
    x, y = np.arange(101, dtype="float32").reshape(101, 1), np.arange(101)
    single = list(ArrayData(x, y, batch_size=16, shuffle=shuffle).batches(torch.Generator().manual_seed(3)))
    world = 3
    per_rank, shares = [], []
    for rank in range(world):
        data = shard(ArrayData(x, y, batch_size=16, shuffle=shuffle), rank, world)
        assert isinstance(data, ShardedArrayData) and data.steps == 7
        batches = []
        rank_shares = []
        for batch in data.batches(torch.Generator().manual_seed(3)):  # the same seed on every rank
            batches.append(batch)
            rank_shares.append(data.share)
        per_rank.append(batches)
        shares.append(rank_shares)
    for step, (bx, by) in enumerate(single):
        pieces = [per_rank[rank][step] for rank in range(world)]
        assert torch.equal(torch.cat([p[0] for p in pieces]), bx) and torch.equal(torch.cat([p[1] for p in pieces]), by)
        np.testing.assert_allclose(sum(shares[rank][step] for rank in range(world)), world)
    assert [len(per_rank[r][-1][0]) for r in range(world)] == [2, 2, 1]  # 101 = 6 * 16 + 5


def test_an_empty_piece_has_share_zero_and_keeps_its_structure():
    data = shard(ArrayData({"a": np.zeros((17, 2))}, np.zeros(17), np.ones(17), batch_size=16), 1, 2)
    *_, (x, y, w) = data.batches()
    assert x["a"].shape == (0, 2) and y.shape == (0,) and w.shape == (0,) and data.share == 0.0


def test_a_generator_of_global_batches_is_sliced_per_process():
    def global_batches():
        for start in (0, 4):
            yield torch.arange(start, start + 4.0).reshape(4, 1), torch.arange(start, start + 4)

    pieces = []
    for rank in range(2):
        stream = shard(StreamData(global_batches()), rank, 2)
        assert isinstance(stream, ShardedStream) and stream.loader is None
        pieces.append([b[1].tolist() for b in stream.batches()])
    assert pieces == [[[0, 1], [4, 5]], [[2, 3], [6, 7]]]


def test_a_data_loader_is_resharded_by_index_in_the_same_order_on_every_process():
    dataset = TensorDataset(torch.arange(23.0).reshape(23, 1), torch.arange(23))
    seen = []
    for rank in range(2):
        stream = shard(StreamData(DataLoader(dataset, batch_size=8, shuffle=True)), rank, 2)
        assert stream.loader is not None and stream.steps == 3  # the global batch count
        generator = torch.Generator().manual_seed(11)
        seen.append([(b[1].tolist(), stream.share) for b in stream.batches(generator)])
    for step in range(3):
        together = seen[0][step][0] + seen[1][step][0]
        assert len(together) == (8 if step < 2 else 7)
        assert seen[0][step][1] + seen[1][step][1] == pytest.approx(2.0)
    everything = sorted(i for rank in seen for labels, _ in rank for i in labels)
    assert everything == list(range(23))  # every sample once per epoch across processes


def test_a_loader_with_the_users_distributed_sampler_is_used_as_is():
    dataset = TensorDataset(torch.arange(8.0), torch.arange(8))
    loader = DataLoader(dataset, batch_size=2, sampler=DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=False))
    stream = shard(StreamData(loader), 1, 2)
    assert [b[1].tolist() for b in stream.batches()] == [[1, 3], [5, 7]] and stream.share == 1.0


def test_the_batch_sampler_gives_the_first_index_for_an_empty_piece():
    sampler = ShardedBatchSampler(range(17), 16, False, rank=1, world=2)
    assert list(sampler) == [list(range(8, 16)), [16]]  # the loader collates it; the stream drops it
    assert sampler.global_sizes() == [16, 1]


def test_a_loader_piece_can_be_empty():
    dataset = TensorDataset(torch.arange(17.0).reshape(17, 1), torch.arange(17))
    stream = shard(StreamData(DataLoader(dataset, batch_size=16)), 1, 2)
    batches = list(stream.batches())
    assert [len(b[1]) for b in batches] == [8, 0] and batches[-1][0].shape == (0, 1) and stream.share == 0.0
