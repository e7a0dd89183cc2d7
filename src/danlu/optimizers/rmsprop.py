"""RMSprop (Hinton, 2012): gradients divided by a running root mean square."""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


class RMSprop(Optimizer):
    """RMSprop, Keras 3 form (``rho``, ``mu`` = ``momentum``, ``eps`` = ``epsilon``)::

        v = rho * v + (1 - rho) * g^2
        a = rho * a + (1 - rho) * g                      (centered only)
        d = sqrt(v + eps)   or   sqrt(v - a^2 + eps)      (centered)
        u = lr * g / d
        w = w - u                                         (momentum == 0)
        m = mu * m + u;  w = w - m                        (momentum > 0)

    Keras defaults: ``learning_rate=0.001``, ``rho=0.9``, ``momentum=0.0``, ``epsilon=1e-7``,
    ``centered=False``. Note ``eps`` sits *inside* the square root.
    """

    def __init__(self, params=None, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        check_number("rho", rho, low=0, high=1)
        check_number("momentum", momentum, low=0, high=1)
        check_number("epsilon", epsilon, low=0)
        defaults = {"rho": rho, "momentum": momentum, "epsilon": epsilon, "centered": centered}
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    slots = (("velocity",), ("momentum",), ("average_gradient",))

    def init_slot(self, name, param, group):
        needed = {"velocity": True, "momentum": group["momentum"] > 0, "average_gradient": group["centered"]}
        return torch.zeros_like(param) if needed[name] else None

    def update(self, params, grads, slots, group, lr, step):
        rho, eps = group["rho"], group["epsilon"]
        velocity = slots["velocity"]
        torch._foreach_mul_(velocity, rho)
        torch._foreach_addcmul_(velocity, grads, grads, value=1 - rho)
        denominators = torch._foreach_add(velocity, eps)
        if group["centered"]:
            average = slots["average_gradient"]
            torch._foreach_mul_(average, rho)
            torch._foreach_add_(average, grads, alpha=1 - rho)
            torch._foreach_addcmul_(denominators, average, average, value=-1)
        torch._foreach_sqrt_(denominators)
        if group["momentum"] > 0:
            momentum = slots["momentum"]
            torch._foreach_mul_(momentum, group["momentum"])
            torch._foreach_addcdiv_(momentum, grads, denominators, value=lr)
            torch._foreach_sub_(params, momentum)
        else:
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
