"""Models: `Model` (subclass or wrap a module) and `Sequential`."""

from danlu.models.model import Model
from danlu.models.sequential import Sequential
from danlu.models.model_io import load_model

__all__ = ["Model", "Sequential", "load_model"]
