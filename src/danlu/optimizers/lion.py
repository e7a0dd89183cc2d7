"""Lion (Chen et al., 2023): sign updates from an interpolated momentum."""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


class Lion(Optimizer):
    """Lion, Keras 3 form::

        w = w - lr * sign(b1 * m + (1 - b1) * g)
        m = b2 * m + (1 - b2) * g

    Keras defaults: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.99``.
    """

    slots = (("momentum",),)

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        check_number("beta_1", beta_1, low=0, high=1, low_open=True)
        check_number("beta_2", beta_2, low=0, high=1)
        super().__init__(params, learning_rate=learning_rate, defaults={"beta_1": beta_1, "beta_2": beta_2}, **kwargs)

    def update(self, params, grads, slots, group, lr, step):
        m = slots["momentum"]
        direction = torch._foreach_lerp(m, grads, 1 - group["beta_1"])
        torch._foreach_sign_(direction)
        torch._foreach_add_(params, direction, alpha=-lr)
        torch._foreach_lerp_(m, grads, 1 - group["beta_2"])
