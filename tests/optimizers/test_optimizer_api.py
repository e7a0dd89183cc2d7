"""The optimizer base: Keras API, PyTorch API, persistence, EMA, accumulation and bad input."""

import copy
import warnings

import numpy as np
import pytest
import torch

from danlu import optimizers
from danlu.optimizers import schedules


def quadratic_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def batches(n=20, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 4, generator=generator), torch.randn(16, 1, generator=generator)) for _ in range(n)]


def train_torch_style(model, opt, data):
    for x, y in data:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


# --- Keras style ------------------------------------------------------------------------------


def test_minimize_x_squared_with_apply_gradients_and_minimize():
    # f(x) = x^2 - 2x + 1 has its minimum at x = 1.
    x = torch.tensor(0.0, requires_grad=True)
    opt = optimizers.SGD(learning_rate=0.1)
    for _ in range(100):
        loss = x**2 - 2 * x + 1
        (grad,) = torch.autograd.grad(loss, [x])
        opt.apply_gradients([(grad, x)])
    assert abs(x.item() - 1.0) < 1e-6
    assert int(opt.iterations) == 100

    y = torch.tensor(0.0, requires_grad=True)
    opt = optimizers.SGD(learning_rate=0.1)
    for _ in range(100):
        opt.minimize(lambda: y**2 - 2 * y + 1, [y])
    assert abs(y.item() - 1.0) < 1e-6
    opt.minimize(y**2 - 2 * y + 1, [y])  # a tensor loss works too
    assert int(opt.iterations) == 101


def test_lazy_binding_and_unknown_variables():
    opt = optimizers.Adam()
    assert not opt.built and opt.param_groups == []
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    opt.apply_gradients([(torch.ones(2), a)])
    assert opt.built
    with pytest.raises(ValueError, match="Unknown variable at position 0"):
        opt.apply_gradients([(torch.ones(3), b)])


def test_none_gradients_are_skipped_with_a_warning():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = optimizers.SGD([a, b], learning_rate=0.5)
    with pytest.warns(UserWarning, match="positions \\[1\\]"):
        opt.apply_gradients([(torch.ones(2), a), (None, b)])
    assert a.tolist() == [0.5, 0.5] and b.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, a), (None, b)])


def test_learning_rate_is_readable_and_assignable():
    opt = optimizers.Adam(learning_rate=0.01)
    assert float(opt.learning_rate) == pytest.approx(0.01)
    opt.learning_rate = 0.5
    assert float(opt.learning_rate) == 0.5
    w = torch.nn.Parameter(torch.zeros(1))
    opt.build([w])
    assert opt.param_groups[0]["lr"] == 0.5
    opt.learning_rate = schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    assert float(opt.learning_rate) == 1.0
    opt.apply_gradients([(torch.ones(1), w)])
    assert float(opt.learning_rate) == 0.5
    assert optimizers.SGD(0.3).get_config()["learning_rate"] == pytest.approx(0.3)  # Keras: Adam(0.01)


def test_legacy_lr_and_inverse_time_decay():
    with pytest.warns(DeprecationWarning, match="`lr` is deprecated"):
        opt = optimizers.SGD(lr=0.2)
    assert float(opt.learning_rate) == pytest.approx(0.2)
    w = torch.nn.Parameter(torch.zeros(1))
    with pytest.warns(DeprecationWarning, match="`decay` is deprecated"):
        opt = optimizers.SGD([w], learning_rate=1.0, decay=0.5)
    for expected in (1.0, 1 / 1.5, 1 / 2.0):  # lr / (1 + decay * iterations)
        before = w.item()
        opt.apply_gradients([(torch.ones(1), w)])
        assert before - w.item() == pytest.approx(expected)


def test_get_and_set_weights_round_trip():
    model = quadratic_model()
    opt = optimizers.Adam(learning_rate=0.01)
    data = batches()
    for x, y in data[:5]:
        loss = torch.nn.functional.mse_loss(model(x), y)
        grads = torch.autograd.grad(loss, list(model.parameters()))
        opt.apply_gradients(zip(grads, model.parameters()))
    weights = opt.get_weights()
    assert int(weights[0]) == 5 and len(weights) == 1 + 2 * 4
    assert all(isinstance(w, np.ndarray) for w in weights)
    other = optimizers.Adam(learning_rate=0.01)
    other.build(model.parameters())
    other.set_weights(weights)
    assert int(other.iterations) == 5
    for a, b in zip(other.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_set_weights_rejects_wrong_count_or_shape_without_changing_anything():
    w = torch.nn.Parameter(torch.ones(3))
    opt = optimizers.Adam([w])
    opt.apply_gradients([(torch.ones(3), w)])
    before = opt.get_weights()
    with pytest.raises(ValueError, match="expected 3 arrays"):
        opt.set_weights(before[:2])
    bad = [before[0], before[1], np.zeros(4)]
    with pytest.raises(ValueError, match="weights\\[2\\] has shape \\(4,\\)"):
        opt.set_weights([np.asarray(99), before[1] + 1, np.zeros(4)])
    for a, b in zip(opt.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="needs a bound optimizer"):
        optimizers.Adam().set_weights(bad)


def test_variables_follow_keras_order():
    w1, w2 = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    opt = optimizers.Adam([w1, w2], amsgrad=True, use_ema=True)
    shapes = [tuple(v.shape) for v in opt.variables]
    # iterations, learning_rate, EMA x2, (m, v) interleaved per variable, then v_hat x2
    assert shapes == [(), (), (2,), (3,), (2,), (2,), (3,), (3,), (2,), (3,)]


# --- PyTorch style ----------------------------------------------------------------------------


def test_pytorch_style_training_reduces_the_loss():
    model = quadratic_model()
    opt = optimizers.Adam(model.parameters(), learning_rate=0.01)
    data = batches(50)
    first = torch.nn.functional.mse_loss(model(data[0][0]), data[0][1]).item()
    for _ in range(5):
        train_torch_style(model, opt, data)
    assert torch.nn.functional.mse_loss(model(data[0][0]), data[0][1]).item() < first


def test_step_with_closure_returns_the_loss():
    w = torch.nn.Parameter(torch.tensor([3.0]))
    opt = optimizers.SGD([w], learning_rate=0.1)

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    assert w.item() == pytest.approx(3.0 - 0.1 * 6.0)


def test_param_groups_have_their_own_hyperparameters():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD([{"params": [a]}, {"params": [b], "lr": 1.0, "momentum": 0.5}], learning_rate=0.1)
    for _ in range(2):
        a.grad, b.grad = torch.ones(1), torch.ones(1)
        opt.step()
    assert a.item() == pytest.approx(-0.2)
    assert b.item() == pytest.approx(-1.0 - 1.5)  # velocity -1, then -0.5 - 1 = -1.5


@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop", "Nadam", "Ftrl", "Adafactor", "RAdam", "Lion", "Muon"])
def test_state_dict_round_trip_resumes_the_exact_trajectory(name):
    data = batches(12)
    model = quadratic_model()
    opt = getattr(optimizers, name)(model.parameters(), learning_rate=0.01)
    train_torch_style(model, opt, data[:6])
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train_torch_style(model, opt, data[6:])

    resumed = quadratic_model()
    resumed.load_state_dict(saved_model)
    resumed_opt = getattr(optimizers, name)(resumed.parameters(), learning_rate=0.01)
    resumed_opt.load_state_dict(saved_opt)
    assert int(resumed_opt.iterations) == 6
    train_torch_style(resumed, resumed_opt, data[6:])
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_torch_lr_scheduler_drives_a_float_learning_rate():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD([w], learning_rate=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    deltas = []
    for _ in range(3):
        before = w.item()
        w.grad = torch.ones(1)
        opt.step()
        scheduler.step()
        deltas.append(before - w.item())
    assert deltas == [1.0, 0.5, 0.25]
    assert float(opt.learning_rate) == 0.125


def test_grad_scaler_step_skips_inf_gradients():
    w = torch.nn.Parameter(torch.ones(2))
    opt = optimizers.Adam([w], learning_rate=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    (scaler.scale(w.sum())).backward()
    scaler.step(opt)
    scaler.update()
    assert int(opt.iterations) == 1
    opt.zero_grad()
    w.grad = torch.tensor([float("inf"), 1.0])
    scaler.step(opt)
    scaler.update()
    assert int(opt.iterations) == 1  # skipped


def test_named_parameters_and_weight_decay_exclusions():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(1.0)
    opt = optimizers.AdamW(model.named_parameters(), learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert model.weight[0, 0].item() == pytest.approx(1 - 0.5 * 0.1)
    assert model.bias[0].item() == 1.0


# --- EMA, accumulation, clipping, loss scaling ---------------------------------------------------


def test_ema_finalize_and_swap():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD([w], learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    for _ in range(3):
        opt.apply_gradients([(torch.tensor([-1.0]), w)])
    # weights 1, 2, 3; EMA: 1 (first step copies), 0.5*1 + 0.5*2 = 1.5, 0.5*1.5 + 0.5*3 = 2.25
    assert w.item() == 3.0
    opt.swap_ema_weights()
    assert w.item() == 2.25
    opt.swap_ema_weights()
    assert w.item() == 3.0
    opt.finalize_variable_values([w])
    assert w.item() == 2.25


def test_gradient_accumulation_applies_the_mean_every_n_calls():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD([w], learning_rate=1.0, gradient_accumulation_steps=2)
    opt.apply_gradients([(torch.tensor([1.0]), w)])
    assert w.item() == 0.0 and int(opt.iterations) == 0
    opt.apply_gradients([(torch.tensor([3.0]), w)])
    assert w.item() == -2.0 and int(opt.iterations) == 1


def test_clipping_rules():
    grad = torch.tensor([3.0, 4.0])
    for kwargs, expected in [
        ({"clipnorm": 1.0}, [-0.6, -0.8]),
        ({"clipvalue": 0.5}, [-0.5, -0.5]),
        ({"global_clipnorm": 2.5}, [-1.5, -2.0]),
        ({"clipnorm": 10.0}, [-3.0, -4.0]),
    ]:
        w = torch.nn.Parameter(torch.zeros(2))
        optimizers.SGD([w], learning_rate=1.0, **kwargs).apply_gradients([(grad, w)])
        assert w.tolist() == pytest.approx(expected)


def test_loss_scale_factor_scales_the_loss_and_unscales_gradients():
    w = torch.nn.Parameter(torch.tensor([2.0]))
    opt = optimizers.SGD([w], learning_rate=0.1, loss_scale_factor=1024.0)
    assert opt.scale_loss(torch.tensor(1.0)).item() == 1024.0
    opt.minimize(lambda: (w**2).sum(), [w])
    assert w.item() == pytest.approx(2.0 - 0.1 * 4.0)


def test_loss_scale_optimizer_skips_non_finite_steps_entirely():
    w = torch.nn.Parameter(torch.ones(1))
    inner = optimizers.SGD(learning_rate=schedules.ExponentialDecay(1.0, 1, 0.5), use_ema=True)
    opt = optimizers.LossScaleOptimizer(inner, initial_scale=8.0, dynamic_growth_steps=2)
    opt.apply_gradients([(torch.tensor([8.0]), w)])  # unscaled gradient 1, lr 1
    assert w.item() == 0.0 and int(opt.iterations) == 1 and opt.dynamic_scale == 8.0
    opt.apply_gradients([(torch.tensor([float("nan")]), w)])
    assert w.item() == 0.0 and int(opt.iterations) == 1 and opt.dynamic_scale == 4.0
    assert float(inner.learning_rate) == 0.5  # the schedule did not advance
    opt.apply_gradients([(torch.tensor([4.0]), w)])
    opt.apply_gradients([(torch.tensor([4.0]), w)])
    assert opt.dynamic_scale == 8.0  # doubled after 2 finite steps
    assert opt.scale_loss(torch.tensor(1.0)).item() == 8.0


def test_loss_scale_optimizer_pytorch_style():
    w = torch.nn.Parameter(torch.ones(1))
    opt = optimizers.LossScaleOptimizer(optimizers.SGD([w], learning_rate=1.0), initial_scale=4.0)
    opt.scale_loss(w.sum()).backward()
    opt.step()
    assert w.item() == 0.0
    opt.zero_grad()
    w.grad = torch.tensor([float("inf")])
    opt.step()
    assert w.item() == 0.0 and opt.dynamic_scale == 2.0


# --- Identifiers and configs --------------------------------------------------------------------


def test_get_resolves_keras_names_and_shorthands():
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    sgdm = optimizers.get("sgdm")
    assert sgdm.momentum == 0.9 and not sgdm.nesterov
    nag = optimizers.get("nag")
    assert nag.momentum == 0.9 and nag.nesterov
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match='Unknown optimizer identifier \'adamm\'. Did you mean "adam"'):
        optimizers.get("adamm")


@pytest.mark.parametrize("name", [n for n in optimizers.__all__ if n[0].isupper() and n not in ("Optimizer", "OptimizerWrapper", "TorchOptimizer", "IDENTIFIERS", "Lookahead", "LossScaleOptimizer")])
def test_config_round_trip(name):
    cls = getattr(optimizers, name)
    opt = cls(learning_rate=schedules.CosineDecay(0.1, 100))
    restored = optimizers.deserialize(optimizers.serialize(opt))
    assert type(restored) is cls
    assert restored.get_config() == opt.get_config()


def test_wrapper_configs_round_trip():
    for opt in (optimizers.Lookahead(optimizers.Adam(0.01), sync_period=4), optimizers.LossScaleOptimizer(optimizers.SGD())):
        restored = optimizers.deserialize(optimizers.serialize(opt))
        assert restored.get_config() == opt.get_config()


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: optimizers.Adam(learning_rate=-0.1), "learning_rate must be in \\[0, inf\\]; received learning_rate=-0.1"),
        (lambda: optimizers.Adam(learning_rate=float("nan")), "learning_rate must be a finite number"),
        (lambda: optimizers.Adam(learning_rate=float("inf")), "learning_rate must be a finite number"),
        (lambda: optimizers.Adam(beta_1=1.0), "beta_1 must be in \\[0, 1\\)"),
        (lambda: optimizers.Adam(beta_2=-0.1), "beta_2 must be in"),
        (lambda: optimizers.RMSprop(rho=1.5), "rho must be in \\[0, 1\\]"),
        (lambda: optimizers.SGD(momentum=-0.5), "momentum must be in \\[0, 1\\]"),
        (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), "Only one of clipnorm, clipvalue and global_clipnorm"),
        (lambda: optimizers.SGD(gradient_accumulation_steps=0), "gradient_accumulation_steps must be a positive int"),
        (lambda: optimizers.SGD(gradient_accumulation_steps=-2), "gradient_accumulation_steps must be a positive int"),
        (lambda: optimizers.SGD(ema_momentum=2.0, use_ema=True), "ema_momentum must be in \\[0, 1\\]"),
        (lambda: optimizers.AdamW(weight_decay=None), "AdamW needs a float weight_decay"),
        (lambda: optimizers.Lookahead(optimizers.SGD(), sync_period=0), "sync_period must be an int >= 1"),
        (lambda: optimizers.SGD(learning_rat=0.1), "unexpected argument\\(s\\): learning_rat"),
    ],
)
def test_invalid_hyperparameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_rejected_apply_gradients_changes_nothing():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    opt = optimizers.Adam([a, b], learning_rate=0.1)
    opt.apply_gradients([(torch.ones(2), a), (torch.ones(3), b)])
    weights, before = opt.get_weights(), (a.detach().clone(), b.detach().clone())
    with pytest.raises(ValueError, match="gradient 1 has shape \\(2,\\) but its variable has shape \\(3,\\)"):
        opt.apply_gradients([(torch.ones(2), a), (torch.ones(2), b)])
    with pytest.raises(ValueError, match="empty list"):
        opt.apply_gradients([])
    with pytest.raises(TypeError, match="pairs"):
        opt.apply_gradients([torch.ones(2)])
    assert torch.equal(a, before[0]) and torch.equal(b, before[1])
    for x, y in zip(opt.get_weights(), weights):
        np.testing.assert_array_equal(x, y)


def test_learning_rate_assignment_is_validated():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="learning_rate must be in"):
        opt.learning_rate = -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.learning_rate = 0.2
