"""Every random generator a training run draws from, captured and restored exactly.

A resumed run must draw the numbers the uninterrupted one would have drawn: Dropout and
other layers draw from torch's default generators (the CPU one, and each CUDA device's);
user code and callbacks often draw from numpy's global generator (``np.random``) and
Python's ``random``. The data order is drawn from the run's own shuffling generator, which
`danlu.trainer.progress.TrainingProgress` keeps. The state is tensors, numbers and lists only
(no pickle): numpy's is its MT19937 key, position and cached Gaussian; Python's is its
version, its 625 words and its cached Gaussian.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def capture() -> dict:
    """The states of torch's CPU (and, once initialized, CUDA) generators, numpy's global
    generator and Python's ``random``."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state["numpy"] = {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
    version, words, gauss_next = random.getstate()
    state["python"] = {"version": version, "words": list(words), "gauss_next": gauss_next}
    return state


def restore(state: dict) -> None:
    """Set every generator to what `capture` returned (the parts a state lacks, such as
    CUDA's in a CPU run, are left as they are)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        saved = state["numpy"]
        keys = saved["keys"].numpy().astype(np.uint32)
        np.random.set_state((saved["kind"], keys, saved["position"], saved["has_gauss"], saved["cached_gaussian"]))
    if "python" in state:
        saved = state["python"]
        random.setstate((saved["version"], tuple(saved["words"]), saved["gauss_next"]))
