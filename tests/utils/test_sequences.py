"""pad_sequences against Keras 3.15.1: every padding / truncating pair, maxlen shorter and
longer than the sequences, empty sequences, float values, string dtypes, and the errors."""

import itertools

import numpy as np
import pytest
import torch

from danlu.utils import pad_sequences
from tests.oracle import keras

RNG = np.random.default_rng(1)
INTS = [RNG.integers(1, 50, size=n).tolist() for n in (3, 0, 7, 1, 5, 0, 2)]
FLOATS = [RNG.normal(size=n).tolist() for n in (2, 6, 0, 4)]
STEPS = [RNG.normal(size=(n, 3)).astype("float32") for n in (2, 5, 0, 1)]  # steps with a sample shape
WORDS = [["the", "quick", "brown"], [], ["a"], ["jumps", "over", "lazy", "dogs", "!"]]
SIDES = ("pre", "post")

CASES = [
    (INTS, {}),
    (INTS, {"maxlen": 4}),
    (INTS, {"maxlen": 10}),
    (INTS, {"maxlen": 1}),
    (INTS, {"value": -1}),
    (INTS, {"dtype": "int64", "value": 7}),
    (INTS, {"dtype": "float32", "value": 0.5, "maxlen": 5}),
    (INTS, {"dtype": "int8"}),
    (FLOATS, {"dtype": "float32"}),
    (FLOATS, {"dtype": "float64", "value": np.nan, "maxlen": 3}),
    (FLOATS, {}),  # floats into int32: truncated, as numpy casts
    (STEPS, {"dtype": "float32", "maxlen": 3, "value": 9.0}),
    (WORDS, {"dtype": object, "value": "<pad>"}),
    (WORDS, {"dtype": object, "value": "", "maxlen": 3}),
    (WORDS, {"dtype": "U4", "value": "_"}),
    (WORDS, {"dtype": str, "value": "-", "maxlen": 2}),
    (WORDS, {"dtype": object}),  # numeric padding in an object array
    ([[b"ab", b"c"], [b"d"]], {"dtype": "S1", "value": b"x"}),
    ([[], []], {}),
    ([], {"maxlen": 3}),
    (np.arange(12).reshape(3, 4), {"maxlen": 2}),
    ([np.array([1, 2]), np.array([3])], {"maxlen": 3}),
]


@pytest.mark.oracle
@pytest.mark.parametrize("padding,truncating", list(itertools.product(SIDES, SIDES)))
@pytest.mark.parametrize("sequences,kwargs", CASES)
def test_pad_sequences_equals_keras(sequences, kwargs, padding, truncating):
    ours = pad_sequences(sequences, padding=padding, truncating=truncating, **kwargs)
    theirs = keras().utils.pad_sequences(sequences, padding=padding, truncating=truncating, **kwargs)
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_semantics_spelled_out():
    seqs = [[1], [2, 3], [4, 5, 6]]
    assert pad_sequences(seqs).tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(seqs, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(seqs, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert pad_sequences(seqs, dtype="int32").dtype == np.int32


def test_pad_sequences_takes_tensors_and_torch_dtypes():
    out = pad_sequences([torch.tensor([1.5, 2.5]), torch.tensor([3.0])], dtype=torch.float32)
    assert out.dtype == np.float32 and out.tolist() == [[1.5, 2.5], [0.0, 3.0]]


def test_pad_sequences_maxlen_zero_gives_empty_rows():  # Keras fails to broadcast here
    assert pad_sequences([[1, 2], []], maxlen=0).shape == (2, 0)


@pytest.mark.oracle
@pytest.mark.parametrize("sequences,kwargs,error", [
    ([["a"]], {"value": "x"}, ValueError),  # a str value needs dtype=object or a str dtype
    ([[[1, 2], [3, 4]], [[5, 6, 7]]], {}, ValueError),  # inconsistent sample shapes
    ([1, 2], {}, ValueError),  # not a list of sequences
    (5, {}, ValueError),
    ([[1]], {"padding": "mid"}, ValueError),
    ([[1]], {"truncating": "middle"}, ValueError),
    ([[1, 2]], {"maxlen": -1}, ValueError),
    ([], {}, ValueError),
    ([[1, 2]], {"dtype": "bogus"}, TypeError),
])
def test_pad_sequences_errors_match_keras(sequences, kwargs, error):
    with pytest.raises(error):
        keras().utils.pad_sequences(sequences, **kwargs)
    with pytest.raises(error):
        pad_sequences(sequences, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    ({"padding": "psot"}, 'Unknown padding identifier .*Did you mean "post"'),
    ({"truncating": "pr"}, 'Unknown truncating identifier .*Did you mean "pre"'),
    ({"maxlen": 2.0}, "maxlen must be an int >= 0 or None; received maxlen=2.0"),
    ({"value": "x"}, "dtype='int32' cannot hold the str value='x'; use dtype=object"),
])
def test_pad_sequences_messages_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences([[1, 2]], **kwargs)


def test_pad_sequences_names_the_bad_entry():
    with pytest.raises(ValueError, match="position 1 is int 3"):
        pad_sequences([[1], 3])
    with pytest.raises(ValueError, match="sequence at position 1 have shape \\(3,\\)"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])
    with pytest.raises(ValueError, match="position 0 is str"):
        pad_sequences(["abc"], dtype=object)
