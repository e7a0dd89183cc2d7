"""The README's "Training on GPUs, many GPUs, many machines and TPUs" section: its python
blocks run as the README test runs them and print what their comments say; its launch
example and its torchrun command work as scripts."""

import contextlib
import io
import os
import re
import subprocess
import sys

import pytest

from tests.test_readme import ROOT, python_blocks, section

README = ROOT / "README.md"
TITLE = "Training on GPUs, many GPUs, many machines and TPUs"


def blocks():
    return python_blocks(section(TITLE))


def expected_prints(block):
    return [c.strip() for c in re.findall(r"^\s*print\(.*\)\s+# (.*)$", block, flags=re.MULTILINE)]


def test_the_python_blocks_run_and_print_what_they_say(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks():
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README test runs blocks so
        printed = output.getvalue().splitlines()
        wanted = expected_prints(block)
        if "__main__" in block:
            continue  # a script: run as one below
        assert printed == wanted


def environment():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_the_launch_example_runs_as_a_script(tmp_path):
    (script,) = [b for b in blocks() if "launch(" in b]
    path = tmp_path / "train.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], check=False, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "3"


@pytest.mark.slow
def test_the_data_parallel_example_runs_under_torchrun(tmp_path):
    (script,) = [b for b in blocks() if "strategy = danlu.distribute.DataParallel()" in b]
    path = tmp_path / "train.py"
    path.write_text(script)
    logs = tmp_path / "logs"  # each process' stdout in its own file (a shared pipe interleaves lines)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "--log-dir", str(logs), "--redirects", "1", str(path)]
    done = subprocess.run(command, check=False, env=environment(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    outputs = sorted(logs.rglob("stdout.log"))
    assert len(outputs) == 2, outputs
    for output in outputs:  # each process: 2 replicas in sync, then the logged names
        assert output.read_text().splitlines() == ["2", "['acc', 'loss']"], output.read_text()
