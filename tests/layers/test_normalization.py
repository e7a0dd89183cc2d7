"""Normalization layers against Keras 3.15: BatchNormalization (moving statistics after
several training steps, axes, masks, renorm, trainable=False), LayerNormalization (any axes,
rms_scaling), GroupNormalization, UnitNormalization, RMSNormalization."""

import warnings

import numpy as np
import pytest
import torch

import danlu
from danlu.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
)
from tests.oracle import keras


def _x(*shape, seed=0, loc=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(loc, scale, size=shape).astype("float32")


def _random_weights(layer_weights, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=w.shape).astype("float32") for w in layer_weights]


def _channels_last(x):
    return np.moveaxis(x, 1, -1)


def _close(ours, theirs, rtol=1e-5, atol=1e-5):
    ours = ours.detach().numpy() if isinstance(ours, torch.Tensor) else ours
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _train_both(ours, theirs, batches, to_keras=lambda a: a, mask=None):
    """Training steps on both (outputs compared at each); then the gradients of the last
    step with respect to the inputs and the trainable weights."""
    for i, x in enumerate(batches):
        xo, xt = torch.tensor(x, requires_grad=True), torch.tensor(to_keras(x), requires_grad=True)
        kwargs = {} if mask is None else {"mask": torch.as_tensor(mask[i])}
        out_o, out_t = ours(xo, training=True, **kwargs), theirs(xt, training=True, **kwargs)
        out_o_keras = out_o.movedim(1, -1) if to_keras is _channels_last else out_o
        _close(out_o_keras, out_t)
    r = torch.as_tensor(_x(*out_t.shape, seed=99))
    grads_o = torch.autograd.grad((out_o_keras * r).sum(), [xo] + [w for w in ours.weights if w.requires_grad])
    grads_t = torch.autograd.grad((out_t * r).sum(), [xt] + [w.value for w in theirs.trainable_weights])
    assert len(grads_o) == len(grads_t)
    _close(to_keras(grads_o[0].numpy()), grads_t[0], atol=1e-5)
    for a, b in zip(grads_o[1:], grads_t[1:]):
        _close(a, b, atol=1e-5)


@pytest.mark.oracle
@pytest.mark.parametrize("shape, ours_axis, keras_axis, to_keras", [
    ((8, 5), 1, -1, lambda a: a),
    ((8, 5), -1, -1, lambda a: a),
    ((6, 3, 4, 4), 1, -1, _channels_last),   # images: channels first here, channels last in Keras
    ((4, 7, 5), -1, -1, lambda a: a),        # sequences (batch, time, features)
    ((4, 7, 5), 1, 1, lambda a: a),          # a non-default axis, same in both
])
def test_batch_normalization_training_steps_match_keras(shape, ours_axis, keras_axis, to_keras):
    k = keras()
    theirs = k.layers.BatchNormalization(axis=keras_axis, momentum=0.9)
    theirs.build(to_keras(np.zeros(shape)).shape)
    weights = _random_weights(theirs.get_weights())
    weights[3] = np.abs(weights[3]) + 0.5
    theirs.set_weights(weights)
    ours = BatchNormalization(axis=ours_axis, momentum=0.9)
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    batches = [_x(*shape, seed=s, loc=1.5, scale=2.0) for s in range(4)]
    _train_both(ours, theirs, batches, to_keras)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):  # moving statistics included
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    x = _x(*shape, seed=7)
    _close(to_keras(ours(torch.as_tensor(x)).detach().numpy()), theirs(to_keras(x), training=False))


@pytest.mark.oracle
def test_batch_normalization_moving_variance_is_the_population_variance():
    """Keras updates with the biased batch variance (torch's BatchNorm: the unbiased one)."""
    x = torch.as_tensor(_x(4, 3, seed=2))
    bn = BatchNormalization(momentum=0.0)
    bn(x, training=True)
    torch.testing.assert_close(bn.moving_variance, x.var(0, correction=0))
    torch.testing.assert_close(bn.moving_mean, x.mean(0))


@pytest.mark.oracle
def test_batch_normalization_batch_of_one_center_scale_and_initializers_match_keras():
    k = keras()
    kwargs = dict(center=False, moving_variance_initializer="zeros", moving_mean_initializer="ones", gamma_initializer="ones")
    theirs = k.layers.BatchNormalization(**kwargs)
    ours = BatchNormalization(**kwargs)
    for x in (_x(1, 4), _x(3, 4, seed=1)):
        _close(ours(torch.as_tensor(x), training=True), theirs(x, training=True))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()] == [(4,), (4,), (4,)]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.oracle
def test_batch_normalization_with_masks_matches_keras():
    k = keras()
    shape = (3, 6, 4)
    theirs = k.layers.BatchNormalization(axis=-1)
    theirs.build(shape)
    ours = BatchNormalization(axis=-1)
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(5)
    masks = [rng.random(shape[:2]) > 0.3 for _ in range(3)]
    _train_both(ours, theirs, [_x(*shape, seed=s, loc=0.5) for s in range(3)], mask=masks)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    tokens = torch.tensor([[1, 2, 0, 0]])
    embedded = danlu.layers.Embedding(3, 4, mask_zero=True)(tokens)
    assert torch.equal(BatchNormalization(axis=-1)(embedded, training=True)._keras_mask, tokens != 0)


@pytest.mark.oracle
@pytest.mark.parametrize("clipping", [None, {"rmax": 1.2, "rmin": 0.8, "dmax": 0.1}])
def test_batch_renormalization_matches_keras(clipping):
    k = keras()
    shape = (6, 4)
    theirs = k.layers.BatchNormalization(renorm=True, renorm_clipping=clipping, renorm_momentum=0.8, momentum=0.7)
    theirs.build(shape)
    ours = BatchNormalization(renorm=True, renorm_clipping=clipping, renorm_momentum=0.8, momentum=0.7)
    ours(torch.zeros(shape))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    weights = theirs.get_weights()
    weights[0] = _x(4, seed=3)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    _train_both(ours, theirs, [_x(*shape, seed=s, loc=1.0, scale=3.0) for s in range(4)])
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_normalization_frozen_runs_in_inference_mode():
    bn = BatchNormalization(trainable=False)
    x = torch.as_tensor(_x(8, 3, loc=4.0))
    out = bn(x, training=True)
    torch.testing.assert_close(out, x / (1 + 1e-3) ** 0.5)  # moving statistics 0 / 1, untouched
    assert torch.equal(bn.moving_mean, torch.zeros(3))
    model = danlu.Sequential([danlu.Input((3,)), danlu.layers.Dense(3), bn])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_x(16, 3), _x(16, 3), verbose=0)
    assert torch.equal(bn.moving_mean, torch.zeros(3)) and not any(w.requires_grad for w in bn.weights)
    bn.trainable = True
    bn(x, training=True)
    assert not torch.equal(bn.moving_mean, torch.zeros(3))


def test_batch_normalization_arguments_config_and_errors():
    bn = BatchNormalization(axis=-1, synchronized=True, gamma_constraint="non_neg", beta_regularizer="l2")
    bn(torch.zeros(2, 5, 3))
    assert bn.synchronized and bn.gamma.shape == (3,) and bn.gamma.constraint is not None and len(bn.losses) == 1
    assert [w.shape for w in bn.get_weights()] == [(3,)] * 4
    clone = BatchNormalization.from_config(bn.get_config())
    assert clone.get_config() == bn.get_config()
    assert bn.compute_output_shape((None, 5, 3)) == (None, 5, 3)
    with pytest.raises(ValueError, match="axis=3 is out of range for inputs of rank 3"):
        BatchNormalization(axis=3)(torch.zeros(2, 5, 3))
    with pytest.raises(TypeError, match="axis must be an int; received axis=\\[1, 2\\]"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="momentum must be in \\[0, 1\\]"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="renorm_clipping has unknown key\\(s\\) \\['rmaxx'\\]"):
        BatchNormalization(renorm=True, renorm_clipping={"rmaxx": 2})
    with pytest.raises(ValueError, match="one axis less than the inputs"):
        BatchNormalization()(torch.zeros(2, 3), mask=torch.ones(2, 3, dtype=torch.bool), training=True)


@pytest.mark.oracle
@pytest.mark.parametrize("shape, axis, kwargs", [
    ((3, 4, 5), -1, {}), ((3, 4, 5), [1, 2], {}), ((3, 4, 5), [-2, -1], {"center": False}),
    ((3, 4, 5, 2), [2, 3], {"scale": False}), ((4, 6), -1, {"epsilon": 1e-6}),
])
def test_layer_normalization_matches_keras_values_and_gradients(shape, axis, kwargs):
    k = keras()
    theirs = k.layers.LayerNormalization(axis=axis, **kwargs)
    theirs.build(shape)
    theirs.set_weights(_random_weights(theirs.get_weights()))
    ours = LayerNormalization(axis=axis, **kwargs)
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    _train_both(ours, theirs, [_x(*shape, loc=2.0, scale=3.0)])


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_layer_normalization_rms_scaling_matches_keras():
    k = keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = k.layers.LayerNormalization(rms_scaling=True)
        theirs.build((3, 5))
        theirs.set_weights(_random_weights(theirs.get_weights()))
        with pytest.warns(DeprecationWarning, match="RMSNormalization"):
            ours = LayerNormalization(rms_scaling=True)
    ours(torch.zeros(3, 5))
    assert [w.shape for w in ours.get_weights()] == [(5,)]  # gamma only
    ours.set_weights(theirs.get_weights())
    _train_both(ours, theirs, [_x(3, 5, loc=1.0)])
    assert ours.get_config()["rms_scaling"] is True


def test_layer_normalization_over_inner_axes_normalizes_those_axes():
    """Keras on torch fails (or normalizes the last axis) for one non-final axis; danlu
    normalizes the axes asked for (Keras' documented meaning), checked in float64."""
    x = _x(2, 3, 4, 5, loc=1.0, scale=2.0).astype("float64")
    for axis in (1, [1, 3], [-3]):
        layer = LayerNormalization(axis=axis, dtype="float64")
        layer(torch.as_tensor(x))
        layer.set_weights(_random_weights(layer.get_weights()))
        gamma, beta = layer.get_weights()
        axes = tuple(sorted(a % 4 for a in (axis if isinstance(axis, list) else [axis])))
        shape = [x.shape[a] if a in axes else 1 for a in range(4)]
        expected = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-3)
        expected = expected * gamma.reshape(shape) + beta.reshape(shape)
        np.testing.assert_allclose(layer(torch.as_tensor(x)).detach().numpy(), expected, rtol=1e-10)


@pytest.mark.oracle
@pytest.mark.parametrize("groups, channels", [(2, 6), (-1, 4), (1, 3), (3, 3)])
def test_group_normalization_matches_keras_channels_last(groups, channels):
    k = keras()
    shape = (2, channels, 5, 4)
    theirs = k.layers.GroupNormalization(groups=groups)
    theirs.build(_channels_last(np.zeros(shape)).shape)
    theirs.set_weights(_random_weights(theirs.get_weights()))
    ours = GroupNormalization(groups=groups)
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    _train_both(ours, theirs, [_x(*shape, loc=1.0, scale=2.0)], _channels_last)


@pytest.mark.oracle
def test_group_normalization_on_sequences_and_errors():
    k = keras()
    shape = (2, 7, 6)
    theirs = k.layers.GroupNormalization(groups=3, axis=-1)
    theirs.build(shape)
    ours = GroupNormalization(groups=3, axis=-1)
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    _train_both(ours, theirs, [_x(*shape)])
    assert GroupNormalization.from_config(ours.get_config()).groups == 3
    with pytest.raises(ValueError, match="groups=4 must divide the 6 channels of axis 1"):
        GroupNormalization(groups=4)(torch.zeros(2, 6, 3))
    with pytest.raises(ValueError, match="groups must be a positive int, or -1"):
        GroupNormalization(groups=0)


@pytest.mark.oracle
@pytest.mark.parametrize("axis", [-1, [1, 2], 1])
def test_unit_normalization_matches_keras(axis):
    k = keras()
    x = _x(3, 4, 5)
    x[0, 0] = 0.0  # a zero vector stays zero (Keras' epsilon)
    _close(UnitNormalization(axis=axis)(torch.as_tensor(x)), k.layers.UnitNormalization(axis=axis)(x), atol=1e-6)
    assert UnitNormalization(axis=axis).compute_output_shape((None, 4, 5)) == (None, 4, 5)
    with pytest.raises(ValueError, match="out of range"):
        UnitNormalization(axis=3).compute_output_shape((None, 4, 5))


@pytest.mark.oracle
@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_rms_normalization_matches_keras(axis):
    k = keras()
    shape = (3, 4, 5)
    theirs = k.layers.RMSNormalization(axis=axis)
    theirs.build(shape)
    theirs.set_weights(_random_weights(theirs.get_weights()))
    ours = RMSNormalization(axis=axis)
    ours(torch.zeros(shape))
    ours.set_weights(theirs.get_weights())
    _train_both(ours, theirs, [_x(*shape, loc=1.0)])
