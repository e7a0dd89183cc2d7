"""The README's examples run as pasted, and CI runs the README's test command."""

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title):
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_blocks(text):
    namespace = {}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for block in python_blocks(text):
            exec(compile(block, "README.md", "exec"), namespace)
    return namespace, output.getvalue()


def test_losses_section_runs_and_prints_what_it_says():
    _, printed = run_blocks(section("Losses"))
    # Every "print(...)  # tensor(...)" comment in the section is what that line prints.
    expected = re.findall(r"^print\(.*# (tensor\(.*?\))", section("Losses"), flags=re.M)
    assert len(expected) >= 10
    for value in expected + ["sum tensor(0.8757)", "mean_with_sample_weight tensor(0.8757)",
                             "none tensor([0.7330, 0.1427])", "2.0", 'Did you mean "binary_crossentropy"?']:
        assert value in printed, value


def test_ci_runs_the_readme_test_command_verbatim():
    quick_start = section("Quick start")
    commands = re.findall(r"```bash\n(.*?)```", quick_start, flags=re.S)
    test_command = [line for block in commands for line in block.splitlines() if "pytest" in line]
    assert len(test_command) == 1
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command[0] in ci_lines


def test_optimizers_section_prints_exactly_what_its_comments_say():
    text = section("Optimizers")
    _, printed = run_blocks(text)
    expected = [c.strip() for c in re.findall(r"^print\(.*\)\s+# (.*)$", text, flags=re.M)]
    assert len(expected) >= 8
    assert printed.splitlines() == expected


def test_training_section_runs_and_prints_what_it_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # save_weights writes into the working folder
    text = section("Training")
    _, printed = run_blocks(text)
    expected = [c.strip() for c in re.findall(r"^print\(.*\)\s+# (.*)$", text, flags=re.M)]
    assert printed.splitlines() == expected
    assert (tmp_path / "regressor.safetensors").exists()


def test_quick_start_has_exactly_a_demo_and_a_test_command():
    commands = [
        line for block in re.findall(r"```bash\n(.*?)```", section("Quick start"), flags=re.S) for line in block.splitlines()
    ]
    assert len(commands) == 2
    assert commands[0].endswith("python3 -m danlu demo") and commands[1].endswith("python3 -m pytest")


def test_callbacks_section_runs(tmp_path, monkeypatch):
    # The section continues the Training section's program (its data and imports).
    monkeypatch.chdir(tmp_path)
    namespace, _ = run_blocks(section("Training"))
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for block in python_blocks(section("Callbacks")):
            exec(compile(block, "README.md", "exec"), namespace)
    lines = output.getvalue().splitlines()
    assert lines[0] == "['best.danlu', 'logs', 'training.csv']" and lines[1] == "True"
    assert lines[2].startswith("reached 90% accuracy at epoch ") and lines[3] == "True"


def test_functional_api_section_prints_exactly_what_its_comments_say():
    text = section("The functional API and Keras' layers")
    _, printed = run_blocks(text)
    expected = [c.strip() for c in re.findall(r"^print\(.*\)\s+# (.*)$", text, flags=re.M)]
    assert len(expected) >= 8
    assert printed.splitlines() == expected
