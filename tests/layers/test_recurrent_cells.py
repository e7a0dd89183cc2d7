"""RNN over cells against Keras 3.15: the built-in cells, StackedRNNCells, user-written cells
(``state_size`` + ``call(inputs, states)``), and cells called one step at a time."""

import numpy as np
import pytest
import torch

from danlu.layers import Layer, recurrent
from tests.layers.test_recurrent import (
    MASKS, B, F, T, U, as_list, assert_close, assert_same_calls, flat, inputs, random_weights,
)
from tests.oracle import keras

CELLS = ["SimpleRNNCell", "LSTMCell", "GRUCell"]


def rnn_pair(cells_theirs, cells_ours, input_shape=(None, T, F), seed=0, **options):
    k = keras()
    theirs = k.layers.RNN(cells_theirs, **options)
    theirs.build(input_shape)
    random_weights(theirs, np.random.default_rng(seed))
    ours = recurrent.RNN(cells_ours, **options)
    ours.build_from_shape(input_shape)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.oracle
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("mask_kind", [None, "right-padded", "arbitrary"])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_rnn_over_a_builtin_cell_matches_keras(cell, mask_kind, zero_output_for_mask):
    k = keras()
    for go_backwards in (False, True):
        theirs, ours = rnn_pair(getattr(k.layers, cell)(U), getattr(recurrent, cell)(U), return_sequences=True,
                                return_state=True, go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask)
        assert_same_calls(theirs, ours, inputs(), mask=None if mask_kind is None else MASKS[mask_kind])


@pytest.mark.oracle
@pytest.mark.parametrize("mask_kind", [None, "arbitrary"])
def test_stacked_cells_match_keras(mask_kind):
    """``RNN([LSTMCell, GRUCell, SimpleRNNCell])``: one cell's output feeds the next; the
    states come back one entry per cell; the weights are the cells', in order."""
    k = keras()
    theirs, ours = rnn_pair([k.layers.LSTMCell(3), k.layers.GRUCell(4), k.layers.SimpleRNNCell(2)],
                            [recurrent.LSTMCell(3), recurrent.GRUCell(4), recurrent.SimpleRNNCell(2)],
                            return_sequences=True, return_state=True)
    assert isinstance(ours.cell, recurrent.StackedRNNCells)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    mask = None if mask_kind is None else MASKS[mask_kind]
    outputs = assert_same_calls(theirs, ours, inputs(), mask=mask)
    assert [tuple(o.shape) for o in outputs] == [(B, T, 2), (B, 3), (B, 3), (B, 4), (B, 2)]
    rng = np.random.default_rng(3)
    initial = [rng.normal(size=(B, n)).astype("float32") for n in (3, 3, 4, 2)]
    nested = [[torch.tensor(initial[0]), torch.tensor(initial[1])], [torch.tensor(initial[2])], [torch.tensor(initial[3])]]
    x = torch.tensor(inputs())
    for a, b in zip(flat(ours(x, initial_state=nested, mask=None if mask is None else torch.tensor(mask, dtype=torch.bool))),
                    flat(theirs(x, initial_state=nested, mask=None if mask is None else torch.tensor(mask, dtype=torch.bool)))):
        assert_close(a.detach(), b.detach(), "stacked output with initial states")


def test_stacked_cells_built_by_hand_equal_a_list_of_cells():
    cells = [recurrent.GRUCell(4), recurrent.LSTMCell(2)]
    layer = recurrent.RNN(recurrent.StackedRNNCells(cells), return_state=True)
    y, gru_state, lstm_states = layer(torch.randn(2, T, F))
    assert tuple(y.shape) == (2, 2) and len(lstm_states) == 2
    assert layer.cell.state_size == [4, [2, 2]] and layer.cell.output_size == 2
    with pytest.raises(ValueError, match="at least one cell"):
        recurrent.StackedRNNCells([])


def keras_minimal_cell(k):
    class MinimalRNNCell(k.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units, self.state_size = units, units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

        def call(self, inputs, states):
            output = k.ops.matmul(inputs, self.kernel) + k.ops.matmul(states[0], self.recurrent_kernel)
            return output, [output]

    return MinimalRNNCell


class MinimalRNNCell(Layer):
    """Keras' documented example cell, written for danlu."""

    def __init__(self, units, **kwargs):
        self.units, self.state_size = units, units
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]


def keras_two_state_cell(k):
    class TwoStateCell(k.layers.Layer):
        """Output size 2; states (2, 3): a running sum and a tanh memory."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size, self.output_size = [2, 3], 2

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")

        def call(self, inputs, states, training=False):
            memory = k.ops.tanh(k.ops.matmul(inputs, self.kernel) + states[1])
            total = states[0] + memory[:, :2]
            return total * 0.5, [total, memory]

    return TwoStateCell


class TwoStateCell(Layer):
    def __init__(self, **kwargs):
        self.state_size, self.output_size = [2, 3], 2
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")

    def call(self, inputs, states, training=False):
        memory = torch.tanh(inputs @ self.kernel + states[1])
        total = states[0] + memory[:, :2]
        return total * 0.5, [total, memory]


@pytest.mark.oracle
@pytest.mark.parametrize("mask_kind", [None, "left-padded", "arbitrary"])
def test_user_written_cells_match_keras(mask_kind):
    k = keras()
    mask = None if mask_kind is None else MASKS[mask_kind]
    for go_backwards in (False, True):
        theirs, ours = rnn_pair(keras_minimal_cell(k)(U), MinimalRNNCell(U), return_sequences=True, return_state=True,
                                go_backwards=go_backwards)
        assert_same_calls(theirs, ours, inputs(), mask=mask)
        theirs, ours = rnn_pair(keras_two_state_cell(k)(), TwoStateCell(), return_sequences=True, return_state=True,
                                go_backwards=go_backwards)
        outputs = assert_same_calls(theirs, ours, inputs(), mask=mask)
        assert [tuple(o.shape) for o in outputs] == [(B, T, 2), (B, 2), (B, 3)]
    theirs, ours = rnn_pair([keras_minimal_cell(k)(4), k.layers.LSTMCell(U)], [MinimalRNNCell(4), recurrent.LSTMCell(U)],
                            return_state=True)
    assert_same_calls(theirs, ours, inputs(), mask=mask)


def test_a_plain_python_cell_runs_step_by_step():
    class Accumulate:
        state_size = 3

        def call(self, inputs, states):
            total = states[0] + inputs
            return total, [total]

    layer = recurrent.RNN(Accumulate(), return_sequences=True, go_backwards=True)
    x = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(layer(x).numpy(), x.flip(1).cumsum(1).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize("cell", CELLS)
def test_cells_called_one_step_at_a_time_match_keras(cell):
    k = keras()
    theirs, ours = getattr(k.layers, cell)(U), getattr(recurrent, cell)(U)
    theirs.build((None, F))
    random_weights(theirs, np.random.default_rng(1))
    ours.build_from_shape((None, F))
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(B, F)).astype("float32"))
    states = [torch.tensor(rng.normal(size=(B, U)).astype("float32")) for _ in range(2 if cell == "LSTMCell" else 1)]
    out_theirs, new_theirs = theirs(x, states)
    out_ours, new_ours = ours(x, states)
    assert_close(out_ours.detach(), out_theirs.detach(), "output")
    assert len(as_list(new_ours)) == len(as_list(new_theirs))
    for a, b in zip(as_list(new_ours), as_list(new_theirs)):
        assert_close(a.detach(), b.detach(), "state")
    if cell != "LSTMCell":  # a single state given as a tensor comes back as a tensor
        out, state = ours(x, states[0])
        assert isinstance(state, torch.Tensor)
        assert_close(state.detach(), as_list(new_theirs)[0].detach(), "state")
