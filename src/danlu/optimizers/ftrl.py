"""FTRL-Proximal (McMahan et al., 2013): follow the regularized leader, for sparse models."""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


class Ftrl(Optimizer):
    """FTRL-Proximal, Keras 3 form (``p`` = ``learning_rate_power``, ``l1``, ``l2``,
    ``l2s`` = ``l2_shrinkage_regularization_strength``, ``beta``)::

        g'  = g + 2 * l2s * w
        n'  = n + g^2                                     (n starts at initial_accumulator_value)
        z   = z + g' - (n'^-p - n^-p) / lr * w
        q   = n'^-p / lr + 2 * (l2 + beta / (2 * lr))
        w   = (clip(z, -l1, l1) - z) / q
        n   = n'

    Keras defaults: ``learning_rate=0.001``, ``learning_rate_power=-0.5``,
    ``initial_accumulator_value=0.1``, every regularization strength 0, ``beta=0``.
    """

    slots = (("accumulator", "linear"),)

    def __init__(
        self, params=None, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
        l1_regularization_strength=0.0, l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0, beta=0.0, **kwargs,
    ):
        check_number("learning_rate_power", learning_rate_power, high=0)
        for arg, value in (
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
            ("beta", beta),
        ):
            check_number(arg, value, low=0)
        defaults = {
            "learning_rate_power": learning_rate_power, "initial_accumulator_value": initial_accumulator_value,
            "l1_regularization_strength": l1_regularization_strength,
            "l2_regularization_strength": l2_regularization_strength,
            "l2_shrinkage_regularization_strength": l2_shrinkage_regularization_strength, "beta": beta,
        }
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    def init_slot(self, name, param, group):
        if name == "accumulator":
            return torch.full_like(param, group["initial_accumulator_value"])
        return torch.zeros_like(param)

    def update(self, params, grads, slots, group, lr, step):
        power = -group["learning_rate_power"]
        l1 = group["l1_regularization_strength"]
        l2 = group["l2_regularization_strength"] + group["beta"] / (2.0 * lr)
        shrinkage = group["l2_shrinkage_regularization_strength"]
        accumulators, linears = slots["accumulator"], slots["linear"]
        grads_to_use = torch._foreach_add(grads, params, alpha=2 * shrinkage) if shrinkage else grads
        new_accumulators = torch._foreach_addcmul(accumulators, grads, grads)
        new_powers = torch._foreach_pow(new_accumulators, power)
        sigma = torch._foreach_sub(new_powers, torch._foreach_pow(accumulators, power))
        torch._foreach_div_(sigma, lr)
        torch._foreach_add_(linears, grads_to_use)
        torch._foreach_sub_(linears, torch._foreach_mul(sigma, params))
        quadratic = torch._foreach_div(new_powers, lr)
        torch._foreach_add_(quadratic, 2 * l2)
        clipped = torch._foreach_clamp_max(torch._foreach_clamp_min(linears, -l1), l1)
        torch._foreach_copy_(params, torch._foreach_div(torch._foreach_sub(clipped, linears), quadratic))
        torch._foreach_copy_(accumulators, new_accumulators)
