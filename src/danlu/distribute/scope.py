"""``strategy.scope()``: which strategy the models created inside belong to.

As with ``tf.distribute``, a model is created (and built) **inside** the scope and compiled
there; ``fit`` / ``evaluate`` / ``predict`` may then run anywhere. While a scope is open,
every module that registers a submodule and every parameter created is tagged with the
strategy (torch's global registration hooks, installed only while the scope is open, so
nothing costs anything outside it). ``compile`` inside a scope checks the tags: a model
created or built outside refuses, as tf.keras refuses variables made outside the scope.
"""

from __future__ import annotations

import contextlib

import torch

TAG = "_danlu_strategy"
_ACTIVE: list = []  # the strategy whose scope is open (at most one)


def current():
    """The strategy whose scope is open, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def entered(strategy):
    """Open ``strategy``'s scope (not inside another scope: nesting has no meaning here)."""
    if _ACTIVE:
        same = _ACTIVE[-1] is strategy
        raise RuntimeError(
            f"{'This strategy' if same else 'Another strategy'}'s scope is already open ({_ACTIVE[-1]!r}): a strategy "
            "scope cannot be entered twice or nested. Open one scope, create and compile the model inside it: "
            "`with strategy.scope(): model = ...; model.compile(...)`."
        )

    def tag_module(module, name, submodule):
        module.__dict__[TAG] = strategy
        if submodule is not None:
            submodule.__dict__.setdefault(TAG, strategy)

    def tag_parameter(module, name, parameter):
        if parameter is not None:
            setattr(parameter, TAG, strategy)

    hooks = [
        torch.nn.modules.module.register_module_module_registration_hook(tag_module),
        torch.nn.modules.module.register_module_parameter_registration_hook(tag_parameter),
    ]
    _ACTIVE.append(strategy)
    try:
        yield strategy
    finally:
        _ACTIVE.pop()
        for hook in hooks:
            hook.remove()


def strategy_of(model):
    """The strategy ``model`` was created in (by its tags), or None."""
    tagged = model.__dict__.get(TAG)
    if tagged is not None:
        return tagged
    for p in model.parameters():
        tagged = getattr(p, TAG, None)
        if tagged is not None:
            return tagged
    return None


def strategy_for_compile(model):
    """The strategy ``compile`` uses: the open scope's (the model must have been created and
    built in it), else the one the model was created in, else None (one process)."""
    active = current()
    if active is None:
        return strategy_of(model)
    parameters = list(model.parameters())
    created_inside = model.__dict__.get(TAG) is active or any(getattr(p, TAG, None) is active for p in parameters)
    if not created_inside:
        raise ValueError(
            f"The model {getattr(model, 'name', type(model).__name__)!r} was created outside {active!r}'s scope and "
            "compiled inside it. Create (and build) the model inside the scope, as with tf.distribute: "
            "`with strategy.scope(): model = ...; model.compile(...)`."
        )
    outside = [name for name, p in model.named_parameters() if getattr(p, TAG, None) is not active]  # built outside
    if outside:
        raise ValueError(
            f"The model {getattr(model, 'name', type(model).__name__)!r} has weights built outside {active!r}'s scope "
            f"({', '.join(outside[:3])}{', ...' if len(outside) > 3 else ''}). Build it inside the scope (call it on a "
            "batch there, or give its first layer input_shape=), or create it there and let fit build it."
        )
    return active
