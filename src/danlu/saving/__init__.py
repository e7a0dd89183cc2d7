"""Saving: weights in safetensors, atomic writes."""

from danlu.saving.atomic import atomic_path
from danlu.saving.weights import load_weights, save_weights

__all__ = ["atomic_path", "load_weights", "save_weights"]
