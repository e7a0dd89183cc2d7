"""`Layer.__call__`'s fast path (a built layer called on a plain tensor) keeps everything the
full path does: the training mode (``training=`` and the module's mode), masks in and out,
``add_loss`` terms per outermost call, activity penalties, dtype policies and symbolic calls."""

import pytest
import torch
import torch.nn.utils.parametrize
import torch.nn.utils.prune

import danlu
from danlu import layers
from danlu.layers import base


class Recorder(layers.Layer):
    """Records the ``training`` its call received; doubles its input."""

    def call(self, inputs, training=None):
        self.seen = training
        return inputs * 2.0


class Penalized(layers.Layer):
    def call(self, inputs):
        self.add_loss(inputs.sum())
        return inputs + 1.0


class Twice(layers.Layer):
    """Calls one sublayer twice in one call (a shared layer)."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs):
        return self.inner(self.inner(inputs))


@pytest.fixture
def forbid_full_path(monkeypatch):
    """Once called, the full path fails: a call that still works took the fast path."""

    def refuse(*args, **kwargs):
        raise AssertionError("the full call path ran")

    return lambda: monkeypatch.setattr(base.symbolic, "is_symbolic", refuse)


def built(layer, shape=(2, 3)):
    layer(torch.ones(shape))
    return layer


def test_a_built_layer_on_a_plain_tensor_takes_the_fast_path(forbid_full_path):
    dense = built(layers.Dense(4, activation="relu"))
    model = built(danlu.Sequential([layers.Dense(4), layers.Dense(1)]))
    forbid_full_path()
    x = torch.randn(2, 3)
    expected = torch.relu(x @ dense.kernel.detach() + dense.bias.detach())
    torch.testing.assert_close(dense(x), expected)
    assert model(x).shape == (2, 1)


def test_the_fast_path_passes_the_module_mode_as_training(forbid_full_path):
    layer = built(Recorder())
    parent = built(danlu.Sequential([Recorder()]))
    forbid_full_path()
    layer(torch.ones(2, 3))
    assert layer.seen is False  # layers are created in inference mode (Keras)
    layer.train()
    layer(torch.ones(2, 3))
    assert layer.seen is True
    parent.train()
    parent(torch.ones(2, 3))
    assert parent.layers[0].seen is True  # nested layers follow their parent's mode


def test_training_keyword_still_switches_the_mode_for_that_call_only():
    layer = built(Recorder())
    layer(torch.ones(2, 3), training=True)
    assert layer.seen is True and layer.training is False
    layer(torch.ones(2, 3))
    assert layer.seen is False
    dropout = built(layers.Dropout(0.5))
    x = torch.ones(1000)
    assert torch.equal(dropout(x), x)
    assert (dropout(x, training=True) == 0).any()
    assert torch.equal(dropout(x), x)


def test_masks_travel_through_layers_that_support_them():
    embedding = layers.Embedding(5, 3, mask_zero=True)
    activation = layers.Activation("relu")
    tokens = torch.tensor([[1, 2, 0, 0]])
    hidden = activation(embedding(tokens))  # both built on this first call
    hidden = activation(embedding(tokens))  # built: a masked input takes the full path
    assert torch.equal(hidden._keras_mask, torch.tensor([[True, True, False, False]]))
    plain = activation(torch.randn(1, 4, 3))  # no mask in, none out
    assert getattr(plain, "_keras_mask", None) is None


def test_a_mask_given_as_an_argument_is_used():
    class MaskSum(layers.Layer):
        def call(self, inputs, mask=None):
            return inputs.sum() if mask is None else (inputs * mask).sum()

    layer = built(MaskSum(), (1, 3))
    x = torch.ones(1, 3)
    assert layer(x).item() == 3.0
    assert layer(x, mask=torch.tensor([[1.0, 0.0, 0.0]])).item() == 1.0
    x._keras_mask = torch.tensor([[1.0, 1.0, 0.0]])
    assert layer(x).item() == 2.0


def test_add_loss_terms_are_cleared_per_outermost_call_only():
    layer = built(Penalized())
    for _ in range(3):
        layer(torch.ones(2))
    assert [t.item() for t in layer.losses] == [2.0]
    model = built(danlu.Sequential([Penalized(), Penalized()]), (2,))
    model(torch.ones(2))
    model(torch.ones(2))
    assert sorted(t.item() for t in model.losses) == [2.0, 4.0]
    shared = built(Twice(Penalized()), (2,))
    shared(torch.ones(2))
    shared(torch.ones(2))
    assert sorted(t.item() for t in shared.losses) == [2.0, 4.0]  # both calls of the shared layer count


def test_activity_penalties_are_per_call():
    dense = built(layers.Dense(2, kernel_initializer="ones", activity_regularizer="l1"))
    for _ in range(2):
        out = dense(torch.ones(4, 3))
    assert len(dense.losses) == 1
    torch.testing.assert_close(dense.losses[0], out.abs().sum() * 0.01 / 4)


def test_dtype_policies_and_half_inputs_keep_their_casts():
    mixed = built(layers.Dense(2, dtype="mixed_bfloat16"))
    assert mixed(torch.ones(2, 3)).dtype == torch.bfloat16
    plain = built(layers.Dense(2))
    assert plain(torch.ones(2, 3, dtype=torch.bfloat16)).dtype == torch.float32


def test_symbolic_calls_and_unbuilt_layers_take_the_full_path():
    inputs = danlu.Input((3,))
    dense = layers.Dense(2)
    outputs = dense(inputs)
    assert tuple(outputs.shape) == (None, 2)
    model = danlu.Model(inputs, outputs)
    assert model(torch.ones(5, 3)).shape == (5, 2)
    fresh = layers.Dense(4)
    assert not fresh.built
    assert fresh(torch.ones(2, 3)).shape == (2, 4) and fresh.built


# --- The fast path calls `forward` directly unless torch's dispatch is asked for -----------------


def test_hooks_registered_after_build_still_run_on_the_fast_path():
    dense = built(layers.Dense(3))
    seen = []
    dense.register_forward_pre_hook(lambda module, args: seen.append("pre"))
    dense.register_forward_hook(lambda module, args, output: output * 0.0)  # a hook may replace the output
    out = dense(torch.ones(2, 3))
    assert seen == ["pre"] and torch.equal(out, torch.zeros(2, 3))
    other = built(layers.Dense(2))
    handle = torch.nn.modules.module.register_module_forward_hook(lambda module, args, output: seen.append("global"))
    try:
        other(torch.ones(2, 3))
    finally:
        handle.remove()
    assert seen[-1] == "global"


def test_a_compiled_module_call_goes_through_torch():
    dense = built(layers.Dense(2))
    calls = []
    dense._compiled_call_impl = lambda *args, **kwargs: calls.append(args) or torch.zeros(1)  # what module.compile() sets
    assert torch.equal(dense(torch.ones(2, 3)), torch.zeros(1)) and len(calls) == 1


# --- Dense: the parameter table read directly, the identity activation skipped -----------------


def test_dense_outputs_are_the_kernels_outputs_bit_for_bit():
    x = torch.randn(5, 3)
    plain = built(layers.Dense(4))
    assert torch.equal(plain(x), torch.nn.functional.linear(x, plain.weight, plain.bias))
    relu = built(layers.Dense(4, activation="relu"))
    assert torch.equal(relu(x), torch.relu(torch.nn.functional.linear(x, relu.weight, relu.bias)))
    no_bias = built(layers.Dense(4, use_bias=False, activation=lambda t: t * 2))
    assert torch.equal(no_bias(x), torch.nn.functional.linear(x, no_bias.weight) * 2)


def test_dense_follows_a_reassigned_activation_and_a_reassigned_weight():
    x = torch.randn(5, 3)
    dense = built(layers.Dense(4))
    dense.activation = danlu.activations.get("sigmoid")
    assert torch.equal(dense(x), torch.sigmoid(torch.nn.functional.linear(x, dense.weight, dense.bias)))
    dense.weight = torch.nn.Parameter(torch.ones(4, 3))
    assert torch.equal(dense(x), torch.sigmoid(x.sum(-1, keepdim=True).expand(5, 4) + dense.bias))


def test_dense_with_a_pruned_or_parametrized_weight_uses_it():
    x = torch.randn(5, 3)
    pruned = built(layers.Dense(4))
    torch.nn.utils.prune.l1_unstructured(pruned, "weight", amount=0.5)
    assert "weight" not in pruned._parameters
    assert torch.equal(pruned(x), torch.nn.functional.linear(x, pruned.weight, pruned.bias))
    assert (pruned.weight == 0).sum() == 6

    class Doubled(torch.nn.Module):
        def forward(self, weight):
            return weight * 2

    parametrized = built(layers.Dense(4))
    original = parametrized.weight.detach().clone()
    torch.nn.utils.parametrize.register_parametrization(parametrized, "weight", Doubled())
    assert torch.equal(parametrized(x), torch.nn.functional.linear(x, original * 2, parametrized.bias))


# --- Model.metrics reads the layers from the `_layers` cache -------------------------------------


def compiled_mlp():
    model = danlu.Sequential([layers.Dense(4), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(torch.randn(8, 3), torch.randn(8, 2), epochs=1, verbose=0)
    return model


def test_metrics_assigned_after_compile_show_in_model_metrics():
    model = compiled_mlp()
    names = [m.name for m in model.metrics]
    assert names == ["loss", "mae"]
    model.tracker = danlu.metrics.Mean(name="tracker")
    model.layers[1].inner_tracker = danlu.metrics.Mean(name="inner_tracker")
    assert [m.name for m in model.metrics] == [*names, "tracker", "inner_tracker"]


def test_metrics_of_a_layer_added_later_show_once_the_layer_cache_is_renewed():
    model = compiled_mlp()
    extra = layers.Dense(2)
    extra.tracker = danlu.metrics.Mean(name="extra_tracker")
    model.add(extra)  # Sequential.add renews the layer cache
    assert model.metrics[-1] is extra.tracker
    model.pop()
    assert all(m is not extra.tracker for m in model.metrics)


def test_an_overridden_metrics_property_still_wins():
    class Own(danlu.Sequential):
        @property
        def metrics(self):
            return [self.tracker]

    model = Own([layers.Dense(1)])
    model.tracker = danlu.metrics.Mean(name="mine")
    model.compile(optimizer="sgd", loss="mse")
    assert model.metrics == [model.tracker] and model.metrics_names == ["mine"]
