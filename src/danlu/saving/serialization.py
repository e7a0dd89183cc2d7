"""JSON forms of danlu objects, in Keras 3's layout:
``{"module": "danlu.metrics", "class_name": "MeanSquaredError", "config": {...}}``.

Classes are registered under the module that exports them (``danlu.losses``,
``danlu.metrics``, ...), so a loss and a metric of the same name never collide. The package
registers its families when it is imported (`register_module`); your own classes register
with `register_serializable` or come back through ``custom_objects={"Name": cls}``. Functions
registered with a family (activations, loss functions) serialize to their names, as Keras
writes them. This module knows configurations only: it imports no model, layer or loss.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from danlu._identifiers import unknown_identifier_error

#: (module, class name) -> class, for every registered family.
_CLASSES: dict[tuple[str, str], type] = {}
#: class -> (module, class name): where `serialize` says a class lives.
_KEYS: dict[type, tuple[str, str]] = {}
#: "package>Name" -> class, for classes registered with `register_serializable`.
_CUSTOM: dict[str, type] = {}
#: function -> its registered name (activations, loss functions).
_FUNCTIONS: dict[object, str] = {}


def register_module(module: str, names: dict) -> None:
    """Register every class with a ``from_config`` in ``names`` (a module's namespace or
    any ``{name: object}``) under ``module``."""
    for name, value in names.items():
        if inspect.isclass(value) and hasattr(value, "from_config"):
            _CLASSES.setdefault((module, name), value)
            _KEYS.setdefault(value, (module, name))


def register_functions(functions: dict) -> None:
    """Register ``{name: function}``: such functions serialize to their name (the first
    name registered for a function wins)."""
    for name, function in functions.items():
        _FUNCTIONS.setdefault(function, name)


def register_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: make a class of your own loadable without ``custom_objects`` (Keras'
    ``register_keras_serializable``); it is saved as ``"package>Name"``."""

    def register(cls):
        key = f"{package}>{name or cls.__name__}"
        _CUSTOM[key] = cls
        cls._registered_name = key
        return cls

    return register


def class_key(cls) -> tuple[str, str]:
    """(module, class name) under which ``cls`` is saved."""
    return _KEYS.get(cls, (cls.__module__, cls.__name__))


def serialize(value, where: str = "value"):
    """A JSON-able form of ``value``; raises ``ValueError`` naming ``where`` when impossible."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, (list, tuple, torch.nn.ModuleList)):
        return [serialize(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): serialize(v, f"{where}.{k}") for k, v in value.items()}
    if not inspect.isclass(value) and callable(value) and value in _FUNCTIONS:
        return _FUNCTIONS[value]
    if hasattr(value, "get_config") and not inspect.isclass(value):
        cls = type(value)
        module, class_name = class_key(cls)
        entry = {"module": module, "class_name": class_name, "config": serialize(value.get_config(), f"{where}.config")}
        registered = getattr(cls, "_registered_name", None)
        if registered is not None and _CUSTOM.get(registered) is cls:
            entry["registered_name"] = registered
        return entry
    raise ValueError(
        f"Cannot save {where}={value!r} as configuration: it is not a number, string, list, dict or an "
        "object with get_config(). Save the weights instead (save_weights), or give the object a get_config()."
    )


def is_object_config(value) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def resolve_class(config: dict, custom_objects=None, module: str | None = None) -> type:
    """The class a config names: ``custom_objects`` first (by class or registered name),
    then `register_serializable` classes, then the registered family of the config's
    ``module`` (Keras' ``keras.metrics`` reads as ``danlu.metrics``) or of ``module``."""
    name = config["class_name"]
    registered = config.get("registered_name")
    custom_objects = custom_objects or {}
    for key in (registered, name):
        if key in custom_objects:
            return custom_objects[key]
    if registered in _CUSTOM:
        return _CUSTOM[registered]
    for family in (_family(config.get("module")), module):
        if family is not None and (family, name) in _CLASSES:
            return _CLASSES[(family, name)]
    matches = [cls for (family, class_name), cls in _CLASSES.items() if class_name == name]
    if len(set(matches)) == 1 and not config.get("module", "").startswith("danlu."):
        return matches[0]
    if len(set(matches)) > 1:
        families = sorted(family for family, class_name in _CLASSES if class_name == name)
        raise ValueError(f"The saved configuration names class {name!r} without saying which: it exists in {', '.join(families)}.")
    raise unknown_identifier_error("class in the saved configuration", name, [n for _, n in _CLASSES] + list(custom_objects))


def _family(module):
    """``keras.metrics`` / ``keras.src.metrics.regression_metrics`` -> ``danlu.metrics``."""
    if not module:
        return None
    parts = module.split(".")
    if parts[0] == "keras":
        parts = [p for p in parts[1:] if p != "src"][:1]
        return f"danlu.{parts[0]}" if parts else None
    return module


def deserialize(value, custom_objects=None, module: str | None = None):
    """Inverse of `serialize`: object configs become objects (their ``from_config``),
    everything else keeps its JSON form. ``module`` is the family to look in when a config
    does not say (e.g. ``"danlu.losses"`` for a loss slot)."""
    if isinstance(value, list):
        return [deserialize(v, custom_objects, module) for v in value]
    if isinstance(value, dict):
        if is_object_config(value):
            cls = resolve_class(value, custom_objects, module)
            config = {k: deserialize(v, custom_objects) for k, v in (value["config"] or {}).items()}
            if "custom_objects" in inspect.signature(cls.from_config).parameters:
                return cls.from_config(config, custom_objects=custom_objects)
            return cls.from_config(config)
        return {k: deserialize(v, custom_objects, module) for k, v in value.items()}
    return value
