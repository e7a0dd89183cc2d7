"""Training killed at random moments and at chosen points of the backup machinery (half a
backup written, a backup complete but not yet in its manifest, inside the restore), and
restarted until done, ends bitwise identical to an uninterrupted run: weights and History
(whose logs include draws from numpy's and Python's generators). So does a restart after
the newest backup was truncated or had a byte flipped: it warns, naming both files, and
resumes from the previous backup. A few kills in the default suite; many seeds in the slow
one (train_script.py is the run)."""

import json
import os
import re
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).with_name("train_script.py")
ROOT = Path(__file__).resolve().parents[2]


def environment(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", **extra}


def run_once(workdir, kill_point=None, epochs=6, timeout=300):
    """One start of the script; returns (exit code, stderr)."""
    extra = {"KILL_POINT": kill_point} if kill_point else {}
    done = subprocess.run([sys.executable, str(SCRIPT), str(workdir), str(epochs)], env=environment(**extra),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, check=False)
    return done.returncode, done.stderr.decode()


def run(workdir, kills, rng, epochs=6, timeout=300):
    """Run the script in ``workdir`` until it finishes, killing it ``kills`` times at random
    moments after it starts training; returns the number of kills made."""
    env = environment()
    made, deadline = 0, time.time() + timeout
    while True:
        started = Path(workdir) / "started"
        started.unlink(missing_ok=True)
        process = subprocess.Popen([sys.executable, str(SCRIPT), str(workdir), str(epochs)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if made < kills:
            while not started.exists() and process.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.8))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                made += 1
                continue
        _, errors = process.communicate(timeout=max(deadline - time.time(), 1))
        assert process.returncode == 0, errors.decode()[-3000:]
        return made


def result(workdir):
    with open(Path(workdir) / "history.json") as file:
        return load_file(str(Path(workdir) / "final.safetensors")), json.load(file)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    run(workdir, kills=0, rng=random.Random(0))
    return result(workdir)


def check_same(workdir, reference):
    weights, history = result(workdir)
    expected_weights, expected_history = reference
    assert history == expected_history
    for name, tensor in expected_weights.items():
        assert torch.equal(weights[name], tensor), name


def test_a_run_killed_twice_ends_as_an_uninterrupted_one(tmp_path, reference):
    assert run(tmp_path, kills=2, rng=random.Random(7)) == 2
    check_same(tmp_path, reference)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_many_kills_at_random_moments(tmp_path, reference, seed):
    run(tmp_path, kills=5, rng=random.Random(100 + seed))
    check_same(tmp_path, reference)


def test_kills_inside_backup_writes_and_the_restore(tmp_path, reference):
    # A backup half-written, a backup complete but not in its manifest, a restart killed
    # while restoring, then a kill once two more backups are complete: each leaves the
    # folder in a state the next start recovers from.
    for point in ("temporary:3", "unlisted:5", "restore:1", "backup:4"):
        code, errors = run_once(tmp_path, point)
        assert code == -signal.SIGKILL, (point, errors[-2000:])
    leftovers = [name for name in os.listdir(tmp_path / "backup") if name.startswith(".danlu-tmp-")]
    assert not leftovers  # the killed half-written temporary was cleared by a later backup
    code, errors = run_once(tmp_path)
    assert code == 0, errors[-3000:]
    check_same(tmp_path, reference)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_newest_backup_falls_back_to_the_previous_one(tmp_path, reference, damage):
    code, errors = run_once(tmp_path, "backup:6")
    assert code == -signal.SIGKILL, errors[-2000:]
    manifest = json.loads((tmp_path / "backup" / "backup.manifest.json").read_text())
    older, newest = (tmp_path / "backup" / e["file"] for e in manifest["generations"])
    data = bytearray(newest.read_bytes())
    if damage == "truncate":
        del data[len(data) // 3:]
    else:
        data[-10] ^= 0xFF  # a byte of the tensors: only the checksum can tell
    newest.write_bytes(bytes(data))
    code, errors = run_once(tmp_path)
    assert code == 0, errors[-3000:]
    warning = re.search(r"UserWarning: The newest backup is damaged: (.*)", errors)
    assert warning and str(newest) in warning.group(1) and str(older) in warning.group(1), errors[-2000:]
    check_same(tmp_path, reference)
