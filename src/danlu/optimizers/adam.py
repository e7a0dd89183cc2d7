"""Adam (Kingma & Ba, 2015), its AMSGrad variant, and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer, keras_power


def adam_defaults(beta_1, beta_2, epsilon) -> dict:
    """Validated hyperparameters shared by the Adam family: betas in [0, 1), epsilon >= 0."""
    check_number("beta_1", beta_1, low=0, high=1, high_open=True)
    check_number("beta_2", beta_2, low=0, high=1, high_open=True)
    check_number("epsilon", epsilon, low=0)
    return {"beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon}


def update_moments(m, v, grads, beta_1, beta_2):
    """``m = b1 m + (1 - b1) g`` and ``v = b2 v + (1 - b2) g^2``, in place."""
    torch._foreach_lerp_(m, grads, 1 - beta_1)
    torch._foreach_mul_(v, beta_2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta_2)


class Adam(Optimizer):
    """Adam, Keras 3 form (``t`` = update count from 1)::

        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g^2
        v_hat = max(v_hat, v)                            (amsgrad; then v := v_hat)
        w = w - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)

    Keras defaults: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.999``,
    ``epsilon=1e-7`` ("epsilon hat": added after the bias-corrected square root, unlike
    ``torch.optim.Adam``), ``amsgrad=False``.
    """

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        defaults = {**adam_defaults(beta_1, beta_2, epsilon), "amsgrad": amsgrad}
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    slots = (("momentum", "velocity"), ("velocity_hat",))

    def init_slot(self, name, param, group):
        return torch.zeros_like(param) if name != "velocity_hat" or group["amsgrad"] else None

    def update(self, params, grads, slots, group, lr, step):
        beta_1, beta_2 = group["beta_1"], group["beta_2"]
        alpha = lr * math.sqrt(1 - keras_power(beta_2, step, params[0].dtype)) / (1 - keras_power(beta_1, step, params[0].dtype))
        m, v = slots["momentum"], slots["velocity"]
        update_moments(m, v, grads, beta_1, beta_2)
        if group["amsgrad"]:
            torch._foreach_maximum_(slots["velocity_hat"], v)
            v = slots["velocity_hat"]
        denominators = torch._foreach_sqrt(v)
        torch._foreach_add_(denominators, group["epsilon"])
        torch._foreach_addcdiv_(params, m, denominators, value=-alpha)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): before each Adam step,
    ``w = w - w * weight_decay * lr``. Keras defaults as `Adam`, plus ``weight_decay=0.004``.
    """

    def __init__(self, params=None, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW needs a float weight_decay; received weight_decay=None.")
        super().__init__(
            params, learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, weight_decay=weight_decay, **kwargs,
        )
