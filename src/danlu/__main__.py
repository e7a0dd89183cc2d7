"""``python -m danlu demo`` trains a small convolutional network on handwritten digits;
``python -m danlu version`` prints the versions."""

from __future__ import annotations

import argparse
import sys
import time


def demo(epochs: int = 12, seed: int = 0) -> float:
    """Train a CNN on the 8x8 digits shipped with danlu; return the test accuracy."""
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
    save_curves(model.history)
    return accuracy


def save_curves(history):
    """Draw the training curves to a PNG in the temporary folder and say where."""
    import os
    import tempfile

    path = os.path.join(tempfile.gettempdir(), "danlu-demo-curves.png")
    try:
        history.plot(path)
    except ImportError:
        print("(install matplotlib, pip install 'danlu[plot]', to get the training curves as a picture)")
        return None
    print(f"training curves: {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m danlu", description="danlu: Keras-style training on PyTorch.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="train a small CNN on handwritten digits (no network needed)")
    demo_parser.add_argument("--epochs", type=int, default=12)
    commands.add_parser("version", help="print the versions of danlu and torch")
    args = parser.parse_args(argv)
    if args.command == "version":
        import torch

        import danlu

        print(f"danlu {danlu.__version__} (torch {torch.__version__})")
        return 0
    accuracy = demo(epochs=args.epochs)
    return 0 if accuracy >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
