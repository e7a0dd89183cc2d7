"""Access to the numerical oracle: Keras 3.15.1 on its torch backend (`oracle` extra)."""

import pytest


def keras():
    """Import Keras 3.15 (torch backend) or skip: .ci/run installs it, so CI always compares."""
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the oracle is Keras on its torch backend; set KERAS_BACKEND=torch")
    return keras


def to_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x
