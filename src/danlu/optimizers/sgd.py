"""Stochastic gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


class SGD(Optimizer):
    """Gradient descent, Keras 3 form (``lr`` = learning rate, ``mu`` = ``momentum``)::

        momentum == 0:  w = w - lr * g
        otherwise:      b = mu * b - lr * g
                        w = w + b                         (nesterov=False)
                        w = w - lr * g + mu * b           (nesterov=True)

    Keras defaults: ``learning_rate=0.01``, ``momentum=0.0``, ``nesterov=False``. The velocity
    ``b`` holds the learning rate inside it (Keras' convention, unlike ``torch.optim.SGD``).
    Sparse gradients (``torch.sparse_coo``, e.g. from a sparse ``Embedding``) are added into
    the dense weights and velocity with the same formulas.
    """

    supports_sparse = True

    def __init__(self, params=None, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        check_number("momentum", momentum, low=0, high=1)
        super().__init__(params, learning_rate=learning_rate, defaults={"momentum": momentum, "nesterov": nesterov}, **kwargs)

    slots = (("momentum",),)

    def init_slot(self, name, param, group):
        return torch.zeros_like(param) if group["momentum"] != 0 else None

    def update(self, params, grads, slots, group, lr, step):
        if any(g.is_sparse for g in grads):
            return self._update_each(params, grads, slots, group, lr)
        momentum = group["momentum"]
        if momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        velocity = slots["momentum"]
        torch._foreach_mul_(velocity, momentum)
        torch._foreach_add_(velocity, grads, alpha=-lr)
        if group["nesterov"]:
            torch._foreach_add_(params, grads, alpha=-lr)
            torch._foreach_add_(params, velocity, alpha=momentum)
        else:
            torch._foreach_add_(params, velocity)

    @staticmethod
    def _update_each(params, grads, slots, group, lr):
        """The same rule tensor by tensor (``dense.add_(sparse)`` works; foreach kernels do not)."""
        momentum = group["momentum"]
        for i, (w, g) in enumerate(zip(params, grads)):
            if momentum == 0:
                w.add_(g, alpha=-lr)
                continue
            velocity = slots["momentum"][i]
            velocity.mul_(momentum).add_(g, alpha=-lr)
            if group["nesterov"]:
                w.add_(g, alpha=-lr).add_(velocity, alpha=momentum)
            else:
                w.add_(velocity)
