"""Models: `Model` (subclass or wrap a module) and `Sequential`."""

from danlu.models.model import Model
from danlu.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
