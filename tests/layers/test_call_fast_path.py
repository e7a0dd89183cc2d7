"""`Layer.__call__`'s fast path (a built layer called on a plain tensor) keeps everything the
full path does: the training mode (``training=`` and the module's mode), masks in and out,
``add_loss`` terms per outermost call, activity penalties, dtype policies and symbolic calls."""

import pytest
import torch

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
