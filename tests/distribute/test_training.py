"""Data-parallel training in real processes (Gloo on the CPU, 2 processes) equals training in
one process on the same global batch: final weights (to 1e-5, and identical on both ranks),
logged loss and metrics, ``evaluate`` and ``predict``; rank 0's files load into a fresh
single-process model. Launched three ways: `danlu.distribute.launch`, ``torchrun``, and two
torchrun "nodes" of one process each meeting through c10d rendezvous on the loopback.

The default suite runs three representative runs; the full matrix is marked slow.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from danlu.distribute import ProcessFailedError, launch
from tests.distribute import workloads

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(workloads.__file__)
LIMIT = 300  # seconds any launched run may take before the test fails instead of hanging


def reference(config):
    return workloads.run({**config, "strategy": "single", "out": None})


def environment():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def through_launch(config, out):
    launch(workloads.run, num_processes=2, args=({**config, "out": str(out)},))


def through_torchrun(config, out):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(PROGRAM),
               json.dumps({**config, "out": str(out)})]
    done = subprocess.run(command, check=False, env=environment(), capture_output=True, text=True, timeout=LIMIT)
    assert done.returncode == 0, done.stderr[-4000:]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_two_nodes(config, out):
    """Two torchrun invocations (``--nnodes=2``, one process each), as on two machines."""
    port = free_port()
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1", f"--node_rank={rank}",
             "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id=danlu-test-{port}", str(PROGRAM),
             json.dumps({**config, "out": str(out)})],
            env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for rank in (0, 1)
    ]
    try:
        outcomes = [node.communicate(timeout=LIMIT) for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, (_, err) in zip(nodes, outcomes):
        assert node.returncode == 0, err[-4000:]


def ranks(out, count):
    results = []
    for rank in range(2):
        arrays = np.load(out / f"rank{rank}.npz")
        with open(out / f"rank{rank}.json") as f:
            logs = json.load(f)
        results.append({"weights": [arrays[f"arr_{i}"] for i in range(count)], "predict": arrays["predict"], **logs})
    return results


def assert_matches_one_process(out, expected, sharded=False):
    first, second = ranks(out, len(expected["weights"]))
    for got in (first, second):
        assert got["world"] == 2 and got["sharded"] == sharded
        for ours, theirs in zip(got["weights"], expected["weights"]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
        assert sorted(got["history"]) == sorted(expected["history"])
        for name, values in expected["history"].items():
            np.testing.assert_allclose(got["history"][name], values, rtol=1e-5, err_msg=name)
        for name, value in expected["evaluate"].items():
            np.testing.assert_allclose(got["evaluate"][name], value, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(got["predict"], expected["predict"], rtol=1e-5, atol=1e-6)
    for a, b in zip(first["weights"], second["weights"]):
        np.testing.assert_array_equal(a, b)  # both processes end with the same weights


def assert_files_load_in_one_process(out, config, expected):
    """Rank 0's checkpoint, weights, model file, CSV log and backup serve a single process."""
    import danlu
    from danlu import callbacks

    final = expected["weights"]
    for path in (out / "ckpt.keras", out / "final.keras"):
        restored = danlu.models.load_model(path)
        for ours, theirs in zip(restored.state_dict().values(), final):
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-5)
        steps = -(-config["samples"] // config.get("batch_size", 16)) * config.get("epochs", 2)
        assert int(restored.optimizer.iterations) == steps  # the optimizer's state came along
    fresh = workloads.build({**workloads.DEFAULTS, **config})
    fresh.load_weights(out / "final.weights.h5")
    for ours, theirs in zip(fresh.state_dict().values(), final):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-5)
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + config.get("epochs", 2)  # one header, one row per epoch: one writer
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(",")))
    np.testing.assert_allclose(float(last["loss"]), expected["history"]["loss"][-1], rtol=1e-5)
    resumed = workloads.build({**workloads.DEFAULTS, **config})
    x, y = workloads.data(config["samples"])
    resumed.fit(x, y, epochs=config.get("epochs", 2), verbose=0, callbacks=[callbacks.BackupAndRestore(out / "backup")])
    for ours, theirs in zip(resumed.state_dict().values(), final):  # restored at the end: nothing left to train
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-5)


# --- The default suite: three representative runs -------------------------------------------------


def test_data_parallel_through_launch_matches_one_process_with_an_empty_piece(tmp_path):
    # 97 samples, global batch 16: the last batch has 1 sample, so process 1's piece is empty;
    # an L2 penalty checks that regularization is counted once.
    config = {"strategy": "ddp", "samples": 97, "optimizer": "sgdm", "regularize": True, "files": True}
    through_launch(config, tmp_path)
    expected = reference(config)
    assert_matches_one_process(tmp_path, expected)
    assert_files_load_in_one_process(tmp_path, config, expected)


def test_sharded_data_parallel_through_torchrun_matches_one_process(tmp_path):
    config = {"strategy": "fsdp", "samples": 101, "optimizer": "adam", "files": True}
    through_torchrun(config, tmp_path)
    expected = reference(config)
    assert_matches_one_process(tmp_path, expected, sharded=True)
    assert_files_load_in_one_process(tmp_path, config, expected)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_saved_weights_load_into_fresh_distributed_models(tmp_path, strategy):
    # A full weights file into a fresh DDP / sharded model; under sharding also a
    # torch.distributed.checkpoint folder (state_dict_type="sharded") written and read back.
    config = {"strategy": strategy, "samples": 96, "optimizer": "adam", "files": True, "reload": True}
    through_launch(config, tmp_path)
    for rank in range(2):
        reloaded = json.loads((tmp_path / f"rank{rank}.json").read_text())["reloaded"]
        assert set(reloaded) == ({"full", "sharded_folder"} if strategy == "fsdp" else {"full"})
        assert max(reloaded.values()) == 0.0


def test_a_dying_process_stops_the_group_with_a_clear_error():
    started = time.monotonic()
    with pytest.raises(ProcessFailedError, match="Process 1 .* exit code 3") as failure:
        launch(workloads.run, num_processes=2, args=({"strategy": "ddp", "die_at": [1, 2], "timeout": 30.0},))
    assert failure.value.rank == 1 and failure.value.exitcode == 3
    assert time.monotonic() - started < 120  # the agent stops the survivor: no wait for a timeout


# --- The full matrix (slow) -----------------------------------------------------------------------

MATRIX = [(s, n, o) for s in ("ddp", "fsdp") for n in (96, 101) for o in ("sgdm", "adam")]


@pytest.mark.slow
@pytest.mark.parametrize("strategy, samples, optimizer", MATRIX)
def test_launch_matrix(tmp_path, strategy, samples, optimizer):
    config = {"strategy": strategy, "samples": samples, "optimizer": optimizer}
    through_launch(config, tmp_path)
    assert_matches_one_process(tmp_path, reference(config), sharded=strategy == "fsdp")


@pytest.mark.slow
@pytest.mark.parametrize("strategy, samples, optimizer", [("ddp", 96, "adam"), ("ddp", 101, "sgdm"), ("fsdp", 96, "sgdm"),
                                                          ("fsdp", 97, "adam")])
def test_torchrun_matrix(tmp_path, strategy, samples, optimizer):
    config = {"strategy": strategy, "samples": samples, "optimizer": optimizer}
    through_torchrun(config, tmp_path)
    assert_matches_one_process(tmp_path, reference(config), sharded=strategy == "fsdp")


@pytest.mark.slow
@pytest.mark.parametrize("strategy, samples, optimizer", [("ddp", 101, "adam"), ("fsdp", 96, "sgdm")])
def test_two_nodes_through_c10d_rendezvous(tmp_path, strategy, samples, optimizer):
    config = {"strategy": strategy, "samples": samples, "optimizer": optimizer, "files": True}
    through_two_nodes(config, tmp_path)
    expected = reference(config)
    assert_matches_one_process(tmp_path, expected, sharded=strategy == "fsdp")
    assert_files_load_in_one_process(tmp_path, config, expected)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_a_data_loader_is_resharded_by_index(tmp_path, strategy):
    config = {"strategy": strategy, "samples": 101, "optimizer": "adam", "loader": True}
    through_launch(config, tmp_path)
    assert_matches_one_process(tmp_path, reference(config), sharded=strategy == "fsdp")


@pytest.mark.slow
@pytest.mark.parametrize("strategy, samples, steps", [("ddp", 101, 2), ("ddp", 97, 3), ("fsdp", 97, 3)])
def test_gradient_accumulation_matches_one_process(tmp_path, strategy, samples, steps):
    # DDP: the micro-steps skip the all-reduce (no_sync); the applying step reduces the sums.
    config = {"strategy": strategy, "samples": samples, "optimizer": "adam", "accumulate": steps}
    through_launch(config, tmp_path)
    assert_matches_one_process(tmp_path, reference(config), sharded=strategy == "fsdp")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_an_elastic_restart_resumes_from_the_backup(tmp_path, strategy):
    # Process 1 dies after epoch 2 (its backup written) in the first attempt; the group
    # restarts, every process restores rank 0's backup and trains epoch 3.
    config = {"strategy": strategy, "samples": 101, "optimizer": "adam", "epochs": 3, "files": True,
              "die_once_after_epoch": [1, 1]}
    launch(workloads.run, num_processes=2, args=({**config, "out": str(tmp_path)},), max_restarts=1)
    expected = reference({**config, "die_once_after_epoch": None})
    first, second = ranks(tmp_path, len(expected["weights"]))
    for got in (first, second):
        for ours, theirs in zip(got["weights"], expected["weights"]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_a_compiled_step_under_data_parallelism_matches_one_process(tmp_path, strategy):
    config = {"strategy": strategy, "samples": 101, "optimizer": "adam", "jit_compile": "aot_eager"}
    through_launch(config, tmp_path)
    assert_matches_one_process(tmp_path, reference({**config, "jit_compile": None}), sharded=strategy == "fsdp")
