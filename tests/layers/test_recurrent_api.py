"""The recurrent layers' surface: Keras' weights and defaults, configurations that round-trip,
regularizers / constraints / trainable, symbolic models, and clear errors for bad input."""

import math

import numpy as np
import pytest
import torch

import danlu
from danlu.layers import Dense, Layer, recurrent
from danlu.saving import serialization
from tests.layers.test_recurrent import MASKS, B, F, T, U, assert_close, flat, keras_and_ours
from tests.layers.test_recurrent_cells import MinimalRNNCell
from tests.oracle import keras


@pytest.mark.oracle
@pytest.mark.parametrize("name, options", [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False}),
                                           ("LSTM", {"use_bias": False})])
def test_weights_have_keras_names_shapes_and_order(name, options):
    theirs, ours = keras_and_ours(name, **options)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    cell = ours.cell
    np.testing.assert_array_equal(cell.kernel.detach().numpy(), theirs.cell.kernel.numpy())


def test_default_initializers_are_keras():
    """glorot_uniform kernels with Keras' fans ``(features, G * units)``, orthogonal recurrent
    kernels (orthonormal rows in Keras' ``(units, G * units)``), zero biases except the LSTM
    forget block (``unit_forget_bias=True``)."""
    torch.manual_seed(0)
    layer = recurrent.LSTM(8)
    layer.build_from_shape((None, T, 24))
    kernel, recurrent_kernel, bias = layer.get_weights()
    limit = math.sqrt(6 / (24 + 32))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    np.testing.assert_allclose(recurrent_kernel @ recurrent_kernel.T, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    no_forget = recurrent.LSTM(8, unit_forget_bias=False, bias_initializer="ones")
    no_forget.build_from_shape((None, T, 4))
    np.testing.assert_array_equal(no_forget.get_weights()[2], np.ones(32))
    gru = recurrent.GRU(4)
    gru.build_from_shape((None, T, 3))
    np.testing.assert_array_equal(gru.get_weights()[2], np.zeros((2, 12)))


# --- Configurations -------------------------------------------------------------------------


def same_outputs(a, b, x):
    for p, q in zip(flat(a(x)), flat(b(x))):
        torch.testing.assert_close(p, q)


LAYERS = [
    lambda: recurrent.SimpleRNN(3, activation="relu", dropout=0.25, return_sequences=True, go_backwards=True),
    lambda: recurrent.LSTM(4, recurrent_activation="hard_sigmoid", unit_forget_bias=False, kernel_regularizer="l2",
                           return_state=True, stateful=False, unroll=True, use_cudnn=False, name="encoder"),
    lambda: recurrent.GRU(2, reset_after=False, use_bias=False, recurrent_dropout=0.1, seed=3),
    lambda: recurrent.RNN(recurrent.LSTMCell(3), return_sequences=True, zero_output_for_mask=True),
    lambda: recurrent.RNN([recurrent.GRUCell(3), recurrent.SimpleRNNCell(2)], return_state=True),
    lambda: recurrent.Bidirectional(recurrent.LSTM(3, return_sequences=True), merge_mode="ave"),
    lambda: recurrent.Bidirectional(recurrent.GRU(2), backward_layer=recurrent.SimpleRNN(2, go_backwards=True)),
]


@pytest.mark.parametrize("make", LAYERS)
def test_get_config_from_config_round_trips(make):
    layer = make()
    layer.build_from_shape((None, T, F))
    config = layer.get_config()
    copy = type(layer).from_config(config)
    copy.build_from_shape((None, T, F))
    assert type(copy) is type(layer) and copy.name == layer.name
    assert serialization.serialize(copy.get_config()) == serialization.serialize(config)
    assert [w.shape for w in copy.get_weights()] == [w.shape for w in layer.get_weights()]
    assert all(a is not b for a, b in zip(copy.weights, layer.weights))  # fresh weights, nothing shared
    copy.set_weights(layer.get_weights())
    same_outputs(layer, copy, torch.randn(B, T, F))
    json_form = serialization.serialize(layer)["config"]  # nested layers as JSON dicts
    rebuilt = type(layer).from_config(json_form)
    assert serialization.serialize(rebuilt.get_config()) == serialization.serialize(config)


def test_configs_of_user_cells_round_trip_with_custom_objects():
    layer = recurrent.RNN(MinimalRNNCell(4), return_sequences=True)
    layer.build_from_shape((None, T, F))
    assert isinstance(type(layer).from_config(layer.get_config()).cell, MinimalRNNCell)
    json_form = serialization.serialize(layer)["config"]
    rebuilt = recurrent.RNN.from_config(json_form, custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert isinstance(rebuilt.cell, MinimalRNNCell) and rebuilt.cell.units == 4


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_config_keys_are_keras(name):
    k = keras()
    theirs = getattr(k.layers, name)(3).get_config()
    ours = getattr(recurrent, name)(3).get_config()
    keras_only = {"trainable", "dtype", "activity_regularizer"}  # danlu records these when given
    assert set(theirs) - keras_only <= set(ours)
    for key in set(theirs) - keras_only - {"name"}:
        if not isinstance(theirs[key], dict):
            assert ours[key] == theirs[key], key


# --- Regularizers, constraints, trainable -----------------------------------------------------


@pytest.mark.oracle
def test_weight_regularizers_match_keras():
    options = dict(kernel_regularizer="l2", recurrent_regularizer="l1", bias_regularizer="l2")
    theirs, ours = keras_and_ours("LSTM", **options)
    theirs(torch.tensor(np.zeros((1, T, F), "float32")))
    ours(torch.zeros(1, T, F))
    assert len(ours.losses) == 3
    assert_close(sum(ours.losses).detach(), sum(theirs.losses).detach(), "penalty")


def test_constraints_apply_after_each_update_in_keras_layout():
    layer = recurrent.GRU(3, kernel_constraint="non_neg", recurrent_constraint=danlu.constraints.MaxNorm(0.5, axis=0))
    y = layer(torch.randn(B, T, F))
    optimizer = danlu.optimizers.SGD(learning_rate=1.0)
    loss = y.square().sum()
    optimizer.apply_gradients(zip(torch.autograd.grad(loss, layer.trainable_weights), layer.trainable_weights))
    kernel, recurrent_kernel, _ = layer.get_weights()
    assert (kernel >= 0).all()
    assert (np.sqrt((recurrent_kernel ** 2).sum(axis=0)) <= 0.5 + 1e-6).all()


def test_frozen_layers_have_no_trainable_weights():
    layer = recurrent.Bidirectional(recurrent.LSTM(3), trainable=False)
    layer.build_from_shape((None, T, F))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 6
    frozen = recurrent.GRU(3, trainable=False)
    frozen(torch.randn(1, T, F))
    assert frozen.trainable_weights == [] and not any(w.requires_grad for w in frozen.weights)


# --- Symbolic models --------------------------------------------------------------------------


def test_functional_and_sequential_models_with_recurrent_layers():
    inputs = danlu.Input((T, F))
    sequence, h, c = recurrent.LSTM(4, return_sequences=True, return_state=True)(inputs)
    assert (sequence.shape, h.shape, c.shape) == ((None, T, 4), (None, 4), (None, 4))
    encoded = recurrent.Bidirectional(recurrent.GRU(3))(sequence, initial_state=None)
    assert encoded.shape == (None, 6)
    model = danlu.Model(inputs, [Dense(2)(encoded), h])
    out, state = model(torch.randn(B, T, F))
    assert tuple(out.shape) == (B, 2) and tuple(state.shape) == (B, 4)
    stack = danlu.Sequential([danlu.Input((None, F)), recurrent.SimpleRNN(3, return_sequences=True), recurrent.GRU(2)])
    assert tuple(stack(torch.randn(B, 9, F)).shape) == (B, 2)
    built_now = recurrent.LSTM(2, input_shape=(T, F))
    assert built_now.built and [w.shape for w in built_now.get_weights()] == [(F, 8), (2, 8), (8,)]


def test_integer_inputs_are_cast_and_masks_may_be_float():
    layer = recurrent.GRU(2, return_sequences=True)
    y = layer(torch.ones(B, T, F, dtype=torch.int64), mask=torch.tensor(MASKS["right-padded"], dtype=torch.float32))
    assert y.dtype == torch.float32 and float(y[3].detach().abs().sum()) == 0


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda: recurrent.LSTM(0), "units must be a positive int; received units=0"),
    (lambda: recurrent.GRU(-3), "units must be a positive int"),
    (lambda: recurrent.SimpleRNN("8"), "units must be a positive int"),
    (lambda: recurrent.LSTMCell(2.5), "units must be a positive int"),
    (lambda: recurrent.LSTM(2, dropout=1.0), r"dropout must be in \[0, 1\)"),
    (lambda: recurrent.GRU(2, recurrent_dropout=-0.1), "recurrent_dropout must be in"),
    (lambda: recurrent.LSTM(2, activation="tanhh"), 'Did you mean "tanh"'),
    (lambda: recurrent.GRU(2, kernel_initializer="glorot"), "initializer"),
    (lambda: recurrent.LSTM(2, use_cudnn="yes"), "use_cudnn must be 'auto', True or False"),
    (lambda: recurrent.LSTM(2, implementation=3), "implementation must be 1 or 2"),
    (lambda: recurrent.LSTM(2, return_sequences="yes"), "return_sequences must be True or False"),
    (lambda: recurrent.RNN(object()), "call"),
    (lambda: recurrent.RNN(Layer()), "state_size"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_unknown_arguments_raise_type_errors():
    with pytest.raises(TypeError, match="return_sequence"):
        recurrent.LSTM(2, return_sequence=True)


@pytest.mark.parametrize("shape", [(B, F), (B, T, F, 2), (T,)])
def test_inputs_of_the_wrong_rank_are_rejected_before_any_weight_exists(shape):
    layer = recurrent.LSTM(2)
    with pytest.raises(ValueError, match=r"expects inputs of rank 3, \(batch, timesteps, features\)"):
        layer(torch.randn(*shape))
    assert not layer.cell.built and layer.get_weights() == []


def test_bad_call_arguments_raise_clear_errors():
    layer = recurrent.LSTM(2)
    layer(torch.randn(B, T, F))
    with pytest.raises(ValueError, match="initial_state has 1 tensors; the cell has 2 states"):
        layer(torch.randn(B, T, F), initial_state=[torch.zeros(B, 2)])
    with pytest.raises(ValueError, match=r"the mask has shape \(4, 5\); expected \(batch, timesteps\)"):
        layer(torch.randn(B, T, F), mask=torch.ones(B, T - 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one timestep"):
        layer(torch.randn(B, 0, F))
    before = layer.get_weights()
    with pytest.raises(ValueError, match="features"):
        layer(torch.randn(B, T, F + 1))
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
