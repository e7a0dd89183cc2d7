"""Every program in examples/ runs and learns; the demo reaches its accuracy."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    return runpy.run_path(str(ROOT / "examples" / f"{name}.py"), run_name="example")


def test_dense_classifier_example():
    assert load("dense_classifier")["main"](epochs=8) > 0.85


def test_binary_focal_classifier_example():
    assert load("binary_focal_classifier")["main"](epochs=15) > 0.9


def test_custom_training_loop_example():
    assert load("custom_training_loop")["main"]() > 0.9


def test_fake_model_example_minimizes_the_quadratic():
    assert abs(load("fake_model")["main"]() - 1.0) < 1e-3


def test_subclassed_model_example():
    assert load("subclassed_model")["main"](epochs=30) < 0.1


def test_custom_train_step_example_trains_with_its_own_step():
    history = load("custom_train_step")["main"](epochs=3)
    assert list(history) == ["loss", "mae"] and history["loss"][-1] < history["loss"][0]


def test_functional_multi_output_example():
    history = load("functional_multi_output")["main"](epochs=2, samples=256)
    assert list(history) == ["department_loss", "loss", "priority_loss"]
    assert history["loss"][-1] < history["loss"][0]


def test_writing_callbacks_example():
    seen, history, stopper, scheduled, model = load("writing_callbacks")["main"](epochs=15)
    kinds = {kind for kind, _ in seen}
    assert {"train_begin", "epoch_end", "test_batch_end", "predict_batch_end"} <= kinds
    assert ("predict_batch_end", ["outputs"]) in seen
    assert stopper.best_weights is not None and len(history.epoch) < 30
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001) and scheduled.history["loss"][-1] < scheduled.history["loss"][0]


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "examples").glob("*.py")))
def test_every_example_is_tested_here(script):
    assert f'load("{script[:-3]}")' in Path(__file__).read_text()


def test_demo_command_trains_to_95_percent_and_prints_a_bar():
    result = subprocess.run(
        [sys.executable, "-m", "danlu", "demo"], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Epoch 12/12" in result.stdout and "━" in result.stdout
    accuracy = float(result.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    picture = result.stdout.split("training curves: ")[1].strip()
    assert open(picture, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_version_command():
    result = subprocess.run([sys.executable, "-m", "danlu", "version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("danlu ")
