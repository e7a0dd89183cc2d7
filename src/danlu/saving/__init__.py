"""Saving: tensors, files and configurations — never models.

- `files`: danlu's safetensors containers (atomic writes, content detection, clear errors);
- `packing`: nested state <-> flat tensors + JSON;
- `serialization`: Keras-layout configs, a registry keyed by module, `register_serializable`;
- `weights`: state dicts in weight files, checked by name and shape.
"""

from danlu.saving.atomic import atomic_path
from danlu.saving.files import FileFormatError
from danlu.saving.serialization import register_serializable

__all__ = ["FileFormatError", "atomic_path", "register_serializable"]
