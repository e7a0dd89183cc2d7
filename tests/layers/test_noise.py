"""Noise layers: the identity in inference; in training the statistics Keras' formulas give
(and, for AlphaDropout, Keras' exact values for the same drop mask)."""

import json
import math

import numpy as np
import pytest
import torch

import danlu
from danlu.layers import noise
from danlu.saving import serialization
from tests.oracle import keras

LAYERS = [
    lambda: noise.SpatialDropout1D(0.3),
    lambda: noise.SpatialDropout2D(0.5),
    lambda: noise.SpatialDropout3D(0.2, data_format="channels_last"),
    lambda: noise.GaussianNoise(0.4),
    lambda: noise.GaussianDropout(0.3),
    lambda: noise.AlphaDropout(0.2, noise_shape=(None, None, 1)),
]
SHAPES = {noise.SpatialDropout1D: (4, 3, 5), noise.SpatialDropout2D: (4, 3, 5, 2), noise.SpatialDropout3D: (2, 3, 2, 2, 3)}


@pytest.mark.parametrize("make", LAYERS)
def test_inference_is_the_identity_and_training_is_not(make):
    layer = make()
    x = torch.randn(SHAPES.get(type(layer), (4, 3, 5)))
    assert layer(x) is x and layer(x, training=False) is x
    layer.eval()
    assert layer(x) is x
    torch.manual_seed(0)
    first = layer(x, training=True)
    assert first.shape == x.shape and not torch.equal(first, x)
    torch.manual_seed(0)
    torch.testing.assert_close(layer(x, training=True), first)  # torch's global generator: seeded runs repeat
    assert layer.compute_output_shape(tuple(x.shape)) == tuple(x.shape)
    assert make()(danlu.Input(x.shape[1:])).shape == (None, *x.shape[1:])


@pytest.mark.parametrize("make", LAYERS)
def test_config_round_trips_and_masks_pass_through(make):
    layer = make()
    config = json.loads(json.dumps(serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(serialization.deserialize(config))
    assert json.loads(json.dumps(serialization.serialize(clone.get_config()))) == config
    x = torch.randn(SHAPES.get(type(layer), (4, 3, 5)))
    x._keras_mask = torch.ones(x.shape[:2], dtype=torch.bool)
    assert layer(x)._keras_mask is x._keras_mask


def _binomial_tolerance(n, p):
    return 5 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_spatial_dropout_drops_whole_channels_and_rescales(rank, data_format):
    rate = 0.3
    layer = getattr(noise, f"SpatialDropout{rank}D")(rate, data_format=data_format)
    torch.manual_seed(1)
    x = torch.rand(400, 10, *(3,) * rank) + 1.0  # positive: a zero means dropped
    if data_format == "channels_last":
        x = x.movedim(1, -1)
    out = layer(x, training=True)
    if data_format == "channels_last":
        x, out = x.movedim(-1, 1), out.movedim(-1, 1)
    dropped = out.flatten(2).eq(0)
    assert (dropped.all(-1) | (~dropped).all(-1)).all()  # a channel is kept or dropped as a whole
    kept = ~dropped.all(-1)
    torch.testing.assert_close(out[kept], x[kept] / (1 - rate))
    assert abs(dropped.all(-1).float().mean().item() - rate) < _binomial_tolerance(4000, rate)


def test_gaussian_noise_adds_noise_of_stddev():
    torch.manual_seed(2)
    x = torch.randn(200, 500)
    delta = noise.GaussianNoise(0.25)(x, training=True) - x
    n = delta.numel()
    assert abs(delta.mean().item()) < 5 * 0.25 / math.sqrt(n)
    assert abs(delta.std().item() - 0.25) < 5 * 0.25 / math.sqrt(2 * n)


def test_gaussian_dropout_multiplies_by_mean_one_noise_of_dropout_variance():
    torch.manual_seed(3)
    rate = 0.4
    x = torch.full((200, 500), 2.0)
    factor = noise.GaussianDropout(rate)(x, training=True) / x
    stddev = math.sqrt(rate / (1 - rate))  # Keras: N(1, rate / (1 - rate))
    n = factor.numel()
    assert abs(factor.mean().item() - 1.0) < 5 * stddev / math.sqrt(n)
    assert abs(factor.std().item() - stddev) < 5 * stddev / math.sqrt(2 * n)


def test_alpha_dropout_keeps_zero_mean_unit_variance_and_drops_to_one_value():
    torch.manual_seed(4)
    rate = 0.2
    x = torch.randn(400, 500)
    out = noise.AlphaDropout(rate)(x, training=True)
    alpha_p = -noise.SELU_ALPHA * noise.SELU_SCALE
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    dropped = torch.isclose(out, torch.tensor(a * alpha_p + b)) & ~torch.isclose(x, torch.tensor(alpha_p))
    torch.testing.assert_close(out[~dropped], a * x[~dropped] + b)
    assert abs(dropped.float().mean().item() - rate) < _binomial_tolerance(out.numel(), rate)
    assert abs(out.mean().item()) < 0.01 and abs(out.var().item() - 1.0) < 0.01  # SELU's fixed point kept


def test_alpha_dropout_noise_shape_broadcasts():
    torch.manual_seed(5)
    out = noise.AlphaDropout(0.5, noise_shape=(None, None, 1))(torch.randn(8, 6, 7), training=True)
    dropped_value = out.flatten().mode().values
    dropped = out.eq(dropped_value)
    assert (dropped.all(-1) | (~dropped).all(-1)).all()
    with pytest.raises(ValueError, match="noise_shape=\\(None, 1\\) does not match inputs of shape"):
        noise.AlphaDropout(0.5, noise_shape=(None, 1))(torch.randn(2, 3, 4), training=True)


@pytest.mark.oracle
def test_alpha_dropout_equals_keras_for_the_same_mask(monkeypatch):
    k = keras()
    rate = 0.3
    x = np.random.default_rng(0).normal(size=(50, 40)).astype("float32")
    theirs = k.layers.AlphaDropout(rate, seed=7)(x, training=True).detach().numpy()
    alpha_p = -noise.SELU_ALPHA * noise.SELU_SCALE
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    kept = ~np.isclose(theirs, a * alpha_p - a * alpha_p * rate)
    monkeypatch.setattr(noise.torch, "rand", lambda shape, device=None: torch.as_tensor(kept, dtype=torch.float32))
    ours = noise.AlphaDropout(rate)(torch.as_tensor(x), training=True).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    assert 0.2 < 1 - kept.mean() < 0.4


@pytest.mark.oracle
def test_inference_identity_like_keras():
    k = keras()
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    for name in ("GaussianNoise", "GaussianDropout", "AlphaDropout", "SpatialDropout1D"):
        theirs = getattr(k.layers, name)(0.5)(x, training=False).detach().numpy()
        ours = getattr(noise, name)(0.5)(torch.as_tensor(x)).numpy()
        np.testing.assert_array_equal(ours, theirs)


def test_bad_arguments_and_inputs():
    cases = [
        (lambda: noise.SpatialDropout2D(1.5), r"rate must be in \[0, 1\]; received rate=1.5"),
        (lambda: noise.SpatialDropout1D(-0.1), "rate must be in"),
        (lambda: noise.GaussianNoise(2.0), r"stddev must be in \[0, 1\]"),
        (lambda: noise.GaussianDropout(1.0), r"rate must be in \[0, 1\)"),
        (lambda: noise.AlphaDropout(1.0), r"rate must be in \[0, 1\)"),
        (lambda: noise.AlphaDropout(0.1, noise_shape=(2, 0)), "noise_shape must be None or a tuple"),
        (lambda: noise.SpatialDropout3D(0.1, data_format="first"), "Unknown data_format identifier 'first'"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    with pytest.raises(ValueError, match=r"SpatialDropout2D expects inputs of rank 4 \(batch, channels, height, width\)"):
        noise.SpatialDropout2D(0.5)(torch.zeros(2, 3, 4), training=True)
