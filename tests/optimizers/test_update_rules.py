"""Each multi-tensor (``_foreach``) update rule against a plain per-tensor reference in float64,
plus the TensorFlow Addons semantics of LazyAdam, RAdam, Lookahead and Ranger."""

import math

import pytest
import torch

import danlu
from danlu import optimizers
from tests.optimizers import reference

SHAPES = [(4, 3), (7,), (2, 3, 2), ()]
STEPS = 25

CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.9}),
    ("Adam", {"learning_rate": 0.05}),
    ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("Adamax", {"learning_rate": 0.05}),
    ("Nadam", {"learning_rate": 0.05}),
    ("Lion", {"learning_rate": 0.01}),
    ("Lamb", {"learning_rate": 0.05}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1}),
    ("RAdam", {"learning_rate": 0.05}),
    ("RAdam", {"learning_rate": 0.05, "weight_decay": 0.01, "total_steps": 20, "warmup_proportion": 0.2, "min_lr": 0.001}),
    ("LazyAdam", {"learning_rate": 0.05}),
]


def problem(seed):
    generator = torch.Generator().manual_seed(seed)
    initial = [torch.randn(s, generator=generator, dtype=torch.float64) for s in SHAPES]
    grads = [[torch.randn(s, generator=generator, dtype=torch.float64) for s in SHAPES] for _ in range(STEPS)]
    return initial, grads


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_foreach_rule_matches_per_tensor_reference_in_float64(name, kwargs):
    initial, grads = problem(seed=len(name) + len(kwargs))
    params = [torch.nn.Parameter(w.clone()) for w in initial]
    opt = getattr(optimizers, name)(params, **kwargs)
    expected = [w.clone() for w in initial]
    states = [{} for _ in expected]
    rule = reference.RULES[name]
    hyper = {("lr" if k == "learning_rate" else k): v for k, v in kwargs.items()}
    for t, step_grads in enumerate(grads, start=1):
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
        for w, g, s in zip(expected, step_grads, states):
            rule(w, g, s, t, **hyper)
        for p, w in zip(params, expected):
            torch.testing.assert_close(p.detach(), w, rtol=1e-10, atol=1e-12, msg=f"{name} step {t}")


def test_lazy_adam_updates_only_the_rows_of_a_sparse_gradient():
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    before = embedding.weight.detach().clone()
    opt = optimizers.LazyAdam(embedding.parameters(), learning_rate=0.1)
    ids = torch.tensor([1, 4, 4])  # row 4 twice: its gradient rows are summed
    embedding(ids).sum().backward()
    assert embedding.weight.grad.is_sparse
    opt.step()
    changed = (embedding.weight.detach() != before).any(dim=1)
    assert changed.tolist() == [i in (1, 4) for i in range(10)]
    state = opt.state[embedding.weight]
    assert state["momentum"][0].abs().sum() == 0 and state["velocity"][7].abs().sum() == 0
    # Row 4: g = 2 on each entry; step 1: m = 0.1 * 2, v = 0.001 * 4; w -= lr * sqrt(1-b2)/(1-b1) * m / (sqrt(v) + eps)
    alpha = 0.1 * math.sqrt(1 - 0.999) / (1 - 0.9)
    expected = before[4] - alpha * 0.2 / (math.sqrt(0.004) + 1e-7)
    torch.testing.assert_close(embedding.weight[4].detach(), expected, rtol=1e-5, atol=1e-6)


def test_lazy_adam_equals_adam_on_dense_gradients():
    initial, grads = problem(seed=3)
    lazy = [torch.nn.Parameter(w.clone()) for w in initial]
    dense = [torch.nn.Parameter(w.clone()) for w in initial]
    a, b = optimizers.LazyAdam(lazy, learning_rate=0.05), optimizers.Adam(dense, learning_rate=0.05)
    for step_grads in grads[:5]:
        a.apply_gradients(zip(step_grads, lazy))
        b.apply_gradients(zip(step_grads, dense))
    for x, y in zip(lazy, dense):
        torch.testing.assert_close(x, y)


def test_radam_takes_momentum_steps_until_the_variance_is_tractable():
    # S_t >= 5 first holds at t = 6 for beta_2 = 0.999: steps 1-5 are lr * m_hat.
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = optimizers.RAdam([w], learning_rate=0.1)
    for _ in range(5):
        opt.apply_gradients([(torch.ones(1, dtype=torch.float64), w)])
    torch.testing.assert_close(w.detach(), torch.tensor([-0.5], dtype=torch.float64))  # m_hat = 1 each step


def test_lookahead_pulls_fast_weights_back_every_sync_period():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.Lookahead(optimizers.SGD(learning_rate=1.0), sync_period=3, slow_step_size=0.5)
    seen = []
    for _ in range(6):
        opt.apply_gradients([(torch.tensor([-1.0]), w)])
        seen.append(w.item())
    # fast: 1, 2, 3 -> sync: 0 + 0.5 * (3 - 0) = 1.5; then 2.5, 3.5, 4.5 -> 1.5 + 0.5 * 3 = 3.0
    assert seen == [1.0, 2.0, 1.5, 2.5, 3.5, 3.0]


def test_lookahead_wraps_a_torch_optimizer():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = optimizers.Lookahead(torch.optim.SGD([w], lr=1.0), sync_period=2, slow_step_size=0.5)
    for _ in range(2):
        w.grad = torch.full((2,), -1.0)
        opt.step()
    assert w.tolist() == [1.0, 1.0]


def test_ranger_is_lookahead_over_radam():
    initial, grads = problem(seed=8)
    a = [torch.nn.Parameter(w.clone()) for w in initial]
    b = [torch.nn.Parameter(w.clone()) for w in initial]
    ranger = optimizers.Ranger(a, learning_rate=0.05)
    manual = optimizers.Lookahead(optimizers.RAdam(b, learning_rate=0.05), sync_period=6, slow_step_size=0.5)
    for step_grads in grads[:13]:
        ranger.apply_gradients(zip(step_grads, a))
        manual.apply_gradients(zip(step_grads, b))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    assert isinstance(danlu.optimizers.get("ranger"), optimizers.Ranger)


def test_mixed_dtypes_and_groups_update_in_their_own_buckets():
    w32 = torch.nn.Parameter(torch.ones(3))
    w64 = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = optimizers.Adam([w32, w64], learning_rate=0.1)
    w32.grad, w64.grad = torch.ones(3), torch.ones(3, dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(w32.detach(), torch.full((3,), 0.9), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w64.detach(), torch.full((3,), 0.9, dtype=torch.float64), rtol=1e-6, atol=1e-6)
