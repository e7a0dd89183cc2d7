"""`launch(fn, num_processes=N)`: run ``fn`` in N local processes, as ``torchrun
--nproc_per_node=N`` would, through torch's elastic launcher
(``torch.distributed.launcher.api.elastic_launch``) — not a process manager of danlu's.

Each process gets torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``), so a strategy created inside ``fn`` joins the group. The
processes are *spawned*: ``fn`` and its arguments must be picklable (a function defined at
the top level of a module), and a script calling `launch` needs the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import os
import uuid

from danlu._validation import check_positive_int


class ProcessFailedError(RuntimeError):
    """A launched process failed: ``rank``, ``exitcode`` and the process' traceback."""

    def __init__(self, message, rank=None, exitcode=None, traceback=None):
        super().__init__(message)
        self.rank, self.exitcode, self.traceback = rank, exitcode, traceback


def _run(fn, args, kwargs):
    """The entry point of each launched process (module-level, so that it can be pickled;
    the elastic launcher records an exception's traceback for the agent)."""
    return fn(*args, **kwargs)


def launch(fn, num_processes=2, args=(), kwargs=None, max_restarts=0, timeout=300):
    """Run ``fn(*args, **kwargs)`` in ``num_processes`` local processes and return rank 0's
    result (it must be picklable). A process that raises or dies stops the others (torch's elastic agent watches
    them) and `ProcessFailedError` names the first failing rank with its traceback (or exit
    code). ``max_restarts``: restart the whole group that many times after a failure (with
    `danlu.callbacks.BackupAndRestore`, training resumes from its last backup).
    ``timeout``: seconds the processes may take to start and meet."""
    check_positive_int("num_processes", num_processes)
    if not callable(fn):
        raise TypeError(f"launch(fn, ...) needs a callable; received {fn!r}.")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=num_processes, run_id=f"danlu-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", rdzv_configs={"timeout": timeout, "join_timeout": timeout},
        max_restarts=max_restarts, monitor_interval=0.1, start_method="spawn",
    )
    previous = os.environ.get("OMP_NUM_THREADS")
    if previous is None and num_processes > 1:  # torchrun's default: the processes share the cores
        os.environ["OMP_NUM_THREADS"] = str(max((os.cpu_count() or 1) // num_processes, 1))
    try:
        results = elastic_launch(config, _run)(fn, tuple(args), dict(kwargs or {}))
    except ChildFailedError as error:
        raise _failure(error) from None
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
    return results[0]


def _failure(error) -> ProcessFailedError:
    rank, failure = error.get_first_failure()
    traceback = None
    data = getattr(failure, "error_file_data", None) or {}
    message = data.get("message")
    if isinstance(message, dict):
        traceback = message.get("extraInfo", {}).get("py_callstack") or message.get("message")
    elif isinstance(message, str) and message != "<NONE>":
        traceback = message
    if traceback:
        text = f"Process {rank} of the launched group failed (exit code {failure.exitcode}):\n{traceback}"
    else:
        signal = f", signal {failure.signal_name()}" if failure.exitcode < 0 else ""
        text = f"Process {rank} of the launched group died with exit code {failure.exitcode}{signal} (no Python traceback)."
    return ProcessFailedError(text, rank=rank, exitcode=failure.exitcode, traceback=traceback)
