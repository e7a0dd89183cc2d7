"""Nadam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

import torch

from danlu.optimizers.adam import adam_defaults, update_moments
from danlu.optimizers.base import Optimizer, keras_power


class Nadam(Optimizer):
    """Nadam, Keras 3 form, with the momentum cache ``mu_t = b1 (1 - 0.5 * 0.96^t)`` and its
    running product ``P_t = mu_1 ... mu_t`` (one per optimizer)::

        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g^2
        m_hat = mu_{t+1} * m / (1 - P_t * mu_{t+1}) + (1 - mu_t) * g / (1 - P_t)
        v_hat = v / (1 - b2^t)
        w = w - lr * m_hat / (sqrt(v_hat) + eps)

    Keras defaults: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-7``.
    """

    slots = (("momentum", "velocity"),)

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        self._u_product = 1.0
        defaults = adam_defaults(beta_1, beta_2, epsilon)
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    def extra_variables(self):
        return {"u_product": self._u_product}

    def set_extra_variables(self, values):
        self._u_product = float(values.get("u_product", 1.0))

    def before_update(self, lr, step):
        beta_1 = self.defaults["beta_1"]
        dtype = self.param_groups[0]["params"][0].dtype
        self._u_t = beta_1 * (1.0 - 0.5 * keras_power(0.96, step, dtype))
        self._u_t_1 = beta_1 * (1.0 - 0.5 * keras_power(0.96, step + 1, dtype))
        self._u_product *= self._u_t

    def update(self, params, grads, slots, group, lr, step):
        beta_1, beta_2 = group["beta_1"], group["beta_2"]
        u_t, u_t_1, u_product = self._u_t, self._u_t_1, self._u_product
        m, v = slots["momentum"], slots["velocity"]
        update_moments(m, v, grads, beta_1, beta_2)
        m_hat = torch._foreach_mul(m, u_t_1 / (1 - u_product * u_t_1))
        torch._foreach_add_(m_hat, grads, alpha=(1 - u_t) / (1 - u_product))
        denominators = torch._foreach_sqrt(torch._foreach_div(v, 1 - keras_power(beta_2, step, params[0].dtype)))
        torch._foreach_add_(denominators, group["epsilon"])
        torch._foreach_addcdiv_(params, m_hat, denominators, value=-lr)
