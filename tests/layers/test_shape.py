"""Shape layers against Keras 3.15: Permute, RepeatVector, TimeDistributed, Masking, Identity."""

import numpy as np
import pytest
import torch

import danlu
from danlu.layers.core import Dense, Embedding
from danlu.saving import serialization
from danlu.layers.normalization import BatchNormalization
from danlu.layers.shape import Identity, Masking, Permute, RepeatVector, TimeDistributed
from tests.oracle import keras


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _np(t):
    return t.detach().numpy()


@pytest.mark.oracle
def test_permute_and_repeat_vector_match_keras():
    k = keras()
    x = _x(2, 3, 4, 5)
    for dims in [(2, 3, 1), (3, 1, 2), (1, 2, 3)]:
        np.testing.assert_array_equal(_np(Permute(dims)(torch.as_tensor(x))), _np(k.layers.Permute(dims)(x)))
        assert Permute(dims).compute_output_shape((None, 3, 4, 5)) == k.layers.Permute(dims).compute_output_shape((None, 3, 4, 5))
    v = _x(3, 4)
    np.testing.assert_array_equal(_np(RepeatVector(5)(torch.as_tensor(v))), _np(k.layers.RepeatVector(5)(v)))
    assert RepeatVector(5).compute_output_shape((None, 4)) == (None, 5, 4)
    assert danlu.layers.Dense(2)(RepeatVector(3)(danlu.Input((4,)))).shape == (None, 3, 2)
    with pytest.raises(ValueError, match="dims must be a permutation of 1..2"):
        Permute((0, 1))
    with pytest.raises(ValueError, match="Permute expects inputs of rank 4; received shape \\(2, 3\\)"):
        Permute((2, 3, 1))(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="RepeatVector expects inputs of rank 2"):
        RepeatVector(2)(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="n must be an int"):
        RepeatVector(2.0)


@pytest.mark.oracle
def test_time_distributed_dense_matches_keras_values_gradients_and_weights():
    k = keras()
    x = _x(3, 5, 4)
    theirs = k.layers.TimeDistributed(k.layers.Dense(2, activation="relu"))
    theirs(x)
    theirs.set_weights([_x(*w.shape, seed=1) for w in theirs.get_weights()])
    ours = TimeDistributed(Dense(2, activation="relu"))
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [(4, 2), (2,)]
    xo, xt = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_o, out_t = ours(xo), theirs(xt)
    np.testing.assert_allclose(_np(out_o), _np(out_t), rtol=1e-5, atol=1e-6)
    r = torch.as_tensor(_x(*out_o.shape, seed=2))
    g_o = torch.autograd.grad((out_o * r).sum(), [xo, ours.layer.weight])
    g_t = torch.autograd.grad((out_t * r).sum(), [xt, theirs.layer.kernel.value])
    np.testing.assert_allclose(g_o[0].numpy(), g_t[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_o[1].T.numpy(), g_t[1].numpy(), rtol=1e-5, atol=1e-5)
    assert ours.compute_output_shape((None, 5, 4)) == theirs.compute_output_shape((None, 5, 4)) == (None, 5, 2)


def test_time_distributed_runs_the_inner_layer_once_on_folded_steps():
    calls = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            calls.append(tuple(x.shape))
            return x.flatten(1)

    wrapped = TimeDistributed(Recorder())
    out = wrapped(torch.randn(2, 7, 3, 4))
    assert calls == [(14, 3, 4)] and out.shape == (2, 7, 12)
    conv = TimeDistributed(danlu.layers.Conv2D(5, 3))  # (batch, time, channels, h, w)
    assert conv(torch.randn(2, 4, 3, 8, 8)).shape == (2, 4, 5, 6, 6)
    assert conv.compute_output_shape((None, 4, 3, 8, 8)) == (None, 4, 5, 6, 6)
    model = danlu.Sequential([danlu.Input((6, 3)), TimeDistributed(Dense(4)), TimeDistributed(BatchNormalization())])
    assert model(torch.randn(2, 6, 3)).shape == (2, 6, 4)
    assert len(model.get_weights()) == 6


def test_time_distributed_masks_training_config_and_errors():
    seen = {}

    class MaskUser(danlu.layers.Layer):
        def call(self, inputs, mask=None, training=None):
            seen.update(mask=mask, training=training)
            return inputs

    tokens = torch.tensor([[1, 0, 2], [0, 3, 3]])
    embedded = Embedding(4, 2, mask_zero=True)(tokens)
    out = TimeDistributed(MaskUser())(embedded, training=True)
    assert torch.equal(seen["mask"], tokens.reshape(-1) != 0) and seen["training"] is True
    assert torch.equal(out._keras_mask, tokens != 0)
    layer = TimeDistributed(Dense(3, kernel_initializer="ones"))
    clone = TimeDistributed.from_config(layer.get_config())
    assert clone.layer is not layer.layer and clone.layer.units == 3
    saved = serialization.serialize(layer)  # JSON-able, the inner layer nested
    rebuilt = serialization.deserialize(saved, custom_objects={"TimeDistributed": TimeDistributed})
    assert isinstance(rebuilt.layer, Dense) and rebuilt.layer.units == 3
    with pytest.raises(ValueError, match="rank >= 3"):
        TimeDistributed(Dense(2))(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="wraps a layer"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match=r"mask of TimeDistributed must start with \(batch, time\) = \(2, 3\)"):
        TimeDistributed(Dense(2))(torch.zeros(2, 3, 4), mask=torch.ones(2, 4, dtype=torch.bool))


@pytest.mark.oracle
@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_matches_keras_values_and_mask(mask_value):
    k = keras()
    x = _x(3, 6, 4)
    x[0, 1] = mask_value
    x[2, [0, 5]] = mask_value
    x[1, 2, 0] = mask_value  # one feature equal is not enough
    ours, theirs = Masking(mask_value)(torch.as_tensor(x)), k.layers.Masking(mask_value)(x)
    np.testing.assert_array_equal(_np(ours), _np(theirs))
    np.testing.assert_array_equal(ours._keras_mask.numpy(), theirs._keras_mask.numpy())
    assert not ours._keras_mask[0, 1] and ours._keras_mask[1, 2]


def test_masking_feeds_downstream_layers_in_a_model():
    inputs = danlu.Input((5, 3))
    outputs = Dense(2)(Masking()(inputs))
    model = danlu.Model(inputs, outputs)
    x = torch.randn(2, 5, 3)
    x[0, 3:] = 0
    assert model(x)._keras_mask.tolist() == [[True, True, True, False, False], [True] * 5]


def test_identity_passes_tensors_structures_and_masks():
    x = torch.randn(2, 3)
    assert Identity()(x) is x
    pair = [torch.zeros(1), torch.ones(2)]
    assert Identity()(pair) is pair
    embedded = Embedding(3, 2, mask_zero=True)(torch.tensor([[1, 0]]))
    assert torch.equal(Identity()(embedded)._keras_mask, torch.tensor([[True, False]]))
    assert Identity().compute_output_shape((None, 4)) == (None, 4)
    assert Identity()(danlu.Input((4,))).shape == (None, 4)
