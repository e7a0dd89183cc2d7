"""Plain per-tensor reference update rules, written from the papers / Keras formulas with no
``_foreach`` kernels, used as float64 oracles for danlu's multi-tensor implementations.

Each function takes (w, g, state dict, t, **hyperparameters) for one tensor and updates ``w``
in place; ``t`` is the 1-based step.
"""

import math

import torch


def sgd(w, g, s, t, lr, momentum=0.0, nesterov=False):
    if momentum == 0:
        w -= lr * g
        return
    b = s.setdefault("b", torch.zeros_like(w))
    b.copy_(momentum * b - lr * g)
    if nesterov:
        w += momentum * b - lr * g
    else:
        w += b


def rmsprop(w, g, s, t, lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    v = s.setdefault("v", torch.zeros_like(w))
    v.copy_(rho * v + (1 - rho) * g * g)
    if centered:
        a = s.setdefault("a", torch.zeros_like(w))
        a.copy_(rho * a + (1 - rho) * g)
        increment = lr * g / torch.sqrt(v - a * a + epsilon)
    else:
        increment = lr * g / torch.sqrt(v + epsilon)
    if momentum > 0:
        m = s.setdefault("m", torch.zeros_like(w))
        m.copy_(momentum * m + increment)
        w -= m
    else:
        w -= increment


def adagrad(w, g, s, t, lr, initial_accumulator_value=0.1, epsilon=1e-7):
    a = s.setdefault("a", torch.full_like(w, initial_accumulator_value))
    a += g * g
    w -= lr * g / torch.sqrt(a + epsilon)


def adadelta(w, g, s, t, lr, rho=0.95, epsilon=1e-7):
    eg = s.setdefault("eg", torch.zeros_like(w))
    ed = s.setdefault("ed", torch.zeros_like(w))
    eg.copy_(rho * eg + (1 - rho) * g * g)
    delta = -torch.sqrt(ed + epsilon) / torch.sqrt(eg + epsilon) * g
    ed.copy_(rho * ed + (1 - rho) * delta * delta)
    w += lr * delta


def adam(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = s.setdefault("m", torch.zeros_like(w))
    v = s.setdefault("v", torch.zeros_like(w))
    m.copy_(beta_1 * m + (1 - beta_1) * g)
    v.copy_(beta_2 * v + (1 - beta_2) * g * g)
    if amsgrad:
        vhat = s.setdefault("vhat", torch.zeros_like(w))
        vhat.copy_(torch.maximum(vhat, v))
        v = vhat
    alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    w -= alpha * m / (torch.sqrt(v) + epsilon)


def adamax(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = s.setdefault("m", torch.zeros_like(w))
    u = s.setdefault("u", torch.zeros_like(w))
    m.copy_(beta_1 * m + (1 - beta_1) * g)
    u.copy_(torch.maximum(beta_2 * u, g.abs()))
    w -= lr * m / ((u + epsilon) * (1 - beta_1**t))


def nadam(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    # the momentum product is per optimizer; with every tensor updated each step, per tensor is the same
    m = s.setdefault("m", torch.zeros_like(w))
    v = s.setdefault("v", torch.zeros_like(w))
    mu_t = beta_1 * (1 - 0.5 * 0.96**t)
    mu_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    s["product"] = s.get("product", 1.0) * mu_t
    m.copy_(beta_1 * m + (1 - beta_1) * g)
    v.copy_(beta_2 * v + (1 - beta_2) * g * g)
    m_hat = mu_next * m / (1 - s["product"] * mu_next) + (1 - mu_t) * g / (1 - s["product"])
    v_hat = v / (1 - beta_2**t)
    w -= lr * m_hat / (torch.sqrt(v_hat) + epsilon)


def lion(w, g, s, t, lr, beta_1=0.9, beta_2=0.99):
    m = s.setdefault("m", torch.zeros_like(w))
    w -= lr * torch.sign(beta_1 * m + (1 - beta_1) * g)
    m.copy_(beta_2 * m + (1 - beta_2) * g)


def lamb(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = s.setdefault("m", torch.zeros_like(w))
    v = s.setdefault("v", torch.zeros_like(w))
    m.copy_(beta_1 * m + (1 - beta_1) * g)
    v.copy_(beta_2 * v + (1 - beta_2) * g * g)
    update = (m / (1 - beta_1**t)) / (torch.sqrt(v / (1 - beta_2**t)) + epsilon)
    w_norm, u_norm = w.norm(), update.norm()
    ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
    w -= lr * ratio * update


def ftrl(w, g, s, t, lr, learning_rate_power=-0.5, initial_accumulator_value=0.1,
         l1_regularization_strength=0.0, l2_regularization_strength=0.0,
         l2_shrinkage_regularization_strength=0.0, beta=0.0):
    n = s.setdefault("n", torch.full_like(w, initial_accumulator_value))
    z = s.setdefault("z", torch.zeros_like(w))
    p = -learning_rate_power
    l2 = l2_regularization_strength + beta / (2 * lr)
    g_shrunk = g + 2 * l2_shrinkage_regularization_strength * w
    n_new = n + g * g
    z += g_shrunk - (n_new**p - n**p) / lr * w
    quadratic = n_new**p / lr + 2 * l2
    l1 = l1_regularization_strength
    w.copy_((z.clamp(-l1, l1) - z) / quadratic)
    n.copy_(n_new)


def radam(w, g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0, sma_threshold=5.0,
          total_steps=0, warmup_proportion=0.1, min_lr=0.0):
    if total_steps > 0:
        warmup = total_steps * warmup_proportion
        decay_steps = max(total_steps - warmup, 1)
        lr = lr * t / warmup if t <= warmup else lr + (min_lr - lr) / decay_steps * min(t - warmup, decay_steps)
    m = s.setdefault("m", torch.zeros_like(w))
    v = s.setdefault("v", torch.zeros_like(w))
    m.copy_(beta_1 * m + (1 - beta_1) * g)
    v.copy_(beta_2 * v + (1 - beta_2) * g * g)
    m_hat = m / (1 - beta_1**t)
    sma_inf = 2 / (1 - beta_2) - 1
    sma_t = sma_inf - 2 * t * beta_2**t / (1 - beta_2**t)
    if sma_t >= sma_threshold:
        r = math.sqrt((sma_t - 4) * (sma_t - 2) * sma_inf / ((sma_inf - 4) * (sma_inf - 2) * sma_t))
        update = r * m_hat / (torch.sqrt(v / (1 - beta_2**t)) + epsilon)
    else:
        update = m_hat
    w -= lr * (update + weight_decay * w)


RULES = {
    "SGD": sgd, "RMSprop": rmsprop, "Adagrad": adagrad, "Adadelta": adadelta, "Adam": adam,
    "Adamax": adamax, "Nadam": nadam, "Lion": lion, "Lamb": lamb, "Ftrl": ftrl, "RAdam": radam,
    "LazyAdam": adam,
}
