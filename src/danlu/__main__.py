"""The command line: ``python -m danlu demo`` trains a small convolutional network on the
handwritten digits shipped with danlu (no network needed) and saves its training curves;
``python -m danlu version`` (or ``--version``) prints the versions of danlu and torch."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from danlu.callbacks import History


def demo(epochs: int = 12, seed: int = 0, curves: str | None = None, history: str | None = None) -> float:
    """Train a CNN on the 8x8 digits shipped with danlu; return the test accuracy.

    The training curves are drawn to ``curves`` (a PNG path; default: ``danlu-demo-curves.png``
    in the temporary folder) when matplotlib is installed; ``history`` (a path) receives the
    epochs' logs and the test results as JSON (the documentation draws its picture from it)."""
    import numpy as np
    import torch

    import danlu
    from danlu import layers
    from danlu.datasets import load_digits

    torch.manual_seed(seed)
    images, labels = load_digits()
    x = (images.astype("float32") / 16.0)[:, None, :, :]  # (batch, channels, height, width)
    y = labels.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[:360], order[360:]
    print(f"danlu {danlu.__version__}: a CNN on {len(train)} training and {len(test)} test images of 8x8 digits")

    model = danlu.Sequential([
        layers.Conv2D(32, 3, padding="same", activation="relu", input_shape=(1, 8, 8)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10),
    ])
    model.compile(
        optimizer=danlu.optimizers.Adam(learning_rate=2e-3),
        loss=danlu.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["acc"],
    )
    model.summary()
    start = time.perf_counter()
    model.fit(x[train], y[train], batch_size=32, epochs=epochs, validation_split=0.1)
    loss, accuracy = model.evaluate(x[test], y[test], verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} ({time.perf_counter() - start:.1f} s of training)")
    if history is not None:
        save_history(model.history, history, seed=seed, test_loss=loss, test_accuracy=accuracy)
    save_curves(model.history, curves)
    return accuracy


def save_history(history: History, path: str, **results: float) -> None:
    """Write a `History` (``epoch`` and ``history``) and ``results`` to ``path`` as JSON."""
    import json

    from danlu.saving.atomic import atomic_path

    with atomic_path(path) as temporary, open(temporary, "w") as file:
        json.dump({"epoch": history.epoch, "history": history.history, **results}, file, indent=1, sort_keys=True)
        file.write("\n")


def save_curves(history: History, path: str | None = None) -> str | None:
    """Draw the training curves to ``path`` (default: a PNG in the temporary folder) and say
    where; ``None`` when matplotlib is missing."""
    import os
    import tempfile

    path = path or os.path.join(tempfile.gettempdir(), "danlu-demo-curves.png")
    try:
        history.plot(path)
    except ImportError:
        print("(install matplotlib, pip install 'danlu[plot]', to get the training curves as a picture)")
        return None
    print(f"training curves: {path}")
    return path


def version_line() -> str:
    """``danlu X.Y.Z (torch A.B.C)``."""
    import torch

    import danlu

    return f"danlu {danlu.__version__} (torch {torch.__version__})"


class _VersionAction(argparse.Action):
    """``--version``: print `version_line` and exit (danlu and torch imported only then)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the versions of danlu and torch and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (the demo fails below 95% accuracy)."""
    parser = argparse.ArgumentParser(prog="python -m danlu", description="danlu: Keras-style training on PyTorch.")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="train a small CNN on handwritten digits (no network needed)")
    demo_parser.add_argument("--epochs", type=int, default=12, help="epochs to train (default 12)")
    demo_parser.add_argument("--curves", metavar="PATH", default=None,
                             help="where to save the training curves (default: danlu-demo-curves.png in the temporary folder)")
    demo_parser.add_argument("--history", metavar="PATH", default=None, help="also write the epochs' logs to PATH as JSON")
    commands.add_parser("version", help="print the versions of danlu and torch")
    args = parser.parse_args(argv)
    if args.command == "version":
        print(version_line())
        return 0
    accuracy = demo(epochs=args.epochs, curves=args.curves, history=args.history)
    return 0 if accuracy >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
