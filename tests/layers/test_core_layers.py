"""Core layers against Keras 3.15: Dense on N-D inputs, Embedding masks and constraints,
Dropout's noise_shape, Flatten / Reshape shapes, Activation, Lambda."""

import numpy as np
import pytest
import torch

import danlu
from danlu import constraints
from danlu.layers.core import Activation, Dense, Dropout, Embedding, Flatten, Lambda, Reshape
from tests.oracle import keras


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.oracle
@pytest.mark.parametrize("shape", [(1, 5), (4, 5), (2, 3, 5), (2, 3, 4, 5)])
def test_dense_on_nd_inputs_matches_keras_values_and_gradients(shape):
    k = keras()
    theirs = k.layers.Dense(3, activation="tanh")
    theirs(_x(*shape))
    theirs.set_weights([_x(*w.shape, seed=1) for w in theirs.get_weights()])
    ours = Dense(3, activation="tanh")
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    xo, xt = torch.tensor(_x(*shape), requires_grad=True), torch.tensor(_x(*shape), requires_grad=True)
    out_o, out_t = ours(xo), theirs(xt)
    np.testing.assert_allclose(out_o.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    r = torch.as_tensor(_x(*out_o.shape, seed=2))
    g_o = torch.autograd.grad((out_o * r).sum(), [xo, ours.weight, ours.bias])
    g_t = torch.autograd.grad((out_t * r).sum(), [xt, theirs.kernel.value, theirs.bias.value])
    np.testing.assert_allclose(g_o[0].numpy(), g_t[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_o[1].T.numpy(), g_t[1].numpy(), rtol=1e-5, atol=1e-5)  # weight is kernel.T
    np.testing.assert_allclose(g_o[2].numpy(), g_t[2].numpy(), rtol=1e-5, atol=1e-5)
    assert ours.compute_output_shape((None, *shape[1:])) == theirs.compute_output_shape((None, *shape[1:]))


def test_dense_constraints_regularizers_masks_and_config():
    dense = Dense(2, kernel_constraint=constraints.NonNeg(), bias_constraint="non_neg", kernel_regularizer="l2",
                  activity_regularizer="l1")
    tokens = torch.tensor([[2, 0]])
    out = dense(Embedding(3, 4, mask_zero=True)(tokens))
    assert torch.equal(out._keras_mask, tokens != 0)  # Dense passes masks on (Keras)
    assert dense.weight.constraint is not None and dense.bias.constraint is not None
    assert len(dense.losses) == 2
    clone = Dense.from_config(dense.get_config())
    assert clone.get_config() == dense.get_config()
    with pytest.raises(ValueError, match="rank >= 2 with a known last axis"):
        Dense(2)(torch.zeros(3))
    with pytest.raises(ValueError, match="does not implement LoRA"):
        Dense(2, lora_rank=4)


@pytest.mark.oracle
def test_embedding_mask_zero_matches_keras_values_and_mask():
    k = keras()
    tokens = np.array([[1, 4, 0, 0], [2, 0, 3, 1]])
    theirs = k.layers.Embedding(5, 3, mask_zero=True)
    theirs.build()
    ours = Embedding(5, 3, mask_zero=True)
    ours.set_weights(theirs.get_weights())
    out = ours(torch.as_tensor(tokens))
    np.testing.assert_allclose(out.detach().numpy(), theirs(tokens).detach().numpy())
    np.testing.assert_array_equal(out._keras_mask.numpy(), theirs.compute_mask(tokens).numpy())
    assert ours.compute_mask(torch.as_tensor(tokens)).dtype == torch.bool
    assert ours.compute_output_shape((None, 4)) == (None, 4, 3)
    assert Embedding(5, 3)(torch.as_tensor(tokens)).__dict__.get("_keras_mask") is None
    float_ids = ours(torch.tensor([[1.0, 2.0]]))  # Keras casts other dtypes to ints
    torch.testing.assert_close(float_ids, ours(torch.tensor([[1, 2]])))


def test_embedding_keras_3_arguments():
    table = np.arange(12, dtype="float32").reshape(4, 3)
    layer = Embedding(4, 3, weights=[table], embeddings_constraint="non_neg", embeddings_regularizer="l1")
    np.testing.assert_array_equal(layer.get_weights()[0], table)
    assert layer.embeddings.constraint is not None and len(layer.losses) == 1
    assert "weights" not in layer.get_config() and Embedding.from_config(layer.get_config()).mask_zero is False
    with pytest.warns(DeprecationWarning, match="input_length"):
        Embedding(4, 3, input_length=7)
    with pytest.raises(ValueError, match="input_dim must be a positive int; received input_dim=0"):
        Embedding(0, 3)
    sparse = Embedding(4, 3, sparse=True)
    sparse(torch.tensor([[1, 2]])).sum().backward()
    assert sparse.embeddings.grad.is_sparse


def test_embedding_mask_flows_through_a_functional_model():
    tokens = danlu.Input((4,), dtype="int64")
    x = Embedding(6, 3, mask_zero=True)(tokens)
    x = Dense(2)(x)
    model = danlu.Model(tokens, x)
    ids = torch.tensor([[5, 1, 0, 0]])
    assert torch.equal(model(ids)._keras_mask, ids != 0)


def test_dropout_noise_shape_rate_and_inference():
    torch.manual_seed(0)
    layer = Dropout(0.5, noise_shape=(None, 1, 8), seed=3)
    x = torch.ones(4, 5, 8)
    assert torch.equal(layer(x), x)  # inference
    out = layer(x, training=True)
    dropped = out == 0
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped))  # same pattern at every step
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    frac = Dropout(0.3)(torch.ones(200, 500), training=True).eq(0).float().mean().item()
    assert abs(frac - 0.3) < 0.01
    assert Dropout(0.0)(x, training=True) is x
    assert Dropout.from_config(layer.get_config()).noise_shape == (None, 1, 8)
    with pytest.raises(ValueError, match="noise_shape must be a tuple of positive ints or None; received noise_shape=\\(2, 0\\)"):
        Dropout(0.5, noise_shape=(2, 0))
    with pytest.raises(ValueError, match="noise_shape=\\(None, 1\\) must have one entry per input axis"):
        Dropout(0.5, noise_shape=(None, 1))(x, training=True)


@pytest.mark.oracle
def test_flatten_and_reshape_match_keras_shapes_and_values():
    k = keras()
    x = _x(2, 3, 4, 5)
    np.testing.assert_array_equal(Flatten()(torch.as_tensor(x)).numpy(), k.layers.Flatten()(x).numpy())
    channels_first = Flatten(data_format="channels_first")(torch.as_tensor(x)).numpy()
    np.testing.assert_array_equal(channels_first, k.layers.Flatten(data_format="channels_first")(x).numpy())
    np.testing.assert_array_equal(channels_first, k.layers.Flatten()(np.moveaxis(x, 1, -1)).numpy())
    for shape in [(None, 3, 4), (None, None, 4), (2,), (None, 3, None)]:
        assert Flatten().compute_output_shape(shape) == k.layers.Flatten().compute_output_shape(shape)
    for target in [(-1,), (4, -1), (6, 10), (-1, 2, 5)]:
        ours, theirs = Reshape(target), k.layers.Reshape(target)
        np.testing.assert_array_equal(ours(torch.as_tensor(x)).numpy(), theirs(x).numpy())
        for shape in [(None, 3, 4, 5), (None, None, 4, 5)]:
            assert ours.compute_output_shape(shape) == theirs.compute_output_shape(shape)
    with pytest.raises(ValueError, match=r"Reshape cannot turn samples of shape \(3, 4, 5\) \(60 values\) into target_shape=\(7, -1\)"):
        Reshape((7, -1))(torch.as_tensor(x))
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match="data_format must be None, 'channels_first' or 'channels_last'"):
        Flatten(data_format="nchw")


@pytest.mark.oracle
def test_flatten_channels_first_carries_keras_dense_weights():
    """Conv2D -> Flatten("channels_first") -> Dense here equals Keras' channels-last
    Conv2D -> Flatten -> Dense with the same weights, without a Permute."""
    k = keras()
    km = k.Sequential([k.Input((5, 5, 2)), k.layers.Conv2D(3, 3), k.layers.Flatten(), k.layers.Dense(4)])
    model = danlu.Sequential([danlu.Input((2, 5, 5)), danlu.layers.Conv2D(3, 3), Flatten(data_format="channels_first"), Dense(4)])
    model.set_weights(km.get_weights())
    x = _x(3, 5, 5, 2)
    np.testing.assert_allclose(model(torch.as_tensor(x).permute(0, 3, 1, 2)).detach().numpy(),
                               km(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_symbolic_shapes_of_flatten_reshape_and_dense():
    x = danlu.Input((None, 6))
    assert Flatten()(x).shape == (None, None)
    assert Reshape((-1, 3))(x).shape == (None, None, 3)
    assert Dense(4)(x).shape == (None, None, 4)
    assert Reshape((2, 3))(danlu.Input((6,))).shape == (None, 2, 3)


def test_activation_layer_by_name_and_lambda_arguments():
    x = torch.randn(2, 3)
    torch.testing.assert_close(Activation("softplus")(x), torch.nn.functional.softplus(x))
    assert Activation.from_config(Activation("gelu").get_config()).activation is danlu.activations.gelu
    assert Activation("relu").compute_output_shape((None, 3)) == (None, 3)
    with pytest.raises(ValueError, match='Did you mean "relu"'):
        Activation("rely")
    scaled = Lambda(lambda t, factor: t * factor, arguments={"factor": 3.0}, output_shape=(3,))
    torch.testing.assert_close(scaled(x), x * 3)
    assert scaled.compute_output_shape((None, 3)) == (None, 3)
    seen = {}

    def with_mode(t, training=None, mask=None):
        seen.update(training=training, mask=mask)
        return t

    Lambda(with_mode)(x, training=True)
    assert seen == {"training": True, "mask": None}
    masked = Lambda(lambda t: t, mask=lambda t, m: t[:, :, 0] > 0)(torch.ones(1, 2, 2))
    assert masked._keras_mask.all()
    embedded = Embedding(3, 2, mask_zero=True)(torch.tensor([[1, 0]]))
    assert "_keras_mask" not in Lambda(lambda t: t * 2)(embedded).__dict__  # no mask= : masks dropped (Keras)
    with pytest.raises(TypeError, match="arguments must be a dict"):
        Lambda(lambda t: t, arguments=[1])


def _every_layer():
    from danlu.layers import activation, attention, merging, multi_head_attention, normalization, shape

    return [
        (Dense(3, activation="relu", kernel_constraint="max_norm"), (2, 4)), (Activation("gelu"), (2, 4)),
        (Dropout(0.2, noise_shape=(None, 1)), (2, 4)), (Flatten(data_format="channels_first"), (2, 3, 4)),
        (Reshape((-1, 2)), (2, 4)), (Embedding(5, 2, mask_zero=True), None),
        (activation.ReLU(max_value=2.0), (2, 4)), (activation.LeakyReLU(0.1), (2, 4)), (activation.ELU(0.5), (2, 4)),
        (activation.PReLU(shared_axes=[1]), (2, 3, 4)), (activation.Softmax(axis=[1, 2]), (2, 3, 4)),
        (merging.Add(), [(2, 4), (2, 4)]), (merging.Concatenate(axis=1), [(2, 4), (2, 3)]),
        (merging.Dot(axes=(1, 1), normalize=True), [(2, 4), (2, 4)]), (merging.Maximum(), [(2, 4), (2, 4)]),
        (shape.Permute((2, 1)), (2, 3, 4)), (shape.RepeatVector(3), (2, 4)), (shape.Masking(-1.0), (2, 3, 4)),
        (shape.Identity(), (2, 4)), (shape.TimeDistributed(Dense(2)), (2, 3, 4)),
        (normalization.BatchNormalization(axis=-1, renorm=True, renorm_clipping={"rmax": 2.0}), (2, 4)),
        (normalization.LayerNormalization(axis=[1, 2], gamma_regularizer="l2"), (2, 3, 4)),
        (normalization.GroupNormalization(groups=2), (2, 4, 3)), (normalization.UnitNormalization(axis=[1]), (2, 4)),
        (normalization.RMSNormalization(epsilon=1e-5), (2, 4)),
        (attention.Attention(use_scale=True, score_mode="concat"), [(2, 3, 4), (2, 5, 4)]),
        (attention.AdditiveAttention(use_scale=False), [(2, 3, 4), (2, 5, 4)]),
        (multi_head_attention.MultiHeadAttention(2, 3, value_dim=4, output_shape=5, use_gate=True), None),
    ]


def test_every_layer_config_round_trips_through_json_and_rebuilds_equal_weights():
    """``from_config(get_config())`` rebuilds an equal layer, also through danlu's JSON form;
    the rebuilt layer takes the original's weights and computes the same outputs."""
    import json

    from danlu.saving import serialization

    for layer, shapes in _every_layer():
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config, type(layer).__name__
        saved = json.loads(json.dumps(serialization.serialize(layer)))
        rebuilt = serialization.deserialize(saved, custom_objects={type(layer).__name__: type(layer)})
        assert type(rebuilt) is type(layer) and rebuilt.get_config()["name"] == layer.name
        if isinstance(layer, Embedding):
            inputs = torch.tensor([[1, 0, 3]])
        elif shapes is None:
            inputs = [torch.randn(2, 3, 4), torch.randn(2, 5, 4)]
        elif isinstance(shapes, list):
            inputs = [torch.randn(*s) for s in shapes]
        else:
            inputs = torch.randn(*shapes)
        call = (lambda l: l(*inputs)) if shapes is None and not isinstance(layer, Embedding) else (lambda l: l(inputs))
        expected = call(layer)
        call(clone)
        clone.set_weights(layer.get_weights())
        torch.testing.assert_close(call(clone), expected)
