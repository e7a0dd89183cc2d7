"""`SingleProcess`: the strategy of a run in one process, and the protocol the trainer asks of
every strategy.

The trainer never branches on the kind of run: it asks its strategy object. This default
answers for one process (every method is the identity or does nothing); the strategies of
`danlu.distribute` (``DataParallel``, ``ShardedDataParallel``, ``TPUStrategy``) subclass it
and answer for several processes. What the trainer asks:

- ``choose_device(model, device)``: where this process trains;
- ``check_batch_size(batch_size)``: refuse a global batch the processes cannot share;
- ``shard(data)``: this process' part of every batch (see `danlu.trainer.sharding`);
- ``shared_seed(seed)``: one shuffling seed for every process;
- ``wrap_model(model)``: the module the train step's forward goes through (e.g. a
  ``DistributedDataParallel``), once the model is built and before the optimizer binds;
- ``backward(forward, optimizer, loss)``: the backward pass (and its gradient all-reduce,
  skipped on gradient-accumulation micro-steps where the strategy can);
- ``reduce_metrics(metrics)`` / ``reduce_logs(logs)``: combine the processes' states once,
  when a loop's result is read;
- ``gather_batches(outputs)``: every process' predictions, in the data's order;
- ``is_chief`` / ``barrier()``: who writes files, and waiting until they are written;
- ``model_state_dict`` / ``load_model_state_dict`` / ``optimizer_state_dict`` /
  ``load_optimizer_state_dict``: full (unsharded) states for saving, and loading them back;
  ``write_weights`` / ``read_weights``: a weights file written by the chief (every process
  takes part in gathering), read by every process;
- ``step_end``: None, or a function called after every train step (XLA's ``mark_step``).
"""

from __future__ import annotations

import os

import torch


def choose_device(model, device=None) -> torch.device:
    """``device`` when given; else the ``DANLU_DEVICE`` environment variable when set; else
    where the model's parameters already are (if not the CPU); else CUDA, then MPS, then
    the CPU. ``"xla"`` needs torch_xla (a clear ``ImportError`` names it when missing)."""
    if device is None and os.environ.get("DANLU_DEVICE"):
        device = os.environ["DANLU_DEVICE"]
    if device is not None and device != "auto":
        if isinstance(device, str) and device.split(":")[0] == "xla":
            return xla_device(device)
        return torch.device(device)
    for p in model.parameters():
        if p.device.type != "cpu":
            return p.device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def xla_device(device="xla") -> torch.device:
    """The XLA device (TPU) of torch_xla's PJRT runtime."""
    try:
        import torch_xla  # noqa: F401 - registers the "xla" device with torch
        import torch_xla.core.xla_model as xm
    except ImportError as error:
        raise ImportError(
            f"device={device!r} needs the torch_xla package (PyTorch/XLA, with its PJRT runtime), which is not "
            f"installed or does not fit this torch {torch.__version__} ({error}): pip install 'torch_xla[tpu]' of "
            "the same version as torch, on a TPU VM."
        ) from error
    return xm.xla_device() if device == "xla" else torch.device(device)


class SingleProcess:
    """The default strategy: one process, one device (see the module docstring)."""

    #: The number of processes, this one's rank, and its rank on its machine.
    world_size = 1
    rank = 0
    local_rank = 0
    #: Whether data is sharded and values combined across processes.
    distributed = False
    #: None, or a function to call after every train step.
    step_end = None

    @property
    def is_chief(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    def __repr__(self):
        return f"{type(self).__name__}(world_size={self.world_size}, rank={self.rank})"

    # --- Devices and model ----------------------------------------------------------------------

    def choose_device(self, model, device=None) -> torch.device:
        return choose_device(model, device)

    def wrap_model(self, model):
        """The module the train step's forward goes through."""
        return model

    def backward(self, forward, optimizer, loss) -> None:
        """The backward pass of a train step whose forward went through ``forward``."""
        loss.backward()

    # --- Data -----------------------------------------------------------------------------------

    def check_batch_size(self, batch_size, argument="batch_size") -> None:
        """Refuse a global ``batch_size`` the processes cannot share (fewer samples than processes)."""

    def shard(self, data):
        """This process' part of ``data`` (an `ArrayData` / `StreamData`), or ``data``."""
        return data

    def shared_seed(self, seed: int) -> int:
        """The shuffling seed every process uses (rank 0's)."""
        return seed

    # --- Results --------------------------------------------------------------------------------

    def reduce_metrics(self, metrics) -> None:
        """Combine every process' metric states in place (each variable by its aggregation)."""

    def reduce_logs(self, logs: dict) -> dict:
        """The mean over processes of numbers a custom step returned."""
        return logs

    def gather_batches(self, outputs: list) -> list:
        """The per-batch outputs of every process, in the data's order."""
        return outputs

    def barrier(self) -> None:
        """Wait until every process gets here (e.g. until rank 0 has written a file)."""

    # --- States for saving ----------------------------------------------------------------------

    def model_state_dict(self, model) -> dict:
        """The full (unsharded) state dict; under sharding, complete on the chief only."""
        return model.state_dict()

    def load_model_state_dict(self, model, state: dict) -> None:
        model.load_state_dict(state)

    def optimizer_state_dict(self, optimizer) -> dict:
        return optimizer.state_dict()

    def load_optimizer_state_dict(self, optimizer, state: dict) -> None:
        optimizer.load_state_dict(state)

    def write_weights(self, model, path, write) -> None:
        """``write(state_dict, path)`` with the full weights, on the chief; every process
        returns once the file is complete."""
        state = self.model_state_dict(model)
        if self.is_chief:
            write(state, path)
        self.barrier()

    def read_weights(self, model, path, read) -> None:
        """Load the weights ``read(path, expected_state_dict)`` returns (names and shapes
        checked against the model's before anything changes)."""
        self.load_model_state_dict(model, read(path, model.state_dict()))
