"""Adagrad (Duchi et al., 2011): per-coordinate rates from the sum of squared gradients."""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


class Adagrad(Optimizer):
    """Adagrad, Keras 3 form::

        a = a + g^2                    (a starts at initial_accumulator_value)
        w = w - lr * g / sqrt(a + eps)

    Keras defaults: ``learning_rate=0.001``, ``initial_accumulator_value=0.1``,
    ``epsilon=1e-7`` (inside the square root).
    """

    slots = (("accumulator",),)

    def __init__(self, params=None, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        check_number("initial_accumulator_value", initial_accumulator_value, low=0)
        check_number("epsilon", epsilon, low=0)
        defaults = {"initial_accumulator_value": initial_accumulator_value, "epsilon": epsilon}
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    def init_slot(self, name, param, group):
        return torch.full_like(param, group["initial_accumulator_value"])

    def update(self, params, grads, slots, group, lr, step):
        accumulators = slots["accumulator"]
        torch._foreach_addcmul_(accumulators, grads, grads)
        denominators = torch._foreach_add(accumulators, group["epsilon"])
        torch._foreach_sqrt_(denominators)
        torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
