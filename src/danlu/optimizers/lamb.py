"""LAMB (You et al., 2020): Adam steps rescaled per tensor by the trust ratio ||w|| / ||u||."""

from __future__ import annotations

import torch

from danlu.optimizers.adam import adam_defaults, update_moments
from danlu.optimizers.base import Optimizer, keras_power


class Lamb(Optimizer):
    """LAMB, Keras 3 form::

        m = b1 * m + (1 - b1) * g;   v = b2 * v + (1 - b2) * g^2
        u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
        r = ||w|| / ||u||   (1 when either norm is 0)
        w = w - lr * r * u

    Keras defaults: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-7``.
    """

    slots = (("momentum", "velocity"),)

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        defaults = adam_defaults(beta_1, beta_2, epsilon)
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    def update(self, params, grads, slots, group, lr, step):
        beta_1, beta_2 = group["beta_1"], group["beta_2"]
        m, v = slots["momentum"], slots["velocity"]
        update_moments(m, v, grads, beta_1, beta_2)
        denominators = torch._foreach_sqrt(torch._foreach_div(v, 1 - keras_power(beta_2, step, params[0].dtype)))
        torch._foreach_add_(denominators, group["epsilon"])
        updates = torch._foreach_div(torch._foreach_div(m, 1 - keras_power(beta_1, step, params[0].dtype)), denominators)
        weight_norms = torch._foreach_norm(params)
        update_norms = torch._foreach_norm(updates)
        ratios = [
            torch.where((w > 0) & (u > 0), w / u, torch.ones_like(w)) for w, u in zip(weight_norms, update_norms)
        ]
        torch._foreach_mul_(updates, ratios)
        torch._foreach_add_(params, updates, alpha=-lr)
