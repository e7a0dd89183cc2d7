"""JSON forms of danlu objects: ``{"class_name": ..., "config": {...}}`` (Keras' layout).

Layers (and models built from them) serialize their constructor arguments; regularizers,
initializers, losses, metrics and optimizers their ``get_config()``; activation functions
their names. Anything else cannot be saved as configuration and says so.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error


def registry(custom_objects=None) -> dict:
    """Every class a config may name: danlu's layers, models, regularizers, initializers,
    losses, metrics and optimizers, plus ``custom_objects``."""
    from danlu import initializers, layers, losses, metrics, models, optimizers, regularizers
    from danlu.optimizers import schedules

    known = {}
    for module in (layers, models, regularizers, initializers, losses, metrics, optimizers, schedules):
        for name in dir(module):
            value = getattr(module, name)
            if inspect.isclass(value) and hasattr(value, "from_config"):
                known.setdefault(name, value)
    known.update(custom_objects or {})
    return known


def serialize(value, where="value"):
    """A JSON-able form of ``value``; raises ``ValueError`` naming ``where`` when impossible."""
    from danlu import activations

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [serialize(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, torch.nn.ModuleList):
        return [serialize(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): serialize(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    for name, function in activations.ACTIVATIONS.items():
        if value is function:
            return name
    if hasattr(value, "get_config") and not inspect.isclass(value):
        config = value.get_config()
        return {"class_name": type(value).__name__, "config": serialize(config, f"{where}.config")}
    raise ValueError(
        f"Cannot save {where}={value!r} as configuration: it is not a number, string, list, dict or an "
        "object with get_config(). Save the weights instead (save_weights), or give the object a get_config()."
    )


def deserialize(value, custom_objects=None):
    """Inverse of `serialize`."""
    if isinstance(value, list):
        return [deserialize(v, custom_objects) for v in value]
    if isinstance(value, dict):
        if set(value) >= {"class_name", "config"}:
            known = registry(custom_objects)
            name = value["class_name"]
            if name not in known:
                raise unknown_identifier_error("class in the saved configuration", name, known)
            cls = known[name]
            config = {k: deserialize(v, custom_objects) for k, v in (value["config"] or {}).items()}
            if "custom_objects" in inspect.signature(cls.from_config).parameters:
                return cls.from_config(config, custom_objects=custom_objects)
            return cls.from_config(config)
        return {k: deserialize(v, custom_objects) for k, v in value.items()}
    return value
