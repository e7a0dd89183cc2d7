"""Bidirectional against Keras 3.15: every merge mode, return_sequences / return_state, masks,
initial states, a custom backward layer; weights forward layer first."""

import numpy as np
import pytest
import torch

from danlu.layers import recurrent
from danlu.layers.recurrent import fused
from tests.layers.test_recurrent import MASKS, B, F, T, U, assert_same_calls, flat, inputs, random_weights
from tests.oracle import keras

MERGE_MODES = ["concat", "sum", "mul", "ave", None]


@pytest.fixture
def joint_calls(monkeypatch):
    """The number of runs of both directions in one torch kernel call (``calls[0]``)."""
    calls = [0]
    original = fused.run_bidirectional

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(fused, "run_bidirectional", counting)
    return calls


def bidirectional_pair(name, merge_mode="concat", backward=None, input_shape=(None, T, F), seed=0, **options):
    k = keras()
    theirs = k.layers.Bidirectional(getattr(k.layers, name)(U, **options), merge_mode=merge_mode,
                                    backward_layer=None if backward is None else backward[0])
    theirs.build(input_shape)
    random_weights(theirs, np.random.default_rng(seed))
    ours = recurrent.Bidirectional(getattr(recurrent, name)(U, **options), merge_mode=merge_mode,
                                   backward_layer=None if backward is None else backward[1])
    ours.build_from_shape(input_shape)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.oracle
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=str)
@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_every_merge_mode_matches_keras(merge_mode, name, return_sequences, joint_calls):
    """Both directions run in one fused kernel call, and as two layers (``use_cudnn=False``
    on one of them takes each layer's step loop)."""
    for return_state in (False, True):
        theirs, ours = bidirectional_pair(name, merge_mode, return_sequences=return_sequences, return_state=return_state)
        outputs = assert_same_calls(theirs, ours, inputs())
        states = (4 if name == "LSTM" else 2) if return_state else 0
        assert len(outputs) == states + (2 if merge_mode is None else 1)
        ours.backward_layer.use_cudnn = False
        assert_same_calls(theirs, ours, inputs())
    assert joint_calls[0] == 2


@pytest.mark.oracle
@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_masked_bidirectional_layers_match_keras(mask_kind, name, joint_calls):
    """The backward layer sees the mask reversed (a right-padded batch becomes left-padded);
    with return_sequences Keras zeroes the outputs of masked steps in both directions. A
    right-padded batch runs both directions in one kernel call (packed sequences)."""
    for return_sequences in (False, True):
        theirs, ours = bidirectional_pair(name, "concat", return_sequences=return_sequences, return_state=True)
        assert_same_calls(theirs, ours, inputs(), mask=MASKS[mask_kind])
    assert joint_calls[0] == (2 if mask_kind in ("right-padded", "all valid") else 0)


@pytest.mark.oracle
def test_initial_states_are_split_forward_then_backward(joint_calls):
    for return_sequences in (False, True):
        theirs, ours = bidirectional_pair("LSTM", "sum", return_sequences=return_sequences, return_state=True)
        rng = np.random.default_rng(4)
        states = [rng.normal(size=(B, U)).astype("float32") for _ in range(4)]
        assert_same_calls(theirs, ours, inputs(), initial_state=states)
        assert_same_calls(theirs, ours, inputs(), initial_state=states, mask=MASKS["right-padded"])
    assert joint_calls[0] == 4


@pytest.mark.oracle
def test_a_custom_backward_layer_matches_keras():
    k = keras()
    backward = (k.layers.SimpleRNN(U, activation="relu", go_backwards=True, return_sequences=True),
                recurrent.SimpleRNN(U, activation="relu", go_backwards=True, return_sequences=True))
    theirs, ours = bidirectional_pair("GRU", "concat", backward=backward, return_sequences=True)
    assert isinstance(ours.backward_layer, recurrent.SimpleRNN)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert_same_calls(theirs, ours, inputs(), mask=MASKS["right-padded"])


def test_the_wrapped_layer_is_copied_with_fresh_weights_and_names():
    layer = recurrent.LSTM(U, name="encoder", return_sequences=True)
    layer.build_from_shape((None, T, F))
    wrapper = recurrent.Bidirectional(layer)
    assert wrapper.forward_layer is not layer
    assert (wrapper.forward_layer.name, wrapper.backward_layer.name) == ("forward_encoder", "backward_encoder")
    assert (wrapper.forward_layer.go_backwards, wrapper.backward_layer.go_backwards) == (False, True)
    wrapper.build_from_shape((None, T, F))
    assert not np.array_equal(wrapper.get_weights()[0], layer.get_weights()[0])
    flipped = recurrent.Bidirectional(recurrent.GRU(U, go_backwards=True))
    assert (flipped.forward_layer.go_backwards, flipped.backward_layer.go_backwards) == (True, False)


def test_weights_argument_and_masks_passed_on():
    source = recurrent.Bidirectional(recurrent.GRU(U, return_sequences=True), merge_mode=None)
    source.build_from_shape((None, T, F))
    copy = recurrent.Bidirectional(recurrent.GRU(U, return_sequences=True), merge_mode=None, weights=source.get_weights())
    x = torch.randn(B, T, F)
    x._keras_mask = torch.tensor(MASKS["right-padded"], dtype=torch.bool)
    y, y_rev = copy(x)
    for a, b in zip(flat((y, y_rev)), flat(source(x))):
        torch.testing.assert_close(a, b)
    assert torch.equal(y._keras_mask, x._keras_mask) and torch.equal(y_rev._keras_mask, x._keras_mask)


@pytest.mark.oracle
def test_dropout_in_both_directions_matches_keras_given_the_same_masks(joint_calls):
    """While training with dropout each direction draws its own masks, so the two layers run
    separately."""
    theirs, ours = bidirectional_pair("LSTM", "concat", dropout=0.25, recurrent_dropout=0.2, return_sequences=True)
    rng = np.random.default_rng(6)
    for mask in (None, MASKS["arbitrary"]):
        for theirs_layer, ours_layer in ((theirs.forward_layer, ours.forward_layer),
                                         (theirs.backward_layer, ours.backward_layer)):
            masks = [torch.tensor((rng.random((B, F)) >= 0.25).astype("float32") / 0.75) for _ in range(4)]
            state_masks = [torch.tensor((rng.random((B, U)) >= 0.2).astype("float32") / 0.8) for _ in range(4)]
            for layer in (theirs_layer, ours_layer):
                layer.cell._dropout_mask, layer.cell._recurrent_dropout_mask = masks, state_masks
        assert_same_calls(theirs, ours, inputs(), mask=mask, training=True)
    assert joint_calls[0] == 0
    assert_same_calls(theirs, ours, inputs())  # at inference: one fused call
    assert joint_calls[0] == 1


@pytest.mark.oracle
def test_stateful_bidirectional_layers_carry_and_reset_states():
    theirs, ours = bidirectional_pair("GRU", "concat", input_shape=(B, T, F), stateful=True, return_sequences=True)
    theirs.forward_layer.use_cudnn = theirs.backward_layer.use_cudnn = False  # Keras' fused path breaks its backward
    assert_same_calls(theirs, ours, inputs(3))
    assert_same_calls(theirs, ours, inputs(4))
    assert len(ours.states) == 2
    theirs.reset_states()
    ours.reset_states()
    assert_same_calls(theirs, ours, inputs(5))
    with pytest.raises(AttributeError, match="not stateful"):
        recurrent.Bidirectional(recurrent.GRU(2)).reset_states()


def test_bad_arguments_are_rejected_clearly():
    from danlu.layers import Dense

    with pytest.raises(ValueError, match='merge_mode.*Did you mean "concat"'):
        recurrent.Bidirectional(recurrent.LSTM(2), merge_mode="concatenate")
    with pytest.raises(ValueError, match="recurrent danlu layer"):
        recurrent.Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="different go_backwards"):
        recurrent.Bidirectional(recurrent.LSTM(2), backward_layer=recurrent.LSTM(2))
    with pytest.raises(ValueError, match="same return_sequences"):
        recurrent.Bidirectional(recurrent.LSTM(2), backward_layer=recurrent.LSTM(2, go_backwards=True, return_sequences=True))
