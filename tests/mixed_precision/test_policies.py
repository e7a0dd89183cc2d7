"""Dtype policies: names, per-layer policies, autocast under mixed policies (seen through forward
hooks), float32 losses and metrics, and loss scaling for mixed_float16."""

import numpy as np
import pytest
import torch

import danlu
from danlu import layers, losses, mixed_precision, optimizers
from tests.oracle import keras as keras_oracle


@pytest.fixture(autouse=True)
def float32_afterwards():
    yield
    mixed_precision.set_global_policy("float32")


def record_dtypes(model):
    """Forward hooks recording, per layer, (input dtype, output dtype, weight dtypes)."""
    seen = {}

    def hook(module, args, output):
        seen[module.name] = (args[0].dtype, output.dtype, {p.dtype for p in module.parameters(recurse=False)})

    for layer in model.layers:
        layer.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("name, compute, variable", [
    ("mixed_bfloat16", "bfloat16", "float32"), ("mixed_float16", "float16", "float32"), ("float32", "float32", "float32"),
    ("bfloat16", "bfloat16", "bfloat16"), ("float16", "float16", "float16"), ("float64", "float64", "float64"),
])
def test_policy_names_give_compute_and_variable_dtypes(name, compute, variable):
    policy = mixed_precision.Policy(name)
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == (name, compute, variable)
    assert policy.is_mixed == name.startswith("mixed_")
    mixed_precision.set_global_policy(name)
    assert mixed_precision.global_policy() == policy


def test_unknown_policy_names_are_rejected_with_the_closest_one():
    with pytest.raises(ValueError, match='mixed_bfloat16'):
        mixed_precision.set_global_policy("mixed_bfloat")
    with pytest.raises(ValueError, match="Unknown dtype policy 'banana'"):
        layers.Dense(3, dtype="banana")
    with pytest.raises(ValueError, match="Unknown dtype policy"):
        mixed_precision.Policy("int32")  # a policy computes in a floating dtype
    assert mixed_precision.global_policy().name == "float32"  # nothing changed


def test_mixed_bfloat16_computes_in_bfloat16_with_float32_variables():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])
    seen = record_dtypes(model)
    model(torch.randn(4, 5))
    for layer in model.layers:
        assert seen[layer.name] == (torch.bfloat16, torch.bfloat16, {torch.float32})


def test_a_float32_layer_inside_a_mixed_model_computes_in_float32():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = danlu.Sequential([layers.Dense(8), layers.Dense(3, dtype="float32")])
    seen = record_dtypes(model)
    model(torch.randn(4, 5))
    assert seen[model.layers[0].name][1] == torch.bfloat16
    assert seen[model.layers[1].name] == (torch.float32, torch.float32, {torch.float32})


def test_a_mixed_layer_in_a_float32_model_and_a_plain_bfloat16_layer():
    model = danlu.Sequential([layers.Dense(8, dtype="mixed_bfloat16"), layers.Dense(4), layers.Dense(3, dtype="bfloat16")])
    seen = record_dtypes(model)
    model(torch.randn(4, 5))
    first, second, third = (seen[layer.name] for layer in model.layers)
    assert first == (torch.bfloat16, torch.bfloat16, {torch.float32})
    assert second[1] == torch.float32  # bfloat16 inputs, float32 computation outside the mixed layer
    assert third == (torch.bfloat16, torch.bfloat16, {torch.bfloat16})


def test_fit_under_mixed_bfloat16_computes_the_loss_in_float32_and_trains_float32_weights():
    mixed_precision.set_global_policy("mixed_bfloat16")
    received = []

    def loss(y_true, y_pred):
        received.append(y_pred.dtype)
        return losses.mean_squared_error(y_true, y_pred)

    model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(0.1), loss=loss, metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert set(received) == {torch.float32}
    assert all(w.dtype == torch.float32 for w in model.weights)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert isinstance(history.history["mae"][0], float)
    assert model.predict(x[:3], verbose=0).dtype == np.float32


def test_mixed_float16_compile_wraps_the_optimizer_in_loss_scaling():
    mixed_precision.set_global_policy("mixed_float16")
    model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    sgd = optimizers.SGD(0.05)
    model.compile(optimizer=sgd, loss="mse")
    assert isinstance(model.optimizer, optimizers.LossScaleOptimizer) and model.optimizer.inner_optimizer is sgd
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    history = model.fit(x, x[:, :1], batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    applied = int(model.optimizer.iterations)  # each of the 8 steps applied or, on overflow, halved the scale
    assert 0 < applied <= 8 and model.optimizer.dynamic_scale == 2.0**15 / 2 ** (8 - applied)


def test_mixed_float16_overflowing_steps_are_skipped_and_do_not_count():
    mixed_precision.set_global_policy("mixed_float16")
    model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    scaled = optimizers.LossScaleOptimizer(optimizers.SGD(0.05), initial_scale=2.0**100)
    model.compile(optimizer=scaled, loss="mse")  # already scaling: not wrapped again
    assert model.optimizer is scaled
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    model.fit(x[:8], x[:8, :1], batch_size=8, epochs=1, verbose=0)  # builds; the first step overflows
    weights = [w.detach().clone() for w in model.weights]
    skipped_scale = scaled.dynamic_scale
    assert int(scaled.iterations) == 0 and skipped_scale == 2.0**99
    model.fit(x[:8], x[:8, :1], batch_size=8, epochs=1, verbose=0)
    assert int(scaled.iterations) == 0 and scaled.dynamic_scale == 2.0**98
    assert all(torch.equal(a, b) for a, b in zip(weights, model.weights))  # skipped steps change nothing
    for _ in range(120):  # the scale halves until float16 gradients are finite, then steps apply
        model.fit(x[:8], x[:8, :1], batch_size=8, epochs=1, verbose=0)
        if int(scaled.iterations):
            break
    assert int(scaled.iterations) == 1 and scaled.dynamic_scale < 2.0**40


def test_float16_layers_compute_in_float16_on_the_cpu():
    model = danlu.Sequential([layers.Dense(4, dtype="mixed_float16")])
    seen = record_dtypes(model)
    model(torch.randn(2, 3))
    assert seen[model.layers[0].name] == (torch.float16, torch.float16, {torch.float32})


def test_a_float32_fast_path_is_untouched_by_policies():
    model = danlu.Sequential([layers.Dense(4)])
    seen = record_dtypes(model)
    x = torch.randn(2, 3)
    model(x)
    assert seen[model.layers[0].name] == (torch.float32, torch.float32, {torch.float32})
    assert not torch.is_autocast_enabled("cpu")


@pytest.mark.oracle
def test_mixed_bfloat16_dense_matches_keras():
    keras = keras_oracle()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        theirs = keras.layers.Dense(5, activation="relu")
        x = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
        expected = theirs(x)
        kernel_dtype = theirs.kernel.dtype
    finally:
        keras.mixed_precision.set_global_policy("float32")
    mixed_precision.set_global_policy("mixed_bfloat16")
    ours = layers.Dense(5, activation="relu")
    ours(torch.as_tensor(x))
    ours.set_weights([w.numpy() for w in theirs.weights])
    got = ours(torch.as_tensor(x))
    assert str(got.dtype).removeprefix("torch.") == str(expected.dtype).removeprefix("torch.") == "bfloat16"
    assert kernel_dtype in ("float32", torch.float32) and ours.weight.dtype == torch.float32
    np.testing.assert_allclose(got.detach().float().numpy(), np.asarray(expected.detach().float().cpu()), rtol=1e-2, atol=1e-2)
