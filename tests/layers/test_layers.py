"""danlu.layers: Keras defaults, lazy building, shapes, regularizers, initializers."""

import math

import pytest
import torch

import danlu
from danlu import initializers, layers, regularizers


def test_dense_builds_from_the_first_input_with_keras_defaults():
    torch.manual_seed(0)
    dense = layers.Dense(50, activation="relu")
    assert not dense.built
    out = dense(torch.randn(4, 200))
    assert dense.built and out.shape == (4, 50) and (out >= 0).all()
    assert dense.kernel.shape == (200, 50) and dense.weight.shape == (50, 200)
    assert torch.equal(dense.bias, torch.zeros(50))
    limit = math.sqrt(6 / (200 + 50))  # glorot_uniform
    assert dense.kernel.abs().max() <= limit and dense.kernel.abs().max() > 0.9 * limit


def test_input_shape_builds_at_construction():
    dense = layers.Dense(3, input_shape=(5,))
    assert dense.built and dense.kernel.shape == (5, 3)


def test_conv2d_same_padding_matches_tensorflow_output_sizes():
    for size, stride in [(7, 1), (7, 2), (8, 2), (5, 3)]:
        conv = layers.Conv2D(4, 3, strides=stride, padding="same")
        assert conv(torch.zeros(1, 2, size, size)).shape == (1, 4, math.ceil(size / stride), math.ceil(size / stride))
    assert layers.Conv2D(4, 3)(torch.zeros(1, 2, 7, 7)).shape == (1, 4, 5, 5)
    assert layers.Conv1D(6, 5, padding="same")(torch.zeros(2, 3, 10)).shape == (2, 6, 10)


def test_pooling_flatten_reshape_and_global_pooling():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert layers.MaxPooling2D()(x).shape == (2, 3, 2, 2)
    assert layers.MaxPooling2D()(x)[0, 0, 0, 0] == 5.0
    assert layers.AveragePooling2D(pool_size=2)(x)[0, 0, 0, 0] == 2.5
    assert layers.AveragePooling2D(3, strides=1, padding="same")(torch.ones(1, 1, 3, 3)).eq(1).all()
    assert layers.GlobalAveragePooling2D()(x).shape == (2, 3)
    assert layers.Flatten()(x).shape == (2, 48)
    assert layers.Reshape((6, 8))(x).shape == (2, 6, 8)
    with pytest.raises(ValueError, match="Reshape cannot turn samples of shape \\(3, 4, 4\\)"):
        layers.Reshape((5, 5))(x)


def test_batch_normalization_keras_defaults():
    bn = layers.BatchNormalization()
    x = torch.randn(32, 4) * 3 + 1
    bn.train()
    out = bn(x)
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    assert bn.epsilon == 1e-3 and bn.momentum == 0.99
    # moving = 0.99 * moving + 0.01 * batch
    torch.testing.assert_close(bn.moving_mean, 0.01 * x.mean(0), rtol=1e-5, atol=1e-6)


def test_layer_normalization_dropout_embedding_activation_lambda():
    x = torch.randn(4, 6)
    torch.testing.assert_close(layers.LayerNormalization()(x).mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    drop = layers.Dropout(0.5)
    drop.eval()
    assert torch.equal(drop(x), x)
    embedding = layers.Embedding(10, 3)
    assert embedding(torch.tensor([[1, 2]])).shape == (1, 2, 3)
    assert embedding.embeddings.abs().max() <= 0.05
    assert torch.equal(layers.Activation("relu")(x), x.relu())
    assert torch.equal(layers.Lambda(lambda t: t * 2)(x), x * 2)


def test_regularizers_follow_keras_formulas_and_feed_losses():
    w = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert regularizers.L1(0.1)(w).item() == pytest.approx(0.6)
    assert regularizers.L2(0.1)(w).item() == pytest.approx(1.4)
    assert regularizers.L1L2(0.1, 0.1)(w).item() == pytest.approx(2.0)
    orth = regularizers.OrthogonalRegularizer(1.0)(torch.eye(3))
    assert orth.item() == pytest.approx(0.0, abs=1e-7)
    dense = layers.Dense(2, kernel_regularizer="l2", bias_regularizer=regularizers.L1(1.0), activity_regularizer="l1")
    dense(torch.ones(1, 3))
    assert len(dense.losses) == 3


def test_initializers_by_name():
    assert torch.equal(initializers.get("zeros")((2, 2)), torch.zeros(2, 2))
    he = initializers.get("he_normal")((1000, 100))
    assert he.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.1)
    assert initializers.get("GlorotUniform") is not None
    with pytest.raises(ValueError, match='Did you mean "glorot_uniform"'):
        initializers.get("glorot_uniformm")


def test_trainable_false_freezes_weights():
    dense = layers.Dense(2, input_shape=(3,))
    dense.trainable = False
    assert not any(p.requires_grad for p in dense.parameters())
    frozen_later = layers.Dense(2, trainable=False)
    frozen_later(torch.zeros(1, 3))
    assert not any(p.requires_grad for p in frozen_later.parameters())


def test_sequential_mixes_torch_modules_and_add_pop():
    model = danlu.Sequential([layers.Dense(4), torch.nn.ReLU()])
    model.add(torch.nn.Linear(4, 2))
    assert model(torch.zeros(3, 5)).shape == (3, 2)
    assert isinstance(model.pop(), torch.nn.Linear)


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="units must be a positive int; received units=0"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'; received padding='full'"):
        layers.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match='Unknown activation identifier \'rellu\'. Did you mean "relu"'):
        layers.Dense(2, activation="rellu")
    with pytest.raises(ValueError, match="rate must be in \\[0, 1\\)"):
        layers.Dropout(1.0)
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        layers.Conv2D(2, 3)(torch.zeros(2, 5))
