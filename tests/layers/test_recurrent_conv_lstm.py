"""ConvLSTM1D / 2D / 3D against Keras 3.15: outputs, states and gradients for padding, strides,
dilation, masks, go_backwards and dropout; channels-first (danlu's default) and channels-last."""

import numpy as np
import pytest
import torch

from danlu.layers import recurrent
from tests.layers.test_recurrent import assert_close, assert_same_calls, flat, random_weights
from tests.oracle import keras

B, T = 2, 4
MASK = [[1, 1, 0, 1], [0, 1, 1, 1]]


def conv_pair(rank, spatial, channels=3, filters=4, seed=0, **options):
    """Keras' ConvLSTM{rank}D (channels last) and danlu's with data_format="channels_last"."""
    k = keras()
    shape = (None, T, *spatial, channels)
    theirs = getattr(k.layers, f"ConvLSTM{rank}D")(filters, **options)
    theirs.build(shape)
    random_weights(theirs, np.random.default_rng(seed), scale=0.3)
    ours = getattr(recurrent, f"ConvLSTM{rank}D")(filters, data_format="channels_last", **options)
    ours.build_from_shape(shape)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def sequence(rank, spatial, channels=3, seed=2):
    return np.random.default_rng(seed).normal(size=(B, T, *spatial, channels)).astype("float32")


CONFIGS = [
    {"kernel_size": 3},
    {"kernel_size": 3, "padding": "same"},
    {"kernel_size": 2, "padding": "same", "strides": 2},
    {"kernel_size": (3, 2), "dilation_rate": 2, "use_bias": False},
    {"kernel_size": 3, "unit_forget_bias": False, "activation": "relu"},
]


@pytest.mark.oracle
@pytest.mark.parametrize("options", CONFIGS, ids=str)
@pytest.mark.parametrize("mask", [None, MASK], ids=["unmasked", "masked"])
def test_conv_lstm_2d_matches_keras(options, mask):
    for go_backwards in (False, True):
        theirs, ours = conv_pair(2, (7, 6), return_sequences=True, return_state=True, go_backwards=go_backwards, **options)
        outputs = assert_same_calls(theirs, ours, sequence(2, (7, 6)), mask=mask)
        assert len(outputs) == 3


@pytest.mark.oracle
def test_initial_states_and_the_last_output_match_keras():
    theirs, ours = conv_pair(2, (5, 5), kernel_size=3, padding="same", return_state=True)
    rng = np.random.default_rng(3)
    states = [rng.normal(size=(B, 5, 5, 4)).astype("float32") for _ in range(2)]
    outputs = assert_same_calls(theirs, ours, sequence(2, (5, 5)), initial_state=states)
    assert tuple(outputs[0].shape) == (B, 5, 5, 4)


@pytest.mark.oracle
@pytest.mark.parametrize("rank, spatial", [(1, (9,)), (3, (4, 5, 3))])
def test_conv_lstm_1d_and_3d_match_keras(rank, spatial):
    theirs, ours = conv_pair(rank, spatial, kernel_size=2, padding="same", return_sequences=True, return_state=True)
    assert_same_calls(theirs, ours, sequence(rank, spatial), mask=MASK)


@pytest.mark.oracle
def test_dropout_matches_keras_given_the_same_masks():
    """Keras draws one mask per gate for the inputs and for the state (channels last there;
    danlu's cell computes channels first)."""
    theirs, ours = conv_pair(2, (6, 6), kernel_size=3, padding="same", dropout=0.3, recurrent_dropout=0.2,
                             return_sequences=True)
    rng = np.random.default_rng(4)

    def masks(shape, rate):
        return [torch.tensor((rng.random(shape) >= rate).astype("float32") / (1 - rate)) for _ in range(4)]

    inputs, state = masks((B, 6, 6, 3), 0.3), masks((B, 6, 6, 4), 0.2)
    theirs.cell._dropout_mask, theirs.cell._recurrent_dropout_mask = inputs, state
    ours.cell._dropout_mask = [m.permute(0, 3, 1, 2) for m in inputs]
    ours.cell._recurrent_dropout_mask = [m.permute(0, 3, 1, 2) for m in state]
    assert_same_calls(theirs, ours, sequence(2, (6, 6)), training=True)


@pytest.mark.oracle
def test_channels_first_is_the_default_layout():
    theirs, channels_last = conv_pair(2, (6, 5), kernel_size=3, padding="same", return_sequences=True, return_state=True)
    ours = recurrent.ConvLSTM2D(4, kernel_size=3, padding="same", return_sequences=True, return_state=True)
    ours.build_from_shape((None, T, 3, 6, 5))
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert tuple(ours.cell.weight_ih.shape) == (16, 3, 3, 3)  # PyTorch's convolution layout
    x = sequence(2, (6, 5))
    out, h, c = ours(torch.tensor(x).permute(0, 1, 4, 2, 3))
    expected = flat(theirs(torch.tensor(x)))
    assert_close(out.permute(0, 1, 3, 4, 2).detach(), expected[0].detach(), "output")
    for ours_state, keras_state in zip((h, c), expected[1:]):
        assert_close(ours_state.permute(0, 2, 3, 1).detach(), keras_state.detach(), "state")


def test_conv_lstm_config_round_trips_and_bad_arguments_fail():
    layer = recurrent.ConvLSTM2D(3, (3, 2), strides=(1, 2), padding="same", data_format="channels_last", dropout=0.1,
                                 return_sequences=True)
    layer.build_from_shape((None, T, 6, 6, 2))
    copy = recurrent.ConvLSTM2D.from_config(layer.get_config())
    copy.build_from_shape((None, T, 6, 6, 2))
    copy.set_weights(layer.get_weights())
    x = torch.randn(B, T, 6, 6, 2)
    torch.testing.assert_close(copy(x), layer(x))
    assert tuple(layer(x).shape) == (B, T, 6, 3, 3)
    with pytest.raises(ValueError, match="data_format must be"):
        recurrent.ConvLSTM2D(2, 3, data_format="nhwc")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        recurrent.ConvLSTM2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size must be"):
        recurrent.ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="filters must be a positive int; received filters=0"):
        recurrent.ConvLSTM2D(0, 3)
    with pytest.raises(ValueError, match="expects inputs of rank 5"):
        recurrent.ConvLSTM2D(2, 3)(torch.randn(B, T, 3, 6))
