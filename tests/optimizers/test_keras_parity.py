"""Keras-parity details of optimizers and schedules (issue: second parity pass)."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

from danlu import optimizers
from danlu.optimizers import schedules
from tests.oracle import keras


def bound(factory=optimizers.Adam, **kwargs):
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    return w, factory([w], **kwargs)


def test_learning_rate_and_iterations_behave_as_keras_variables():
    w, opt = bound(learning_rate=0.1)
    lr = opt.learning_rate
    assert float(lr) == pytest.approx(0.1) and float(lr * 2) == pytest.approx(0.2)
    assert lr.numpy() == np.float32(0.1) and lr.value is lr
    lr.assign(0.05)
    assert float(opt.learning_rate) == pytest.approx(0.05) and opt.param_groups[0]["lr"] == pytest.approx(0.05)
    opt.lr.assign(0.01)  # tf.keras 2
    assert float(opt.learning_rate) == pytest.approx(0.01)
    opt.learning_rate.assign_add(0.01)
    assert float(opt.learning_rate) == pytest.approx(0.02)
    opt.apply_gradients([(torch.ones(2), w)])
    assert int(opt.iterations) == 1 and opt.iterations.numpy() == 1
    opt.iterations.assign(7)
    assert int(opt.iterations) == 7
    with pytest.raises(ValueError, match="learning_rate must be in"):
        opt.learning_rate.assign(-1.0)


def test_schedules_take_keras_variables_and_arrays_of_steps():
    adam = optimizers.Adam(learning_rate=0.5)
    decay = schedules.PolynomialDecay(adam.learning_rate, 4)
    assert decay(0) == pytest.approx(0.5)
    rates = decay(np.arange(3))
    assert isinstance(rates, np.ndarray) and rates.shape == (3,)
    np.testing.assert_allclose(rates, [decay(0), decay(1), decay(2)], rtol=1e-6)
    as_tensor = schedules.ExponentialDecay(0.1, 10, 0.5)(torch.arange(4))
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.shape == (4,)


@pytest.mark.oracle
def test_schedules_on_arrays_equal_keras():
    k = keras()
    steps = np.arange(0, 50, 7)
    ours = schedules.CosineDecay(0.1, 30, alpha=0.1, warmup_target=0.2, warmup_steps=5)(steps)
    keras_schedule = k.optimizers.schedules.CosineDecay(0.1, 30, alpha=0.1, warmup_target=0.2, warmup_steps=5)
    theirs = [float(keras_schedule(int(s))) for s in steps]  # its warmup branch takes one step at a time
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    exponential = k.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)(steps)  # Keras takes arrays here
    np.testing.assert_allclose(schedules.ExponentialDecay(0.1, 10, 0.5)(steps), exponential.detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: bound(optimizers.Adam, learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))[1],
    lambda: bound(optimizers.SGD, learning_rate=0.1, momentum=0.9, clipnorm=1.0)[1],
    lambda: optimizers.Lookahead(bound(optimizers.RMSprop)[1], sync_period=3),
    lambda: optimizers.LossScaleOptimizer(bound(optimizers.Adam)[1]),
])
def test_optimizers_survive_pickle_and_deepcopy(make):
    opt = make()
    (opt._params()[0] ** 2).sum().backward()
    opt.step()
    for copied in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert type(copied) is type(opt) and copied.get_config() == opt.get_config()
        assert int(copied.iterations) == int(opt.iterations)
        param = copied._params()[0]
        param.grad = torch.ones_like(param)
        copied.step()  # the copy keeps working on its own parameters


def test_names_get_and_build_as_keras():
    first, second = optimizers.Adam(), optimizers.Adam()
    assert second.name == first.name + "_1" or second.name.startswith("adam_")
    assert optimizers.Adam(name="mine").name == optimizers.Adam(name="mine").name == "mine"
    assert optimizers.get(None) is None
    empty = optimizers.SGD()
    empty.build([])
    assert empty.built


def test_tf_keras_2_arguments_and_their_conflicts():
    w, opt = bound(optimizers.SGD, learning_rate=0.1)
    opt.apply_gradients([(torch.ones(2), w)], name="step", experimental_aggregate_gradients=True)
    with pytest.raises(ValueError, match="both learning_rate=0.2 and its tf.keras 2.x spelling lr=0.1"):
        optimizers.SGD(lr=0.1, learning_rate=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert float(optimizers.SGD(lr=0.3).learning_rate) == pytest.approx(0.3)


def test_fixed_loss_scale_of_tf_keras_2():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.LossScaleOptimizer(optimizers.SGD([w], learning_rate=1.0), dynamic=False, initial_scale=8.0)
    opt.apply([torch.tensor([8.0])])
    assert opt.dynamic_scale == 8.0 and w.item() == pytest.approx(-1.0)
    restored = optimizers.deserialize(optimizers.serialize(opt))
    assert restored.dynamic is False and restored.initial_scale == 8.0
    assert "dynamic" not in optimizers.LossScaleOptimizer(optimizers.SGD()).get_config()  # Keras 3's keys


def test_weight_decay_exclusion_by_keras_names_of_danlu_weights():
    import danlu

    dense = danlu.layers.Dense(2, input_shape=(3,))
    opt = optimizers.AdamW(dense.parameters(), learning_rate=0.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    with torch.no_grad():
        dense.bias.fill_(1.0)
    before = dense.weight.detach().clone()
    for p in dense.parameters():
        p.grad = torch.zeros_like(p)
    opt.learning_rate = 0.1
    opt.step()
    assert torch.equal(dense.bias, torch.ones(2))  # excluded by its Keras name
    torch.testing.assert_close(dense.weight, before * (1 - 0.5 * 0.1))


def test_a_fixed_rate_set_over_a_schedule_survives_state_dict():
    w, opt = bound(optimizers.Adam, learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))
    opt.learning_rate = 0.003  # what ReduceLROnPlateau / LearningRateScheduler do
    state = copy.deepcopy(opt.state_dict())
    w2, fresh = bound(optimizers.Adam, learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5))
    fresh.load_state_dict(state)
    assert float(fresh.learning_rate) == pytest.approx(0.003)
    fresh.apply([torch.ones(2)])
    assert float(fresh.learning_rate) == pytest.approx(0.003)
