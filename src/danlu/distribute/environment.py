"""The process group, from what launched this process.

- **torchrun** (and `danlu.distribute.launch`, and any launcher of torch's elastic agent)
  sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
- **SLURM** (``srun``, one task per device) sets ``SLURM_PROCID``, ``SLURM_NTASKS``,
  ``SLURM_LOCALID`` and the node list: the torchrun variables are derived from them (the
  first node of ``SLURM_JOB_NODELIST`` is the master; ``MASTER_PORT`` defaults to 29500).
- Anything else is one process: the strategies then run as `SingleProcess` does.

The group is created with a timeout (default 600 s), so a collective whose peer died raises
instead of waiting forever; under torchrun the elastic agent also stops the other processes
as soon as one fails.
"""

from __future__ import annotations

import datetime
import os
import re

import torch
import torch.distributed as dist

BACKENDS = ("nccl", "gloo", "mpi", "xla")


def slurm_to_torchrun(environ=os.environ) -> None:
    """Set the torchrun variables from SLURM's, when SLURM started several tasks and nothing
    else set them."""
    if "RANK" in environ or "SLURM_PROCID" not in environ or int(environ.get("SLURM_NTASKS", "1")) <= 1:
        return
    environ["RANK"] = environ["SLURM_PROCID"]
    environ["WORLD_SIZE"] = environ["SLURM_NTASKS"]
    environ["LOCAL_RANK"] = environ.get("SLURM_LOCALID", "0")
    nodes = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST") or "127.0.0.1"
    environ.setdefault("MASTER_ADDR", first_host(nodes))
    environ.setdefault("MASTER_PORT", "29500")


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: ``"gpu[03-05,09],cpu1"`` -> ``"gpu03"``."""
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if match is None:
        return nodelist
    prefix, ranges = match.groups()
    if not ranges:
        return prefix
    first = ranges.split(",")[0].split("-")[0]
    return prefix + first


def launched_world() -> tuple[int, int, int]:
    """``(world_size, rank, local_rank)`` of this process (``(1, 0, 0)`` when not launched)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    slurm_to_torchrun()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(devices, local_rank: int) -> torch.device:
    """This process' device: ``devices`` (``None``: the ``DANLU_DEVICE`` environment variable
    when set, else CUDA device ``local_rank`` when there are GPUs, else the CPU; ``"cpu"`` /
    ``"cuda"``; a list: entry ``local_rank``)."""
    if devices is None and os.environ.get("DANLU_DEVICE"):
        devices = os.environ["DANLU_DEVICE"]
    if devices is None:
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    if isinstance(devices, (list, tuple)):
        if not devices:
            raise ValueError("devices must not be empty.")
        if local_rank >= len(devices):
            raise ValueError(
                f"devices={list(devices)!r} names {len(devices)} device(s), but this is process {local_rank} on its "
                "machine: give one device per process (torchrun --nproc_per_node)."
            )
        device = devices[local_rank]
        return torch.device("cuda", device) if isinstance(device, int) else torch.device(device)
    device = torch.device(devices)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return device


def check_backend(backend, device: torch.device) -> str:
    """The collective backend: ``backend``, or NCCL on CUDA and Gloo elsewhere."""
    if backend is None:
        return "nccl" if device.type == "cuda" else "gloo"
    if backend not in BACKENDS:
        from danlu._identifiers import closest_name_hint

        raise ValueError(f"Unknown backend={backend!r}.{closest_name_hint(backend, BACKENDS)} Valid: {', '.join(BACKENDS)}.")
    if backend == "nccl" and (device.type != "cuda" or not torch.cuda.is_available()):
        raise ValueError(
            f"backend='nccl' needs CUDA GPUs, but this process trains on {device} "
            f"({'no GPU is available' if not torch.cuda.is_available() else 'devices= chose it'}). Use backend='gloo' "
            "(or leave backend unset: Gloo on CPUs, NCCL on GPUs)."
        )
    if backend == "nccl" and not dist.is_nccl_available():
        raise ValueError("backend='nccl': this torch build has no NCCL; use backend='gloo'.")
    return backend


def init_process_group(backend: str, device: torch.device, timeout: float) -> None:
    """Create the default process group from the environment (once)."""
    if dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    delta = datetime.timedelta(seconds=timeout)
    kwargs = {"device_id": device} if backend == "nccl" else {}
    store = elastic_store(delta)
    if store is not None:
        kwargs.update(store=store, rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
    dist.init_process_group(backend, timeout=delta, **kwargs)


def elastic_store(timeout):
    """Under torch's elastic agent, the rendezvous store with a prefix for this attempt.

    The agent keeps one store across restarts (``--max-restarts``) and torch 2.13 adds no
    prefix per attempt, so a restarted group would read the previous attempt's addresses and
    fail to connect ("Gloo connectFullMesh failed ... Connection refused"; pytorch/pytorch
    #167288 for NCCL). None when not launched by the agent: ``env://`` as usual."""
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if attempt is None or "MASTER_ADDR" not in os.environ:
        return None
    agent_hosts = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    base = dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world, is_master=not agent_hosts and rank == 0,
        timeout=timeout, multi_tenant=not agent_hosts,
    )
    return dist.PrefixStore(f"danlu/attempt_{attempt}", base)
