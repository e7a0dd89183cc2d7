"""RAdam (Liu et al., 2020) with TensorFlow Addons' ``RectifiedAdam`` semantics."""

from __future__ import annotations

import math

import torch

from danlu.optimizers.adam import adam_defaults, update_moments
from danlu._validation import check_number
from danlu.optimizers.base import Optimizer, keras_power


class RAdam(Optimizer):
    """Rectified Adam, as TensorFlow Addons' ``RectifiedAdam`` (``t`` = update count from 1)::

        lr_t = lr * t / W                        if total_steps > 0 and t <= W = total_steps * warmup_proportion
             = lr + (min_lr - lr) / D * min(t - W, D)   after warmup, D = max(total_steps - W, 1)
        m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2   (v_hat = max(v_hat, v) with amsgrad)
        S_inf = 2 / (1 - b2) - 1;   S_t = S_inf - 2 t b2^t / (1 - b2^t)
        r_t = sqrt((S_t - 4)(S_t - 2) S_inf / ((S_inf - 4)(S_inf - 2) S_t))
        u = r_t * m_hat / (sqrt(v_hat_corrected) + eps)   if S_t >= sma_threshold else m_hat
        w = w - lr_t * (u + weight_decay * w)

    ``weight_decay`` is TensorFlow Addons' (added to the update, scaled by ``lr_t``), not
    Keras' decoupled decay. Defaults: ``learning_rate=0.001``, ``beta_1=0.9``,
    ``beta_2=0.999``, ``epsilon=1e-7``, ``weight_decay=0.0``, ``amsgrad=False``,
    ``sma_threshold=5.0``, ``total_steps=0``, ``warmup_proportion=0.1``, ``min_lr=0.0``.
    """

    decoupled_weight_decay = False

    def __init__(
        self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0,
        amsgrad=False, sma_threshold=5.0, total_steps=0, warmup_proportion=0.1, min_lr=0.0, **kwargs,
    ):
        check_number("sma_threshold", sma_threshold)
        check_number("total_steps", total_steps, low=0)
        check_number("warmup_proportion", warmup_proportion, low=0, high=1)
        check_number("min_lr", min_lr, low=0)
        defaults = {
            **adam_defaults(beta_1, beta_2, epsilon), "amsgrad": amsgrad,
            "sma_threshold": sma_threshold, "total_steps": total_steps,
            "warmup_proportion": warmup_proportion, "min_lr": min_lr,
        }
        super().__init__(params, learning_rate=learning_rate, weight_decay=weight_decay, defaults=defaults, **kwargs)

    slots = (("m",), ("v",), ("vhat",))

    def init_slot(self, name, param, group):
        return torch.zeros_like(param) if name != "vhat" or group["amsgrad"] else None

    @staticmethod
    def warmup_learning_rate(lr, step, total_steps, warmup_proportion, min_lr):
        """The learning rate after TensorFlow Addons' linear warmup and decay."""
        if total_steps <= 0:
            return lr
        warmup_steps = total_steps * warmup_proportion
        decay_steps = max(total_steps - warmup_steps, 1)
        if step <= warmup_steps:
            return lr * (step / warmup_steps)
        return lr + (min_lr - lr) / decay_steps * min(step - warmup_steps, decay_steps)

    def update(self, params, grads, slots, group, lr, step):
        beta_1, beta_2 = group["beta_1"], group["beta_2"]
        lr_t = self.warmup_learning_rate(lr, step, group["total_steps"], group["warmup_proportion"], group["min_lr"])
        beta_2_power = keras_power(beta_2, step, params[0].dtype)
        sma_inf = 2.0 / (1.0 - beta_2) - 1.0
        sma_t = sma_inf - 2.0 * step * beta_2_power / (1.0 - beta_2_power)
        m, v = slots["m"], slots["v"]
        update_moments(m, v, grads, beta_1, beta_2)
        if group["amsgrad"]:
            torch._foreach_maximum_(slots["vhat"], v)
            v = slots["vhat"]
        m_scale = 1.0 / (1.0 - keras_power(beta_1, step, params[0].dtype))
        if sma_t >= group["sma_threshold"]:
            r_t = math.sqrt((sma_t - 4.0) / (sma_inf - 4.0) * (sma_t - 2.0) / (sma_inf - 2.0) * sma_inf / sma_t)
            denominators = torch._foreach_sqrt(torch._foreach_div(v, 1.0 - beta_2_power))
            torch._foreach_add_(denominators, group["epsilon"])
            updates = torch._foreach_div(torch._foreach_mul(m, r_t * m_scale), denominators)
        else:
            updates = torch._foreach_mul(m, m_scale)
        if group.get("weight_decay"):
            torch._foreach_add_(updates, params, alpha=group["weight_decay"])
        torch._foreach_add_(params, updates, alpha=-lr_t)
