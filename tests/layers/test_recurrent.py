"""SimpleRNN, LSTM and GRU against Keras 3.15 (torch backend): the same weights
(``set_weights(keras_layer.get_weights())``) and inputs give the same outputs, states and
gradients (input, initial states, every weight), on the fused path and on the step loop.

The helpers here (`keras_and_ours`, `assert_same_calls`, ...) are shared by the other
``test_recurrent_*`` files."""

import numpy as np
import pytest
import torch

from danlu.layers import recurrent
from danlu.layers.recurrent import fused
from tests.oracle import keras

B, T, F, U = 4, 6, 5, 3

MASKS = {
    "right-padded": [[1] * 6, [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0] * 6],
    "left-padded": [[1] * 6, [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 1], [0] * 6],
    "one run": [[0, 1, 1, 1, 0, 0], [1] * 6, [0, 0, 0, 0, 1, 0], [0, 1, 1, 1, 1, 1]],
    "arbitrary": [[1, 0, 1, 0, 1, 1], [0, 1, 1, 0, 0, 1], [1, 1, 1, 1, 1, 0], [0, 0, 1, 0, 0, 0]],
    "all valid": [[1] * 6] * 4,
}

# (layer, cell options, whether torch's fused kernel computes it)
CONFIGS = [
    ("SimpleRNN", {}, True),
    ("SimpleRNN", {"activation": "relu"}, True),
    ("SimpleRNN", {"activation": "selu"}, False),
    ("LSTM", {}, True),
    ("LSTM", {"use_bias": False}, True),
    ("LSTM", {"recurrent_activation": "hard_sigmoid"}, False),
    ("GRU", {}, True),
    ("GRU", {"use_bias": False}, True),
    ("GRU", {"reset_after": False}, False),
    ("GRU", {"reset_after": False, "use_bias": False}, False),
]


def random_weights(layer, rng, scale=0.5):
    layer.set_weights([(scale * rng.normal(size=w.shape)).astype("float32") for w in layer.get_weights()])


def keras_and_ours(name, units=U, input_shape=(None, T, F), seed=0, ours_class=None, **options):
    """A built Keras layer with random weights and the danlu layer holding the same ones."""
    k = keras()
    theirs = getattr(k.layers, name)(units, **options)
    theirs.build(input_shape)
    random_weights(theirs, np.random.default_rng(seed))
    ours = (ours_class or getattr(recurrent, name))(units, **options)
    ours.build_from_shape(input_shape)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def flat(values):
    out = []
    for v in as_list(values):
        out.extend(flat(v) if isinstance(v, (list, tuple)) else [v])
    return out


def keras_layout_gradient(weight, gradient):
    layout = getattr(weight, "keras_layout", None)
    return gradient.permute(layout) if layout else gradient


def assert_close(ours, theirs, what):
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != Keras' {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=2e-6 * scale, err_msg=what)


def assert_same_calls(theirs, ours, x, seed=1, mask=None, initial_state=None, **call_options):
    """Call both layers on ``x`` (and ``mask`` / ``initial_state``); compare every output and
    the gradients of a random projection of them w.r.t. ``x``, the initial states and each
    trainable weight (ours mapped to Keras' layout)."""
    rng = np.random.default_rng(seed)
    x_theirs, x_ours = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    states = [None, None]
    if initial_state is not None:
        states = [[torch.tensor(s, requires_grad=True) for s in initial_state] for _ in range(2)]
    extra = {} if mask is None else {"mask": torch.tensor(np.asarray(mask, bool))}
    out_theirs = flat(theirs(x_theirs, initial_state=states[0], **extra, **call_options))
    out_ours = flat(ours(x_ours, initial_state=states[1], **extra, **call_options))
    assert len(out_ours) == len(out_theirs)
    for i, (a, b) in enumerate(zip(out_ours, out_theirs)):
        assert_close(a.detach(), b.detach(), f"output {i}")
    probes = [torch.tensor(rng.normal(size=tuple(o.shape)).astype("float32")) for o in out_theirs]
    weights_theirs = [v.value for v in theirs.trainable_weights]
    weights_ours = list(ours.trainable_weights)
    assert len(weights_ours) == len(weights_theirs)
    inputs_theirs = [x_theirs] + (states[0] or []) + weights_theirs
    inputs_ours = [x_ours] + (states[1] or []) + weights_ours
    grads_theirs = torch.autograd.grad(sum((o * p).sum() for o, p in zip(out_theirs, probes)), inputs_theirs,
                                       allow_unused=True)
    grads_ours = torch.autograd.grad(sum((o * p).sum() for o, p in zip(out_ours, probes)), inputs_ours, allow_unused=True)
    for i, (tensor, a, b) in enumerate(zip(inputs_ours, grads_ours, grads_theirs)):
        a = torch.zeros_like(tensor) if a is None else a
        b = torch.zeros(tuple(b.shape) if b is not None else ()) if b is None else b
        assert_close(keras_layout_gradient(tensor, a).detach(), b.detach(), f"gradient {i}")
    return out_ours


@pytest.fixture
def fused_calls(monkeypatch):
    """The number of runs of torch's fused kernels (``calls[0]``) during a test."""
    calls = [0]
    original = fused.run_fused

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(fused, "run_fused", counting)
    return calls


def inputs(seed=2, shape=(B, T, F)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- Outputs, states, gradients --------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("name, options, fusable", CONFIGS, ids=lambda v: str(v))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "sequences"])
def test_outputs_states_and_gradients_match_keras(name, options, fusable, go_backwards, return_sequences, fused_calls):
    theirs, ours = keras_and_ours(name, go_backwards=go_backwards, return_sequences=return_sequences, return_state=True,
                                  **options)
    outputs = assert_same_calls(theirs, ours, inputs())
    assert len(outputs) == (3 if name == "LSTM" else 2)
    assert fused_calls[0] == (1 if fusable else 0)


@pytest.mark.oracle
@pytest.mark.parametrize("name, options, fusable", CONFIGS, ids=lambda v: str(v))
@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forwards", "backwards"])
def test_masked_sequences_match_keras(name, options, fusable, mask_kind, go_backwards, fused_calls):
    """Keras carries the states through masked steps and repeats the previous output there
    (zeros before a sample's first valid step); a sample with no valid step keeps its
    initial states. One run of valid steps per sample goes through the fused kernel."""
    for return_sequences in (False, True):
        theirs, ours = keras_and_ours(name, go_backwards=go_backwards, return_sequences=return_sequences,
                                      return_state=True, **options)
        assert_same_calls(theirs, ours, inputs(), mask=MASKS[mask_kind])
    assert fused_calls[0] == (2 if fusable and mask_kind != "arbitrary" else 0)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("mask_kind", [None, "right-padded", "arbitrary"])
def test_given_initial_states_match_keras(name, mask_kind):
    theirs, ours = keras_and_ours(name, return_sequences=True, return_state=True)
    rng = np.random.default_rng(5)
    states = [rng.normal(size=(B, U)).astype("float32") for _ in range(2 if name == "LSTM" else 1)]
    assert_same_calls(theirs, ours, inputs(), mask=None if mask_kind is None else MASKS[mask_kind], initial_state=states)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_a_plain_call_returns_the_last_output_only(name):
    theirs, ours = keras_and_ours(name)
    out = assert_same_calls(theirs, ours, inputs())
    assert len(out) == 1 and tuple(out[0].shape) == (B, U)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_batch_of_one_single_step_and_unroll_match_keras(name):
    theirs, ours = keras_and_ours(name, input_shape=(None, 1, 2), return_sequences=True, return_state=True)
    assert_same_calls(theirs, ours, inputs(shape=(1, 1, 2)))
    theirs, ours = keras_and_ours(name, unroll=True, return_sequences=True, return_state=True)
    assert_same_calls(theirs, ours, inputs())


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("mask_kind", [None, "left-padded", "arbitrary"])
def test_forced_loop_agrees_with_the_fused_kernel(name, mask_kind):
    """``use_cudnn=False`` (or any configuration torch cannot fuse) takes the step loop: the
    same numbers, gradients included."""
    mask = None if mask_kind is None else MASKS[mask_kind]
    for go_backwards in (False, True):
        theirs, fused_layer = keras_and_ours(name, return_sequences=True, return_state=True, go_backwards=go_backwards)
        looping = getattr(recurrent, name)(U, return_sequences=True, return_state=True, go_backwards=go_backwards)
        looping.build_from_shape((None, T, F))
        looping.set_weights(fused_layer.get_weights())
        looping.use_cudnn = False
        assert_same_calls(theirs, looping, inputs(), mask=mask)
        assert_same_calls(theirs, fused_layer, inputs(), mask=mask)


@pytest.mark.oracle
def test_use_cudnn_true_raises_where_the_fused_kernel_cannot_run():
    _, ours = keras_and_ours("GRU", reset_after=False, use_cudnn=True)
    with pytest.raises(ValueError, match="use_cudnn=True"):
        ours(torch.tensor(inputs()))
    _, ours = keras_and_ours("LSTM", use_cudnn=True)
    ours(torch.tensor(inputs()), mask=torch.tensor(MASKS["right-padded"], dtype=torch.bool))
    with pytest.raises(ValueError, match="use_cudnn=True"):
        ours(torch.tensor(inputs()), mask=torch.tensor(MASKS["arbitrary"], dtype=torch.bool))


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_mask_on_the_input_tensor_is_used_and_passed_on(name):
    """A mask travels as ``x._keras_mask`` (what ``Embedding(mask_zero=True)`` attaches);
    the output keeps it with ``return_sequences``."""
    theirs, ours = keras_and_ours(name, return_sequences=True)
    x = torch.tensor(inputs())
    mask = torch.tensor(MASKS["right-padded"], dtype=torch.bool)
    x._keras_mask = mask
    y = ours(x)
    assert_close(y.detach(), theirs(torch.tensor(inputs()), mask=mask).detach(), "output")
    assert torch.equal(y._keras_mask, mask)
    _, last_only = keras_and_ours(name)
    assert getattr(last_only(x), "_keras_mask", None) is None


# --- Dropout -----------------------------------------------------------------------------------


def dropout_masks(rng, count, shape, rate):
    def one():
        return torch.tensor((rng.random(shape) >= rate).astype("float32") / (1 - rate))

    return one() if count is None else [one() for _ in range(count)]


@pytest.mark.oracle
@pytest.mark.parametrize("name, gates", [("SimpleRNN", None), ("LSTM", 4), ("GRU", 3)])
@pytest.mark.parametrize("recurrent_dropout", [0.0, 0.4])
def test_dropout_matches_keras_given_the_same_masks(name, gates, recurrent_dropout, fused_calls):
    """Keras draws one mask per sequence (one per gate with recurrent dropout, its
    ``implementation=1``) and uses it at every step; given the same masks (set where both
    cache them) the training outputs and gradients agree. Input dropout alone stays fused."""
    theirs, ours = keras_and_ours(name, dropout=0.3, recurrent_dropout=recurrent_dropout, return_sequences=True,
                                  return_state=True)
    rng = np.random.default_rng(9)
    count = gates if recurrent_dropout else None
    for go_backwards in (False, True):
        for mask in (None, MASKS["right-padded"]):
            theirs.go_backwards = ours.go_backwards = go_backwards
            masks = dropout_masks(rng, count, (B, F), 0.3)
            recurrent_masks = dropout_masks(rng, count, (B, U), 0.4) if recurrent_dropout else None
            for layer in (theirs, ours):
                layer.cell._dropout_mask = masks
                layer.cell._recurrent_dropout_mask = recurrent_masks
            assert_same_calls(theirs, ours, inputs(), mask=mask, training=True)
            assert ours.cell._dropout_mask is None  # reset after each call
    assert fused_calls[0] == (0 if recurrent_dropout else 4)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_dropout_is_inactive_at_inference_and_random_while_training(name):
    theirs, ours = keras_and_ours(name, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x = torch.tensor(inputs())
    assert_close(ours(x).detach(), theirs(x).detach(), "inference output")
    torch.manual_seed(0)
    first, second = ours(x, training=True), ours(x, training=True)
    assert not torch.allclose(first, second)
    assert not torch.allclose(first, ours(x))


# --- Stateful --------------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_stateful_layers_carry_states_across_calls_until_reset(name):
    theirs, ours = keras_and_ours(name, input_shape=(B, T, F), stateful=True, return_sequences=True)
    # Keras' own fused path assigns its state variables in place, which breaks its backward pass;
    # its step loop copies them first.
    theirs.use_cudnn = False
    for seed in (3, 4):
        assert_same_calls(theirs, ours, inputs(seed))
    for a, b in zip(flat(ours.states), flat(theirs.states)):
        assert_close(a, b.value.detach(), "state")
    assert not any(s.requires_grad for s in flat(ours.states))
    theirs.reset_states()
    ours.reset_states()
    assert all(float(s.abs().sum()) == 0 for s in flat(ours.states))
    assert_same_calls(theirs, ours, inputs(5))
    assert_same_calls(theirs, ours, inputs(6), mask=MASKS["arbitrary"])
    with pytest.raises(ValueError, match="same batch size"):
        ours(torch.tensor(inputs(shape=(B + 1, T, F))))


def test_stateful_states_are_created_on_first_call_and_can_be_set():
    layer = recurrent.LSTM(U, stateful=True)
    assert layer.states is None
    layer(torch.randn(2, T, F))
    h, c = layer.states
    assert tuple(h.shape) == (2, U) and float(h.abs().sum()) > 0
    layer.reset_states([np.ones((2, U), "float32"), np.zeros((2, U), "float32")])
    assert float(layer.states[0].sum()) == 2 * U
    with pytest.raises(AttributeError, match="not stateful"):
        recurrent.GRU(2).reset_states()
    assert layer.get_weights().__len__() == 3  # the states are not weights (as Keras)
