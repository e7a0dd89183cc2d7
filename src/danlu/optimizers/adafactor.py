"""Adafactor (Shazeer & Stern, 2018): second moments factored into row and column means."""

from __future__ import annotations

import math

import torch

from danlu._validation import check_number
from danlu.optimizers.base import Optimizer, keras_power


def _rms(x):
    return x.square().mean().sqrt()


class Adafactor(Optimizer):
    """Adafactor, Keras 3 form (``t`` = update count from 1, ``d`` = ``beta_2_decay``)::

        rho = min(lr, 1 / sqrt(t))        (lr is first capped the same way when relative_step
                                           and the learning rate is not a schedule)
        alpha = max(epsilon_2, rms(w)) * rho
        G = g^2 + epsilon_1;  b = 1 - t^d
        rank >= 2:  r = b r + (1 - b) mean(G, -1);  c = b c + (1 - b) mean(G, -2)
                    v = (r / mean(r, -1))[..., None] * c[..., None, :]
        rank < 2:   v = b v + (1 - b) G
        u = g / sqrt(v);  w = w - alpha * u / max(1, rms(u) / clip_threshold)

    Keras defaults: ``learning_rate=0.001``, ``beta_2_decay=-0.8``, ``epsilon_1=1e-30``,
    ``epsilon_2=1e-3``, ``clip_threshold=1.0``, ``relative_step=True``. The factored moments
    depend on each tensor's shape, so this rule loops over tensors instead of using
    ``_foreach`` kernels.
    """

    slots = (("r", "c", "v"),)

    def __init__(
        self, params=None, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
        clip_threshold=1.0, relative_step=True, **kwargs,
    ):
        check_number("beta_2_decay", beta_2_decay, high=0)
        check_number("epsilon_1", epsilon_1, low=0)
        check_number("epsilon_2", epsilon_2, low=0)
        check_number("clip_threshold", clip_threshold, low=0, low_open=True)
        defaults = {
            "beta_2_decay": beta_2_decay, "epsilon_1": epsilon_1, "epsilon_2": epsilon_2,
            "clip_threshold": clip_threshold, "relative_step": relative_step,
        }
        super().__init__(params, learning_rate=learning_rate, defaults=defaults, **kwargs)

    def init_slot(self, name, param, group):
        if name == "v":
            return torch.zeros_like(param)
        if param.ndim < 2:  # unused scalars, kept for Keras' variable layout
            return torch.zeros((), dtype=param.dtype, device=param.device)
        shape = param.shape[:-1] if name == "r" else param.shape[:-2] + param.shape[-1:]
        return torch.zeros(shape, dtype=param.dtype, device=param.device)

    def update(self, params, grads, slots, group, lr, step):
        if self._schedule is None and group["relative_step"]:
            lr = min(lr, 1 / math.sqrt(step))
        rho = min(lr, 1 / math.sqrt(step))
        beta = 1 - keras_power(step, group["beta_2_decay"], params[0].dtype)
        for w, g, r, c, v in zip(params, grads, slots["r"], slots["c"], slots["v"]):
            alpha = torch.clamp_min(_rms(w), group["epsilon_2"]) * rho
            regulated = g.square() + group["epsilon_1"]
            if w.ndim >= 2:
                r.mul_(beta).add_(regulated.mean(dim=-1), alpha=1 - beta)
                c.mul_(beta).add_(regulated.mean(dim=-2), alpha=1 - beta)
                v.copy_((r / r.mean(dim=-1, keepdim=True)).unsqueeze(-1) * c.unsqueeze(-2))
            else:
                v.mul_(beta).add_(regulated, alpha=1 - beta)
            u = g / v.sqrt()
            u_hat = u / torch.clamp_min(_rms(u) / group["clip_threshold"], 1.0)
            w.sub_(alpha * u_hat)
