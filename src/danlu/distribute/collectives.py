"""The few collectives a data-parallel run needs beyond the gradient all-reduce, each one call
per loop (never per step): combining metric states, averaging a custom step's numbers,
gathering predictions, and sharing a seed.

``device`` is where the backend's tensors live (the CPU for Gloo, the process' GPU for NCCL).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from danlu.trainer.data import flatten, map_structure


def broadcast_int(value: int, device) -> int:
    """Rank 0's ``value`` on every process."""
    tensor = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def _states(metric):
    """``[(name, tensor, aggregation)]`` of a metric's exact state (None if it has none)."""
    state_dict = getattr(metric, "state_dict", None)
    if not callable(state_dict):
        return None
    state = state_dict()
    variables = list(getattr(metric, "variables", ()))
    aggregations = [getattr(v, "aggregation", "sum") for v in variables] if len(variables) == len(state) else ["sum"] * len(state)
    return [(name, torch.as_tensor(value), aggregation) for (name, value), aggregation in zip(state.items(), aggregations)]


def reduce_metrics(metrics, device, world: int, rank: int) -> None:
    """Combine every process' metric states in place, in one all-reduce: each state by its
    variable's ``aggregation`` ("sum": summed; "mean": averaged; "only_first_replica": rank
    0's; "none": kept per process). Afterwards every process holds the states of all the
    data, so ``result()`` is the global result everywhere. Metrics without a ``state_dict``
    (objects that are not danlu metrics) keep their own values."""
    entries = [(metric, states) for metric in metrics if (states := _states(metric))]
    pieces = []
    for _, states in entries:
        for _, value, aggregation in states:
            if aggregation == "none":
                continue
            piece = value.detach().reshape(-1).to(device=device, dtype=torch.float64)
            if aggregation == "only_first_replica" and rank != 0:
                piece = torch.zeros_like(piece)
            pieces.append(piece)
    if not pieces:
        return
    flat = torch.cat(pieces)
    dist.all_reduce(flat)
    offset = 0
    for metric, states in entries:
        combined = {}
        for name, value, aggregation in states:
            if aggregation == "none":
                combined[name] = value
                continue
            size = value.numel()
            total = flat[offset : offset + size]
            offset += size
            if aggregation == "mean":
                total = total / world
            combined[name] = total.reshape(value.shape).to(dtype=value.dtype, device=value.device)
        metric.load_state_dict(combined)


def reduce_logs(logs: dict, device, world: int) -> dict:
    """The mean over processes of the numbers in ``logs`` (other values kept)."""
    names = [k for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not names:
        return logs
    values = torch.tensor([float(logs[k]) for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return {**logs, **{k: float(v) / world for k, v in zip(names, values.tolist())}}


def gather_batches(outputs: list, device, world: int) -> list:
    """Every process' per-batch outputs (tensors or structures of them) as one list in the
    data's order: for each global batch, process 0's piece, then process 1's, ... Two
    collectives per output tensor (the sizes, then the padded values)."""
    if not outputs:
        return outputs
    template = outputs[0]
    leaves_per_batch = [flatten(o) for o in outputs]
    gathered_leaves = []
    for index in range(len(leaves_per_batch[0])):
        pieces = [batch[index] for batch in leaves_per_batch]
        gathered_leaves.append(_gather_leaf(pieces, device, world))
    merged = []
    for batch in range(len(outputs)):
        for rank in range(world):
            leaves = iter([leaf_pieces[rank][batch] for leaf_pieces in gathered_leaves])
            merged.append(map_structure(lambda _, leaves=leaves: next(leaves), template))
    return merged


def _gather_leaf(pieces: list, device, world: int) -> list:
    """``[rank][batch]`` pieces of one output, from this process' ``[batch]`` pieces."""
    sizes = torch.tensor([int(p.shape[0]) for p in pieces], dtype=torch.int64, device=device)
    all_sizes = [torch.empty_like(sizes) for _ in range(world)]
    dist.all_gather(all_sizes, sizes)
    totals = [int(s.sum()) for s in all_sizes]
    local = torch.cat([p.detach() for p in pieces]).to(device)
    if local.dtype in (torch.float16, torch.bfloat16, torch.bool):  # not every backend carries them
        local = local.float() if local.dtype != torch.bool else local.to(torch.uint8)
    padded_length = max(totals)
    padded = torch.zeros((padded_length, *local.shape[1:]), dtype=local.dtype, device=device)
    padded[: local.shape[0]] = local
    everyone = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(everyone, padded)
    result = []
    for rank in range(world):
        rank_sizes = all_sizes[rank].tolist()
        values = everyone[rank][: totals[rank]]
        result.append(list(torch.split(values.bool() if pieces[0].dtype == torch.bool else values, rank_sizes)))
    return result
