"""Lookahead (Zhang et al., 2019) and Ranger (Lookahead over RAdam), TensorFlow Addons
semantics."""

from __future__ import annotations

from collections import defaultdict

import torch

from danlu._validation import check_number, check_positive_int
from danlu.optimizers.base import Optimizer
from danlu.optimizers.wrapper import OptimizerWrapper


class Lookahead(OptimizerWrapper):
    """Lookahead over any optimizer (danlu's or ``torch.optim``'s).

    Slow weights start at the weights before the first update; after every update ``t``
    of the inner ("fast") optimizer with ``t % sync_period == 0``::

        slow = slow + slow_step_size * (fast - slow);   fast = slow

    Defaults: ``sync_period=6``, ``slow_step_size=0.5``. Only the parameters updated in that
    step are synchronized (parameters without a gradient keep their slow weights).
    """

    def __init__(self, optimizer, sync_period=6, slow_step_size=0.5, name=None):
        check_positive_int("sync_period", sync_period, message="an int >= 1")
        check_number("slow_step_size", slow_step_size, low=0, high=1)
        self.sync_period = sync_period
        self.slow_step_size = slow_step_size
        self._own_steps = 0
        super().__init__(optimizer, name=name or "lookahead")

    @torch.no_grad()
    def _initialize_slow(self, params):
        for p in params:
            if "slow" not in self.state[p]:
                self.state[p]["slow"] = p.detach().clone()

    @torch.no_grad()
    def _after_update(self, params):
        self._own_steps += 1
        if self._own_steps % self.sync_period:
            return
        slow = [self.state[p]["slow"] for p in params]
        torch._foreach_add_(slow, torch._foreach_sub(params, slow), alpha=self.slow_step_size)
        torch._foreach_copy_(params, slow)

    def step(self, closure=None):
        params = [p for p in self._params() if p.grad is not None]
        self._initialize_slow(params)
        loss = self.optimizer.step(closure)
        self._after_update(params)
        return loss

    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        variables = list(self._params() if trainable_variables is None else trainable_variables)
        updated = [v for g, v in zip(grads, variables) if g is not None]
        self._initialize_slow(updated)
        result = self.optimizer.apply(grads, variables)
        self._after_update(updated)
        return result

    @property
    def variables(self):
        return self.optimizer.variables + [self.state[p]["slow"] for p in self._params() if "slow" in self.state[p]]

    def _wrapper_state(self):
        packed = torch.optim.Optimizer.state_dict(self)  # the slow weights, keyed by parameter index
        return {"state": packed["state"], "steps": self._own_steps}

    def _load_wrapper_state(self, state):
        params = self._params()
        self.state = defaultdict(dict)
        for index, values in state["state"].items():
            p = params[int(index)]
            self.state[p] = {k: v.to(device=p.device, dtype=p.dtype) for k, v in values.items()}
        self._own_steps = int(state["steps"])

    def get_config(self):
        from danlu.optimizers import serialize

        return {
            "optimizer": serialize(self.optimizer), "sync_period": self.sync_period,
            "slow_step_size": self.slow_step_size, "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from danlu.optimizers import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("optimizer"), custom_objects), **config)


class Ranger(Lookahead):
    """Ranger (Wright, 2019): `Lookahead` over `RAdam`. Takes RAdam's arguments (and
    optionally parameters first) plus ``sync_period=6`` and ``slow_step_size=0.5``."""

    def __init__(self, params=None, sync_period=6, slow_step_size=0.5, name=None, **radam_kwargs):
        from danlu.optimizers.radam import RAdam

        super().__init__(RAdam(params, **radam_kwargs), sync_period=sync_period, slow_step_size=slow_step_size, name=name or "ranger")

    def get_config(self):
        config = {k: v for k, v in self.optimizer.get_config().items() if k != "name"}
        return {**config, "sync_period": self.sync_period, "slow_step_size": self.slow_step_size, "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return Optimizer.from_config.__func__(cls, config, custom_objects)
