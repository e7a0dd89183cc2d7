"""Optimizers that wrap another: Lookahead (and Ranger) and LossScaleOptimizer.

A wrapper is a ``torch.optim.Optimizer`` whose param groups *are* the inner optimizer's (so
``torch.optim.lr_scheduler`` and ``GradScaler`` act on the inner optimizer), with the inner
optimizer's Keras API passed through.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer, evaluate_closure


class OptimizerWrapper(torch.optim.Optimizer):
    """Shares the inner optimizer's param groups; subclasses add their own state."""

    def __init__(self, optimizer, name=None):
        if isinstance(optimizer, str):
            from danlu.optimizers import get

            optimizer = get(optimizer)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"{type(self).__name__} wraps a torch.optim.Optimizer (danlu's included); "
                f"received {type(optimizer).__name__}."
            )
        self.optimizer = optimizer
        self.name = name or type(self).__name__.lower()
        # torch.optim.Optimizer.__init__ sets up hooks; its param-group writes are ignored
        # until _ready, since the groups belong to the inner optimizer.
        super().__init__([{"params": []}], {})
        self.defaults = optimizer.defaults
        self.state = defaultdict(dict)
        self._ready = True

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

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    # Keras API passed through to the inner optimizer.
    @property
    def learning_rate(self):
        return self.optimizer.learning_rate if isinstance(self.optimizer, Optimizer) else torch.tensor(self.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.learning_rate = value
        else:
            check_number("learning_rate", value, low=0)
            for group in self.param_groups:
                group["lr"] = float(value)

    @property
    def iterations(self):
        return self.optimizer.iterations if isinstance(self.optimizer, Optimizer) else torch.tensor(self._own_steps)

    @property
    def built(self):
        return bool(self.param_groups)

    def build(self, var_list):
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.build(var_list)
        elif not self.param_groups:
            raise ValueError(f"{type(self.optimizer).__name__} is bound at construction; it cannot be built again.")

    def finalize_variable_values(self, var_list=None):
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.finalize_variable_values(var_list)

    def scale_loss(self, loss):
        return self.optimizer.scale_loss(loss) if isinstance(self.optimizer, Optimizer) else loss

    def minimize(self, loss, var_list, tape=None):
        return Optimizer.minimize(self, loss, var_list, tape)

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        if not pairs:
            raise ValueError("apply_gradients received an empty list of (gradient, variable) pairs.")
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _inner_apply(self, grads, variables):
        """Apply through the inner optimizer: Keras style when it has it, else via ``.grad``."""
        if isinstance(self.optimizer, Optimizer):
            return self.optimizer.apply(grads, variables)
        saved = [v.grad for v in variables]
        try:
            for g, v in zip(grads, variables):
                v.grad = g
            self.optimizer.step()
        finally:
            for s, v in zip(saved, variables):
                v.grad = s
        return self.iterations

    def state_dict(self):
        return {"inner": self.optimizer.state_dict(), "wrapper": self._wrapper_state()}

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict["inner"])
        self._load_wrapper_state(state_dict["wrapper"])


class Lookahead(OptimizerWrapper):
    """Lookahead (Zhang et al., 2019) over any optimizer, TensorFlow Addons semantics.

    Slow weights start at the weights before the first update; after every update ``t``
    of the inner ("fast") optimizer with ``t % sync_period == 0``::

        slow = slow + slow_step_size * (fast - slow);   fast = slow

    Defaults: ``sync_period=6``, ``slow_step_size=0.5``. Only the parameters updated in that
    step are synchronized (parameters without a gradient keep their slow weights).
    """

    def __init__(self, optimizer, sync_period=6, slow_step_size=0.5, name=None):
        if isinstance(sync_period, bool) or not isinstance(sync_period, int) or sync_period < 1:
            raise ValueError(f"sync_period must be an int >= 1; received sync_period={sync_period!r}.")
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

    def apply(self, grads, trainable_variables):
        variables = list(trainable_variables)
        updated = [v for g, v in zip(grads, variables) if g is not None]
        self._initialize_slow(updated)
        result = self._inner_apply(list(grads), variables)
        self._after_update(updated)
        return result

    @property
    def variables(self):
        inner = self.optimizer.variables if isinstance(self.optimizer, Optimizer) else []
        return inner + [self.state[p]["slow"] for p in self._params() if "slow" in self.state[p]]

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


class LossScaleOptimizer(OptimizerWrapper):
    """Dynamic loss scaling for float16 training, Keras 3 semantics.

    Scale the loss with `scale_loss` (or ``loss * opt.dynamic_scale``) before ``backward``.
    Each update checks the gradients: when all are finite they are divided by the scale and
    the inner optimizer steps; after ``dynamic_growth_steps`` finite steps in a row the scale
    doubles. A step with an inf or NaN gradient halves the scale and is skipped entirely: the
    weights, the iteration counter, the EMA and the schedule do not advance. (The finiteness
    check reads one boolean back from the device per step, as ``torch.amp.GradScaler`` does.)

    Keras defaults: ``initial_scale=2**15``, ``dynamic_growth_steps=2000``.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None):
        check_number("initial_scale", initial_scale, low=0, low_open=True)
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, int) or dynamic_growth_steps < 1:
            raise ValueError(f"dynamic_growth_steps must be an int >= 1; received {dynamic_growth_steps!r}.")
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.dynamic_scale = float(initial_scale)
        self.step_counter = 0
        self._own_steps = 0
        super().__init__(inner_optimizer, name=name or "loss_scale_optimizer")
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.loss_scale_factor = None

    def scale_loss(self, loss):
        return loss * self.dynamic_scale

    def _unscale_(self, grads) -> bool:
        """Divide ``grads`` in place by the scale; return whether all are finite.

        One fused kernel per device (the one ``GradScaler`` uses) and one read of the result."""
        by_device: dict = {}
        for g in grads:
            by_device.setdefault(g.device, []).append(g._values() if g.is_sparse else g)  # coalesced by the caller
        found = []
        for device, tensors in by_device.items():
            found_inf = torch.zeros(1, device=device)
            inv_scale = torch.full((1,), 1.0 / self.dynamic_scale, device=device)
            torch._amp_foreach_non_finite_check_and_unscale_(tensors, found_inf, inv_scale)
            found.append(found_inf)
        return not found or not bool(torch.cat([f.cpu() for f in found]).any())

    def _record(self, finite: bool):
        if not finite:
            self.step_counter = 0
            self.dynamic_scale *= 0.5
        elif self.step_counter == self.dynamic_growth_steps - 1:
            self.step_counter = 0
            self.dynamic_scale *= 2.0
        else:
            self.step_counter += 1

    def apply(self, grads, trainable_variables):
        # copies, so the caller's tensors stay as given
        unscaled = [None if g is None else g.clone().coalesce() if g.is_sparse else g.clone() for g in grads]
        finite = self._unscale_([g for g in unscaled if g is not None])
        result = None
        if finite:
            result = self._inner_apply(unscaled, list(trainable_variables))
            self._own_steps += 1
        self._record(finite)
        return result if result is not None else self.iterations

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate_closure(closure)
        for p in self._params():
            if p.grad is not None and p.grad.is_sparse:
                p.grad = p.grad.coalesce()
        grads = [p.grad for p in self._params() if p.grad is not None]
        finite = self._unscale_(grads)
        if finite:
            self.optimizer.step()
            self._own_steps += 1
        self._record(finite)
        return loss

    @property
    def variables(self):
        # Keras' layout: its wrapper's own (always 0) iteration and learning rate come first.
        own = [torch.tensor(0), torch.tensor(0.0), torch.tensor(self.step_counter), torch.tensor(self.dynamic_scale, dtype=torch.float32)]
        return own + (self.optimizer.variables if isinstance(self.optimizer, Optimizer) else [])

    def get_weights(self):
        inner = self.optimizer.get_weights() if isinstance(self.optimizer, Optimizer) else []
        return [np.asarray(self.step_counter), np.asarray(self.dynamic_scale, dtype=np.float32)] + inner

    def _wrapper_state(self):
        return {"step_counter": self.step_counter, "dynamic_scale": self.dynamic_scale, "steps": self._own_steps}

    def _load_wrapper_state(self, state):
        self.step_counter = int(state["step_counter"])
        self.dynamic_scale = float(state["dynamic_scale"])
        self._own_steps = int(state["steps"])

    def get_config(self):
        from danlu.optimizers import serialize

        return {
            "name": self.name, "inner_optimizer": serialize(self.optimizer),
            "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from danlu.optimizers import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("inner_optimizer"), custom_objects), **config)
