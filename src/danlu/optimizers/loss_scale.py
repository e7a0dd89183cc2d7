"""LossScaleOptimizer: dynamic loss scaling for float16 training, Keras 3 semantics."""

from __future__ import annotations

import numpy as np
import torch

from danlu._validation import check_number, check_positive_int
from danlu.optimizers.base import evaluate_closure
from danlu.optimizers.wrapper import OptimizerWrapper


class LossScaleOptimizer(OptimizerWrapper):
    """Dynamic loss scaling around any optimizer.

    Scale the loss with `scale_loss` (or ``loss * opt.dynamic_scale``) before ``backward``.
    Each update checks the gradients: when all are finite they are divided by the scale and
    the inner optimizer steps; after ``dynamic_growth_steps`` finite steps in a row the scale
    doubles. A step with an inf or NaN gradient halves the scale and is skipped entirely: the
    weights, the iteration counter, the EMA and the schedule do not advance. (The finiteness
    check reads one boolean back from the device per step, as ``torch.amp.GradScaler`` does.)

    Keras defaults: ``initial_scale=2**15``, ``dynamic_growth_steps=2000``.

    tf.keras 2's ``dynamic=False`` (which Keras 3 refuses) is accepted: the scale stays
    ``initial_scale`` and every step is applied, finite or not, as tf.keras 2's fixed loss
    scale did.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, dynamic=True):
        check_number("initial_scale", initial_scale, low=0, low_open=True)
        check_positive_int("dynamic_growth_steps", dynamic_growth_steps, message="an int >= 1")
        if not isinstance(dynamic, bool):
            raise TypeError(f"dynamic must be True or False; received dynamic={dynamic!r}.")
        self.dynamic = dynamic
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.dynamic_scale = float(initial_scale)
        self.step_counter = 0
        self._own_steps = 0
        super().__init__(inner_optimizer, name=name or "loss_scale_optimizer")
        self.optimizer.loss_scale_factor = None

    @property
    def inner_optimizer(self):
        """Keras' name for the wrapped optimizer."""
        return self.optimizer

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
        if not self.dynamic:
            return
        if not finite:
            self.step_counter = 0
            self.dynamic_scale *= 0.5
        elif self.step_counter == self.dynamic_growth_steps - 1:
            self.step_counter = 0
            self.dynamic_scale *= 2.0
        else:
            self.step_counter += 1

    def apply(self, grads, trainable_variables=None):
        variables = list(self._params() if trainable_variables is None else trainable_variables)
        # copies, so the caller's tensors stay as given
        unscaled = [None if g is None else g.clone().coalesce() if g.is_sparse else g.clone() for g in grads]
        finite = self._unscale_([g for g in unscaled if g is not None]) or not self.dynamic
        if finite:
            self.optimizer.apply(unscaled, variables)
            self._own_steps += 1
        self._record(finite)
        return self.iterations

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate_closure(closure)
        for p in self._params():
            if p.grad is not None and p.grad.is_sparse:
                p.grad = p.grad.coalesce()
        grads = [p.grad for p in self._params() if p.grad is not None]
        finite = self._unscale_(grads) or not self.dynamic
        if finite:
            self.optimizer.step()
            self._own_steps += 1
        self._record(finite)
        return loss

    @property
    def variables(self):
        # Keras' layout: its wrapper's own (always 0) iteration and learning rate come first.
        own = [torch.tensor(0), torch.tensor(0.0), torch.tensor(self.step_counter), torch.tensor(self.dynamic_scale, dtype=torch.float32)]
        return own + self.optimizer.variables

    def get_weights(self):
        return [np.asarray(self.step_counter), np.asarray(self.dynamic_scale, dtype=np.float32)] + self.optimizer.get_weights()

    def _wrapper_state(self):
        return {"step_counter": self.step_counter, "dynamic_scale": self.dynamic_scale, "steps": self._own_steps}

    def _load_wrapper_state(self, state):
        self.step_counter = int(state["step_counter"])
        self.dynamic_scale = float(state["dynamic_scale"])
        self._own_steps = int(state["steps"])

    def get_config(self):
        from danlu.optimizers import serialize

        config = {
            "name": self.name, "inner_optimizer": serialize(self.optimizer),
            "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps,
        }
        if not self.dynamic:  # Keras 3's config has no such key; written only when it matters
            config["dynamic"] = False
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from danlu.optimizers import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("inner_optimizer"), custom_objects), **config)
