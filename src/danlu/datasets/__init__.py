"""Small data sets shipped with danlu (no network needed)."""

from __future__ import annotations

from importlib import resources

import numpy as np


def load_digits():
    """The 1,797 8x8 images of handwritten digits from the UCI ML repository (the copy
    scikit-learn ships as ``sklearn.datasets.load_digits``), pixel values 0..16.

    Returns ``(images, labels)``: uint8 arrays of shapes ``(1797, 8, 8)`` and ``(1797,)``.
    """
    with resources.files(__package__).joinpath("digits.npz").open("rb") as file:
        data = np.load(file)
        return data["images"], data["target"]
