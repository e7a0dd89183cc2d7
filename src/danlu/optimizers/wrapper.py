"""Optimizers around another optimizer, and the adapter that gives a plain ``torch.optim``
optimizer danlu's interface.

`OptimizerWrapper` is an `Optimizer`: callers (the trainer, the callbacks) use one interface
for every optimizer — ``learning_rate`` (read and assign), ``iterations``, ``build``,
``apply``, ``step``, ``scale_loss``, ``finalize_variable_values``, ``use_ema`` /
``swap_ema_weights``, ``state_dict``, configs — and never probe types. Its param groups
*are* the inner optimizer's, so ``torch.optim.lr_scheduler`` and ``GradScaler`` act on the
inner optimizer. `TorchOptimizer` is the wrapper that adds nothing: it adapts a plain
``torch.optim.Optimizer`` (`as_optimizer` does it once, where an optimizer enters danlu).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from danlu._identifiers import snake_case
from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


def as_optimizer(optimizer) -> Optimizer:
    """``optimizer`` in danlu's interface: danlu optimizers as they are, a plain
    ``torch.optim.Optimizer`` adapted by `TorchOptimizer`, a name resolved."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        from danlu.optimizers import get

        return get(optimizer)
    if isinstance(optimizer, torch.optim.Optimizer):
        return TorchOptimizer(optimizer)
    raise TypeError(
        f"Expected an optimizer (danlu's, a torch.optim.Optimizer, or a name such as 'adam'); "
        f"received {type(optimizer).__name__}."
    )


class OptimizerWrapper(Optimizer):
    """An optimizer acting through an inner one (``self.optimizer``), sharing its param
    groups. Subclasses change what an update does (`apply` / `step`) and add their own
    state (`_wrapper_state` / `_load_wrapper_state`); everything else is the inner
    optimizer's."""

    def __init__(self, optimizer, name=None):
        self.optimizer = as_optimizer(optimizer)
        self.name = name or snake_case(type(self).__name__)
        # torch.optim.Optimizer.__init__ sets up hooks; its param-group writes are ignored
        # until _ready, since the groups belong to the inner optimizer.
        torch.optim.Optimizer.__init__(self, [{"params": []}], {})
        self.defaults = self.optimizer.defaults
        self.state = defaultdict(dict)
        self._ready = True

    def __getattr__(self, name):
        inner = self.__dict__.get("optimizer")
        if inner is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(inner, name)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, value):
        if self.__dict__.get("_ready"):
            self.optimizer.param_groups = value

    def add_param_group(self, param_group):
        if self.__dict__.get("_ready"):
            self.optimizer.add_param_group(param_group)

    # --- The interface, passed through ----------------------------------------------------

    @property
    def learning_rate(self):
        return self.optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.optimizer.learning_rate = value

    lr = learning_rate

    @property
    def iterations(self):
        return self.optimizer.iterations

    @property
    def built(self):
        return self.optimizer.built

    @property
    def use_ema(self):
        return self.optimizer.use_ema

    def build(self, var_list):
        self.optimizer.build(var_list)

    def finalize_variable_values(self, var_list=None):
        self.optimizer.finalize_variable_values(var_list)

    def swap_ema_weights(self):
        self.optimizer.swap_ema_weights()

    def scale_loss(self, loss):
        return self.optimizer.scale_loss(loss)

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        self.optimizer.exclude_from_weight_decay(var_list, var_names)

    def apply(self, grads, trainable_variables=None):
        return self.optimizer.apply(grads, trainable_variables)

    def step(self, closure=None):
        return self.optimizer.step(closure)

    def zero_grad(self, set_to_none: bool = True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @property
    def variables(self):
        return self.optimizer.variables

    def get_weights(self):
        return self.optimizer.get_weights()

    def set_weights(self, weights):
        self.optimizer.set_weights(weights)

    def update(self, params, grads, slots, group, lr, step):
        raise TypeError(f"{type(self).__name__} updates through its inner optimizer; it has no update rule of its own.")

    # --- State: the inner optimizer's, then the wrapper's own ---------------------------------

    def _wrapper_state(self) -> dict:
        return {}

    def _load_wrapper_state(self, state: dict) -> None:
        pass

    def state_dict(self):
        return {"inner": self.optimizer.state_dict(), "wrapper": self._wrapper_state()}

    def load_state_dict(self, state_dict):
        if not isinstance(state_dict, dict) or set(state_dict) != {"inner", "wrapper"}:
            raise ValueError(f"{type(self).__name__}.load_state_dict expects the dict its state_dict() returns ('inner', 'wrapper').")
        self.optimizer.load_state_dict(state_dict["inner"])
        self._load_wrapper_state(state_dict["wrapper"])

    def __repr__(self):
        return f"{type(self).__name__}({self.optimizer!r})"


class TorchOptimizer(OptimizerWrapper):
    """A plain ``torch.optim.Optimizer`` in danlu's interface (made by `as_optimizer`;
    users never need to build one). Updates are the torch optimizer's own ``step``; the
    learning rate is its param groups' ``lr``; there is no EMA and no loss scaling."""

    def __init__(self, optimizer, name=None):
        if not isinstance(optimizer, torch.optim.Optimizer) or isinstance(optimizer, Optimizer):
            raise TypeError(f"TorchOptimizer adapts a plain torch.optim.Optimizer; received {type(optimizer).__name__}.")
        self.optimizer = optimizer
        self.name = name or snake_case(type(optimizer).__name__)
        torch.optim.Optimizer.__init__(self, [{"params": []}], {})
        self.defaults = optimizer.defaults
        self.state = defaultdict(dict)
        self._steps = 0
        self._ready = True

    @property
    def learning_rate(self):
        return torch.tensor(self.param_groups[0]["lr"] if self.param_groups else self.defaults.get("lr", 0.0), dtype=torch.float32)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = float(value)
        if callable(value) and not isinstance(value, (int, float)):
            raise ValueError(
                f"{type(self.optimizer).__name__} (torch.optim) takes a float learning rate; for schedules use "
                "torch.optim.lr_scheduler or a danlu optimizer."
            )
        check_number("learning_rate", value, low=0)
        for group in self.param_groups:
            group["lr"] = float(value)

    lr = learning_rate

    @property
    def iterations(self):
        return torch.tensor(self._steps, dtype=torch.int64)

    @property
    def built(self):
        return bool(self.param_groups)

    @property
    def use_ema(self):
        return False

    def build(self, var_list):
        if not self.param_groups:
            raise ValueError(f"{type(self.optimizer).__name__} (torch.optim) was created without parameters; give it model.parameters().")

    def finalize_variable_values(self, var_list=None):
        pass

    def swap_ema_weights(self):
        raise ValueError(f"{type(self.optimizer).__name__} (torch.optim) keeps no EMA of the weights; use a danlu optimizer with use_ema=True.")

    def scale_loss(self, loss):
        return loss

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        raise ValueError("exclude_from_weight_decay is a danlu optimizer method; with torch.optim, put those parameters in a group with weight_decay=0.")

    def apply(self, grads, trainable_variables=None):
        """Keras style on a torch optimizer: the gradients go through ``.grad`` and ``step()``."""
        variables = list(self._params() if trainable_variables is None else trainable_variables)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(f"apply received {len(grads)} gradients for {len(variables)} variables.")
        saved = [v.grad for v in variables]
        try:
            for g, v in zip(grads, variables):
                v.grad = g
            self.step()
        finally:
            for s, v in zip(saved, variables):
                v.grad = s
        return self.iterations

    def step(self, closure=None):
        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self._steps += 1
        return loss

    @property
    def variables(self):
        return [self.iterations] + [t for p in self._params() for t in self.optimizer.state.get(p, {}).values() if isinstance(t, torch.Tensor)]

    def get_weights(self):
        return [np.asarray(t.detach().cpu()) for t in self.variables]

    def set_weights(self, weights):
        raise ValueError("set_weights is not available for torch.optim optimizers; use load_state_dict.")

    def _wrapper_state(self):
        return {"steps": self._steps}

    def _load_wrapper_state(self, state):
        self._steps = int(state.get("steps", 0))

    def get_config(self):
        raise ValueError(
            f"{type(self.optimizer).__name__} is a torch.optim optimizer: it has no Keras configuration. "
            "Use a danlu optimizer to save it with the model."
        )
