"""Every danlu optimizer and option against Keras 3.15.1 (torch backend): the same initial
variables and gradient sequence give the same variable trajectories (rtol 1e-5) and the
same optimizer variables, in the same order."""

import numpy as np
import pytest
import torch

import danlu
from tests.oracle import keras

pytestmark = pytest.mark.oracle

RTOL, ATOL = 1e-5, 1e-6
SHAPES = [(3, 4), (5,), (2, 3, 4)]
STEPS = 12

# (class name, kwargs) — each runs on the same random variables and gradients in both libraries.
CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"centered": True, "momentum": 0.3, "rho": 0.8}),
    ("Adagrad", {}),
    ("Adagrad", {"initial_accumulator_value": 0.5, "epsilon": 1e-5}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"rho": 0.9}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "beta_1": 0.8, "beta_2": 0.99}),
    ("AdamW", {}),
    ("AdamW", {"weight_decay": 0.1, "amsgrad": True}),
    ("Adamax", {}),
    ("Nadam", {}),
    ("Nadam", {"beta_1": 0.8, "epsilon": 1e-4}),
    ("Lion", {}),
    ("Lion", {"beta_1": 0.5, "beta_2": 0.9}),
    ("Ftrl", {}),
    ("Ftrl", {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
              "l2_shrinkage_regularization_strength": 0.01, "beta": 0.1, "learning_rate_power": -0.7}),
    ("Adafactor", {}),
    ("Adafactor", {"relative_step": False, "clip_threshold": 0.5}),
    ("Lamb", {}),
    # The common options, on a few rules.
    ("Adam", {"weight_decay": 0.05}),
    ("SGD", {"momentum": 0.9, "clipnorm": 0.5}),
    ("Adam", {"clipvalue": 0.1}),
    ("RMSprop", {"global_clipnorm": 0.7}),
    ("Adam", {"use_ema": True}),
    ("SGD", {"use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 3}),
    ("Adam", {"gradient_accumulation_steps": 3}),
    ("SGD", {"momentum": 0.5, "gradient_accumulation_steps": 2, "use_ema": True}),
    ("Adam", {"loss_scale_factor": 128.0}),
    ("Nadam", {"weight_decay": 0.01, "clipnorm": 1.0}),
]


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def make_problem(seed, shapes=SHAPES, steps=STEPS, scale=1.0):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[(scale * rng.standard_normal(s)).astype(np.float32) for s in shapes] for _ in range(steps)]
    return initial, grads


def run_keras(name, kwargs, initial, grads, schedule=None):
    k = keras()
    kwargs = dict(kwargs)
    if schedule is not None:
        kwargs["learning_rate"] = schedule(k.optimizers)
    opt = getattr(k.optimizers, name)(**kwargs)
    variables = [k.Variable(v.copy(), name=f"v{i}") for i, v in enumerate(initial)]
    trajectory = []
    for step_grads in grads:
        opt.apply_gradients(zip([torch.tensor(g) for g in step_grads], variables))
        trajectory.append([np.array(v.numpy()) for v in variables])
    return opt, trajectory


def run_danlu(name, kwargs, initial, grads, schedule=None):
    kwargs = dict(kwargs)
    if schedule is not None:
        kwargs["learning_rate"] = schedule(danlu.optimizers)
    opt = getattr(danlu.optimizers, name)(**kwargs)
    variables = [torch.nn.Parameter(torch.tensor(v)) for v in initial]
    trajectory = []
    for step_grads in grads:
        opt.apply_gradients(zip([torch.tensor(g) for g in step_grads], variables))
        trajectory.append([v.detach().numpy().copy() for v in variables])
    return opt, trajectory


def assert_same_trajectory(ours, theirs):
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL, err_msg=f"step {step + 1}, variable {i}")


def assert_same_variables(ours, theirs):
    ours_values = [np.asarray(v.detach().cpu().numpy()) for v in ours.variables]
    theirs_values = [np.asarray(v.numpy()) for v in theirs.variables]
    assert [x.shape for x in ours_values] == [y.shape for y in theirs_values]
    for i, (x, y) in enumerate(zip(ours_values, theirs_values)):
        np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL, err_msg=f"optimizer variable {i}")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_and_variables_match_keras(case):
    name, kwargs = case
    initial, grads = make_problem(seed=len(case_id(case)))
    kwargs = {"learning_rate": 0.05, **kwargs} if name not in ("Adadelta",) or "learning_rate" not in kwargs else kwargs
    ours_opt, ours = run_danlu(name, kwargs, initial, grads)
    theirs_opt, theirs = run_keras(name, kwargs, initial, grads)
    assert_same_trajectory(ours, theirs)
    assert_same_variables(ours_opt, theirs_opt)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_default_hyperparameters_match_keras(name):
    initial, grads = make_problem(seed=11)
    _, ours = run_danlu(name, {}, initial, grads)
    _, theirs = run_keras(name, {}, initial, grads)
    assert_same_trajectory(ours, theirs)


SCHEDULED = [
    lambda m: m.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5),
    lambda m: m.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5, staircase=True),
    lambda m: m.schedules.PiecewiseConstantDecay([2, 5], [0.1, 0.05, 0.01]),
    lambda m: m.schedules.PolynomialDecay(0.1, 8, end_learning_rate=0.01, power=2.0),
    lambda m: m.schedules.InverseTimeDecay(0.1, 2, 0.5),
    lambda m: m.schedules.CosineDecay(0.1, 10, alpha=0.1),
    lambda m: m.schedules.CosineDecay(0.0, 6, warmup_target=0.1, warmup_steps=4),
    lambda m: m.schedules.CosineDecayRestarts(0.1, 3, t_mul=2.0, m_mul=0.5, alpha=0.05),
]


@pytest.mark.parametrize("index", range(len(SCHEDULED)))
def test_scheduled_learning_rate_trajectories_match_keras(index):
    schedule = SCHEDULED[index]
    initial, grads = make_problem(seed=20 + index)
    for name, kwargs in [("SGD", {"momentum": 0.9}), ("Adam", {"weight_decay": 0.1})]:
        _, ours = run_danlu(name, kwargs, initial, grads, schedule)
        _, theirs = run_keras(name, kwargs, initial, grads, schedule)
        assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize("index", range(len(SCHEDULED)))
def test_schedule_values_match_keras(index):
    ours, theirs = SCHEDULED[index](danlu.optimizers), SCHEDULED[index](keras().optimizers)
    for step in [0, 1, 2, 3, 4, 5, 7, 10, 11, 25, 100]:
        np.testing.assert_allclose(ours(step), float(theirs(step)), rtol=1e-6, atol=1e-9, err_msg=f"step {step}")


def test_schedule_configs_match_keras():
    for make in SCHEDULED:
        ours, theirs = make(danlu.optimizers), make(keras().optimizers)
        assert ours.get_config() == theirs.get_config()


def test_muon_matches_keras():
    initial, grads = make_problem(seed=5, shapes=[(6, 4), (3, 5), (4,)], scale=0.5)
    for kwargs in ({}, {"nesterov": False, "rms_rate": None, "adam_lr_ratio": 0.5}):
        ours_opt, ours = run_danlu("Muon", {"learning_rate": 0.02, **kwargs}, initial, grads)
        theirs_opt, theirs = run_keras("Muon", {"learning_rate": 0.02, **kwargs}, initial, grads)
        assert_same_trajectory(ours, theirs)
        assert_same_variables(ours_opt, theirs_opt)


def test_large_steps_and_zero_gradients_match_keras():
    initial, grads = make_problem(seed=9, scale=1e3)
    grads[3] = [np.zeros_like(g) for g in grads[3]]
    for name in ("Adam", "RMSprop", "Adagrad", "Nadam", "Adamax", "Lamb"):
        _, ours = run_danlu(name, {"learning_rate": 0.5}, initial, grads)
        _, theirs = run_keras(name, {"learning_rate": 0.5}, initial, grads)
        assert_same_trajectory(ours, theirs)


def test_loss_scale_optimizer_matches_keras_including_skipped_steps():
    initial, grads = make_problem(seed=13, steps=8)
    grads[2][1][0] = np.inf
    grads[5][0][0, 0] = np.nan
    k = keras()
    theirs_opt = k.optimizers.LossScaleOptimizer(k.optimizers.Adam(learning_rate=0.05), dynamic_growth_steps=2)
    ours_opt = danlu.optimizers.LossScaleOptimizer(danlu.optimizers.Adam(learning_rate=0.05), dynamic_growth_steps=2)
    theirs_vars = [k.Variable(v.copy()) for v in initial]
    ours_vars = [torch.nn.Parameter(torch.tensor(v)) for v in initial]
    for step_grads in grads:
        theirs_opt.apply_gradients(zip([torch.tensor(g) for g in step_grads], theirs_vars))
        ours_opt.apply_gradients(zip([torch.tensor(g) for g in step_grads], ours_vars))
        for x, y in zip(ours_vars, theirs_vars):
            np.testing.assert_allclose(x.detach().numpy(), y.numpy(), rtol=RTOL, atol=ATOL)
        assert ours_opt.dynamic_scale == float(theirs_opt.dynamic_scale.numpy())
        assert int(ours_opt.iterations) == int(theirs_opt.iterations.numpy())
    assert_same_variables(ours_opt, theirs_opt)


def test_optimizer_configs_match_keras_keys_and_values():
    for name in ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam", "Lion", "Ftrl", "Adafactor", "Lamb"]:
        ours = getattr(danlu.optimizers, name)().get_config()
        theirs = getattr(keras().optimizers, name)().get_config()
        theirs["name"] = ours["name"]  # Keras numbers its auto-generated names
        assert ours == pytest.approx(theirs), name
