"""Adadelta (Zeiler, 2012): steps sized by the ratio of running RMS of updates and gradients."""

from __future__ import annotations

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer


class Adadelta(Optimizer):
    """Adadelta, Keras 3 form::

        E[g^2] = rho * E[g^2] + (1 - rho) * g^2
        d      = -sqrt(E[dw^2] + eps) / sqrt(E[g^2] + eps) * g
        E[dw^2] = rho * E[dw^2] + (1 - rho) * d^2
        w      = w + lr * d

    Keras defaults: ``learning_rate=0.001``, ``rho=0.95``, ``epsilon=1e-7``.
    """

    slots = (("accumulated_grad", "accumulated_delta_var"),)

    def __init__(self, params=None, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        check_number("rho", rho, low=0, high=1)
        check_number("epsilon", epsilon, low=0)
        super().__init__(params, learning_rate=learning_rate, defaults={"rho": rho, "epsilon": epsilon}, **kwargs)

    def update(self, params, grads, slots, group, lr, step):
        rho, eps = group["rho"], group["epsilon"]
        grad_rms, delta_rms = slots["accumulated_grad"], slots["accumulated_delta_var"]
        torch._foreach_mul_(grad_rms, rho)
        torch._foreach_addcmul_(grad_rms, grads, grads, value=1 - rho)
        numerators = torch._foreach_sqrt(torch._foreach_add(delta_rms, eps))
        denominators = torch._foreach_sqrt(torch._foreach_add(grad_rms, eps))
        deltas = torch._foreach_div(torch._foreach_mul(numerators, grads), denominators)
        torch._foreach_neg_(deltas)
        torch._foreach_mul_(delta_rms, rho)
        torch._foreach_addcmul_(delta_rms, deltas, deltas, value=1 - rho)
        torch._foreach_add_(params, deltas, alpha=lr)
