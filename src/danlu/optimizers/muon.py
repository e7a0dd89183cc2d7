"""Muon (Jordan et al., 2024): orthogonalized momentum for matrices, AdamW for the rest."""

from __future__ import annotations

import math
import re

import torch

from danlu.optimizers.adam import adam_defaults
from danlu._validation import check_number
from danlu.optimizers.base import Optimizer, keras_power


class Muon(Optimizer):
    """Muon, Keras 3 form. 2-D parameters (not excluded) take the Muon step::

        m = mu * m + g;   G = g + mu * m  (nesterov)  or  m
        O = NewtonSchulz5(G)              (ns_steps iterations with a, b, c = muon_a/b/c)
        w = w - lr * O * sqrt(max(rows, cols)) * rms_rate   (no rescale when rms_rate is None)

    every other parameter an AdamW step with ``adam_beta_1``, ``adam_beta_2``, ``epsilon`` and
    learning rate ``lr * adam_lr_ratio``. Decoupled weight decay uses ``weight_decay`` for
    Muon parameters and ``adam_weight_decay`` for the others. Parameters whose name contains
    "embedding" (``exclude_embeddings``) or matches a regex in ``exclude_layers`` take AdamW;
    names come from ``named_parameters()`` (unnamed parameters are never excluded by name).
    Keras defaults: ``learning_rate=0.001``, ``momentum=0.95``, ``nesterov=True``,
    ``ns_steps=5``, ``muon_a=3.4445``, ``muon_b=-4.775``, ``muon_c=2.0315``,
    ``rms_rate=0.2``, ``weight_decay=adam_weight_decay=0.004``, ``epsilon=1e-7``.
    """

    decoupled_weight_decay = False

    def __init__(
        self, params=None, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004,
        epsilon=1e-7, weight_decay=0.004, exclude_layers=None, exclude_embeddings=True, muon_a=3.4445,
        muon_b=-4.775, muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5, nesterov=True,
        rms_rate=0.2, **kwargs,
    ):
        for argument, value in (("muon_a", muon_a), ("muon_b", muon_b), ("muon_c", muon_c)):
            check_number(argument, value)
        check_number("rms_rate", rms_rate, low=0, allow_none=True)
        adam_defaults(adam_beta_1, adam_beta_2, epsilon)
        check_number("momentum", momentum, low=0, high=1)
        check_number("adam_weight_decay", adam_weight_decay, low=0, allow_none=True)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"ns_steps must be an int >= 0; received ns_steps={ns_steps!r}.")
        defaults = {
            "adam_beta_1": adam_beta_1, "adam_beta_2": adam_beta_2, "adam_weight_decay": adam_weight_decay,
            "epsilon": epsilon, "exclude_layers": list(exclude_layers or []),
            "exclude_embeddings": exclude_embeddings, "muon_a": muon_a, "muon_b": muon_b, "muon_c": muon_c,
            "adam_lr_ratio": adam_lr_ratio, "momentum": momentum, "ns_steps": ns_steps, "nesterov": nesterov,
            "rms_rate": rms_rate,
        }
        super().__init__(params, learning_rate=learning_rate, weight_decay=weight_decay, defaults=defaults, **kwargs)

    slots = (("momentum", "velocity"),)

    def _uses_adamw(self, param, name, group) -> bool:
        if param.ndim != 2:
            return True
        if name is not None:
            if group["exclude_embeddings"] and "embedding" in name.lower():
                return True
            if any(re.search(pattern, name) for pattern in group["exclude_layers"]):
                return True
        return False

    def init_slot(self, name, param, group):
        if name == "velocity" and not self._uses_adamw(param, self._names(group).get(id(param)), group):
            return None  # Muon parameters keep only a momentum (Keras' variable layout)
        return torch.zeros_like(param)

    def _names(self, group):
        return dict(zip(map(id, group["params"]), group.get("param_names") or []))

    @staticmethod
    def _transpose(x):
        return x.transpose(-2, -1)

    def newton_schulz(self, x, steps, a, b, c):
        """Approximate the orthogonal factor of ``x`` (Keras' ``zeropower_via_newtonschulz5``)."""
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = self._transpose(x)
        x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)
        for _ in range(steps):
            gram = x @ self._transpose(x)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return self._transpose(x) if tall else x

    def update(self, params, grads, slots, group, lr, step):
        names = self._names(group)
        for w, g, m, v in zip(params, grads, slots["momentum"], slots["velocity"]):
            adamw = self._uses_adamw(w, names.get(id(w)), group)
            decay = group["adam_weight_decay"] if adamw else group.get("weight_decay")
            if decay and self._decays(w, names.get(id(w))):
                w.mul_(1 - decay * lr)
            if adamw:
                b1, b2 = group["adam_beta_1"], group["adam_beta_2"]
                alpha = lr * group["adam_lr_ratio"] * math.sqrt(1 - keras_power(b2, step, w.dtype)) / (1 - keras_power(b1, step, w.dtype))
                m.add_((g - m) * (1 - b1))
                v.add_((g.square() - v) * (1 - b2))
                w.sub_(m * alpha / (v.sqrt() + group["epsilon"]))
                continue
            mu = group["momentum"]
            m.add_(g + m * (mu - 1))
            direction = g + mu * m if group["nesterov"] else m
            update = self.newton_schulz(direction, group["ns_steps"], group["muon_a"], group["muon_b"], group["muon_c"])
            update = lr * update
            if group["rms_rate"] is not None:
                update = update * math.sqrt(max(w.shape[0], w.shape[1])) * group["rms_rate"]
            w.sub_(update)
