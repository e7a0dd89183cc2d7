"""Adamax (Kingma & Ba, 2015, section 7): Adam with the infinity norm."""

from __future__ import annotations

import torch

from danlu.optimizers.adam import adam_defaults
from danlu.optimizers.base import Optimizer, keras_power


class Adamax(Optimizer):
    """Adamax, Keras 3 form::

        m = b1 * m + (1 - b1) * g
        u = max(b2 * u, |g|)
        w = w - lr * m / ((u + eps) * (1 - b1^t))

    Keras defaults: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-7``.
    """

    slots = (("momentum", "norm"),)

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        defaults = adam_defaults(beta_1, beta_2, epsilon)
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    def update(self, params, grads, slots, group, lr, step):
        beta_1 = group["beta_1"]
        m, u = slots["momentum"], slots["norm"]
        torch._foreach_lerp_(m, grads, 1 - beta_1)
        torch._foreach_mul_(u, group["beta_2"])
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denominators = torch._foreach_add(u, group["epsilon"])
        torch._foreach_mul_(denominators, 1 - keras_power(beta_1, step, params[0].dtype))
        torch._foreach_addcdiv_(params, m, denominators, value=-lr)
