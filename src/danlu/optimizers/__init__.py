"""Keras 3 optimizers (and TensorFlow Addons' LazyAdam, RAdam, Lookahead, Ranger) as
``torch.optim.Optimizer``s, with Keras' numerics and API.

>>> import torch, danlu
>>> w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
>>> opt = danlu.optimizers.SGD(learning_rate=0.1)
>>> opt.apply_gradients([(torch.tensor([1.0, 1.0]), w)])
tensor(1)
>>> w.data
tensor([0.9000, 1.9000])
"""

from __future__ import annotations

import inspect

import torch

from danlu._identifiers import unknown_identifier_error
from danlu.optimizers import schedules
from danlu.optimizers.adadelta import Adadelta
from danlu.optimizers.adafactor import Adafactor
from danlu.optimizers.adagrad import Adagrad
from danlu.optimizers.adam import Adam, AdamW
from danlu.optimizers.adamax import Adamax
from danlu.optimizers.base import Optimizer
from danlu.optimizers.ftrl import Ftrl
from danlu.optimizers.lamb import Lamb
from danlu.optimizers.lazy_adam import LazyAdam
from danlu.optimizers.lion import Lion
from danlu.optimizers.muon import Muon
from danlu.optimizers.nadam import Nadam
from danlu.optimizers.radam import RAdam
from danlu.optimizers.rmsprop import RMSprop
from danlu.optimizers.sgd import SGD
from danlu.optimizers.lookahead import Lookahead, Ranger
from danlu.optimizers.loss_scale import LossScaleOptimizer
from danlu.optimizers.wrapper import OptimizerWrapper, TorchOptimizer, as_optimizer

OPTIMIZER_CLASSES = (
    SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Adamax, Nadam, Lion, Ftrl, Adafactor, Lamb, Muon,
    LazyAdam, RAdam, Ranger, Lookahead, LossScaleOptimizer,
)
#: String identifiers: Keras' (lower-case class names) and a few shorthands.
IDENTIFIERS = {
    **{cls.__name__.lower(): (cls, {}) for cls in OPTIMIZER_CLASSES if cls not in (Lookahead, LossScaleOptimizer)},
    "sgdm": (SGD, {"momentum": 0.9}),
    "nag": (SGD, {"momentum": 0.9, "nesterov": True}),
    "lazy_adam": (LazyAdam, {}),
    "rectifiedadam": (RAdam, {}),
    "rectified_adam": (RAdam, {}),
}
CLASSES_BY_NAME = {cls.__name__: cls for cls in OPTIMIZER_CLASSES}


def serialize(optimizer) -> dict:
    """``{"class_name": ..., "config": ...}`` (Keras 3's layout)."""
    return {"module": "danlu.optimizers", "class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    """Inverse of `serialize`; reads Keras 3 optimizer configs too (class names in any case)."""
    known = {**CLASSES_BY_NAME, **(custom_objects or {})}
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"An optimizer config is a dict with 'class_name' and 'config'; received {config!r}.")
    name = config["class_name"]
    cls = known.get(name) or IDENTIFIERS.get(str(name).lower(), (None,))[0]
    if cls is None:
        raise unknown_identifier_error("optimizer class", str(name), known)
    inner = dict(config.get("config") or {})
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(inner, custom_objects)
    return cls.from_config(inner)


def get(identifier):
    """Resolve an optimizer identifier, as Keras' ``keras.optimizers.get``.

    A name (``"adam"``, ``"rmsprop"``, ``"sgdm"`` for SGD with momentum 0.9, ``"nag"`` for
    Nesterov SGD with momentum 0.9; any case) gives a new optimizer with Keras' defaults; a
    config dict gives the optimizer it describes; an optimizer instance is returned as is.
    A ``torch.optim`` optimizer is returned as is too (`as_optimizer` adapts it where it is
    used); ``None`` gives ``None``. Unknown names raise ``ValueError`` naming the closest
    valid one.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in IDENTIFIERS:
            raise unknown_identifier_error("optimizer", identifier, IDENTIFIERS)
        cls, kwargs = IDENTIFIERS[key]
        return cls(**kwargs)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, torch.optim.Optimizer):  # danlu's, or torch's (adapted where it is used)
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Optimizer):
        return identifier()
    raise TypeError(
        f"Could not interpret optimizer identifier {identifier!r} of type {type(identifier).__name__}: "
        "expected a name, a config dict or an optimizer."
    )


__all__ = [
    "IDENTIFIERS", "Optimizer", "OptimizerWrapper", "TorchOptimizer", "as_optimizer", "deserialize", "get",
    "schedules", "serialize",
    *(cls.__name__ for cls in OPTIMIZER_CLASSES),
]
