"""``set_random_seed``: one seed for every random number generator a training program uses."""

from __future__ import annotations

import random
import sys

import numpy as np
import torch

_GLOBAL_SEED = None


def set_random_seed(seed):
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every CUDA /
    MPS device), so that a program draws the same numbers on every run.

    Keras' ``keras.utils.set_random_seed(seed)`` on its torch backend does the same
    (``random.seed``, ``np.random.seed``, ``torch.manual_seed``, and ``tf.random.set_seed``
    when TensorFlow is installed, for ``tf.data`` pipelines); danlu seeds TensorFlow too when
    the program has already imported it (importing it here would cost seconds). danlu's own
    randomness (initializers and dropout without a seed, ``fit``'s shuffling, the datasets of
    ``danlu.utils`` without a ``seed``) draws from these generators, so it follows.
    ``get_random_seed()`` returns the seed last set, as Keras records it.

    ``seed`` must be an int in ``[0, 2**32)`` (numpy's range); a bool or a float is refused.
    Some GPU kernels are nondeterministic whatever the seed:
    ``torch.use_deterministic_algorithms(True)`` rules them out.
    """
    global _GLOBAL_SEED
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int; received seed={seed!r} of type {type(seed).__name__}.")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32) (numpy's seed range); received seed={seed}.")
    seed = int(seed)
    _GLOBAL_SEED = seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA (and MPS / XPU) device, now or when it starts
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and hasattr(tensorflow, "random"):
        tensorflow.random.set_seed(seed)


def get_random_seed():
    """The seed last given to `set_random_seed`, or ``None`` when it was never called."""
    return _GLOBAL_SEED
