"""LazyAdam (TensorFlow Addons): Adam that updates only the rows a sparse gradient touches."""

from __future__ import annotations

import math


from danlu.optimizers.adam import Adam
from danlu.optimizers.base import keras_power


class LazyAdam(Adam):
    """Adam for large embeddings, with TensorFlow Addons' ``LazyAdam`` semantics.

    Dense gradients take the ordinary `Adam` step. A sparse gradient (``torch.sparse_coo``,
    e.g. from ``nn.Embedding(..., sparse=True)``; duplicate indices are summed first) updates
    only the rows it names, leaving the moments of every other row untouched::

        m[i] = b1 * m[i] + (1 - b1) * g[i]
        v[i] = b2 * v[i] + (1 - b2) * g[i]^2
        w[i] = w[i] - lr * sqrt(1 - b2^t) / (1 - b1^t) * m[i] / (sqrt(v[i]) + eps)

    Defaults as TensorFlow Addons: ``learning_rate=0.001``, ``beta_1=0.9``, ``beta_2=0.999``,
    ``epsilon=1e-7``; ``amsgrad`` is not supported (as there).
    """

    supports_sparse = True

    def __init__(self, params=None, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        if kwargs.pop("amsgrad", False):
            raise ValueError("LazyAdam does not support amsgrad=True (as in TensorFlow Addons).")
        super().__init__(params, learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)

    def update(self, params, grads, slots, group, lr, step):
        dense = [i for i, g in enumerate(grads) if not g.is_sparse]
        if dense:
            pick = lambda xs: [xs[i] for i in dense]  # noqa: E731
            super().update(pick(params), pick(grads), {k: pick(v) for k, v in slots.items()}, group, lr, step)
        beta_1, beta_2, eps = group["beta_1"], group["beta_2"], group["epsilon"]
        alpha = lr * math.sqrt(1 - keras_power(beta_2, step, params[0].dtype)) / (1 - keras_power(beta_1, step, params[0].dtype))
        for w, g, m, v in zip(params, grads, slots["momentum"], slots["velocity"]):
            if not g.is_sparse:
                continue
            g = g.coalesce()
            rows, values = g.indices()[0], g.values()
            m_rows = m[rows] * beta_1 + (1 - beta_1) * values
            v_rows = v[rows] * beta_2 + (1 - beta_2) * values.square()
            m[rows] = m_rows
            v[rows] = v_rows
            w.index_add_(0, rows, -alpha * m_rows / (v_rows.sqrt() + eps))
