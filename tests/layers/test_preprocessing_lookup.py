"""StringLookup, IntegerLookup and TextVectorization against Keras 3.15.1.

Keras' lookup and text layers run on TensorFlow even on the torch backend, so their oracle
tests import it (``pytest.importorskip`` guards; CI installs ``tensorflow-cpu``); danlu's
never do. Token ids must match exactly; tf-idf floats to rtol 1e-5."""

import json

import numpy as np
import pytest
import torch

import danlu
from danlu.layers.preprocessing import IntegerLookup, StringLookup, TextVectorization
from tests.oracle import keras, to_numpy


def tf_keras():
    pytest.importorskip("tensorflow")
    return keras()


def assert_same(ours, theirs, rtol=1e-5):
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=rtol, atol=1e-6)


def round_trip(layer):
    config = json.loads(json.dumps(danlu.saving.serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(config)
    clone.load_state_dict(layer.state_dict())
    return clone


WORDS = ["b", "a", "c", "a", "b", "a", "d", "e", "e", "f", "[UNK]", "", "zz", "é", "c"]
TEXTS = ["The cat sat.", "the DOG, sat!", "a cat  and a dog", "Zebra", "ünïcode Ünï ok ok", "tab\tsep\u00a0nbsp",
         "it's-a (test) [of] {punct}", ""]


# --- StringLookup ---------------------------------------------------------------------------------

STRING_CASES = [
    {}, {"mask_token": ""}, {"num_oov_indices": 0}, {"num_oov_indices": 3}, {"num_oov_indices": 4, "salt": 17},
    {"max_tokens": 4}, {"output_mode": "one_hot"}, {"output_mode": "multi_hot", "mask_token": ""},
    {"output_mode": "count", "num_oov_indices": 2}, {"output_mode": "tf_idf"},
    {"output_mode": "tf_idf", "max_tokens": 6, "pad_to_max_tokens": True},
    {"output_mode": "multi_hot", "max_tokens": 8, "pad_to_max_tokens": True},
]


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", STRING_CASES)
def test_string_lookup_adapt_and_call_match_keras(kwargs):
    k = tf_keras()
    adapt_data = np.array(WORDS).reshape(5, 3) if kwargs.get("output_mode") == "tf_idf" else WORDS
    theirs, ours = k.layers.StringLookup(**kwargs), StringLookup(**kwargs)
    theirs.adapt(adapt_data)
    ours.adapt(adapt_data)
    assert ours.get_vocabulary() == theirs.get_vocabulary()
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    known = [w for w in WORDS if w not in ("[UNK]",)]
    inputs = [np.array(known[:12]).reshape(4, 3), np.array(known[:6]), np.array(known[:4]).reshape(4, 1)]
    if kwargs.get("num_oov_indices", 1) > 0:
        inputs.append(np.array(["a", "new", "q", "", "unseen words", "b"]).reshape(2, 3))
    for x in inputs:
        if kwargs.get("output_mode") == "one_hot" and x.ndim == 2 and x.shape[1] != 1:
            continue
        assert_same(ours(x), theirs(x))
    clone = round_trip(ours)
    for x in inputs[:2]:
        assert torch.equal(clone(x), ours(x))


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [{}, {"mask_token": "[MASK]"}, {"num_oov_indices": 2}, {"output_mode": "count"},
                                    {"output_mode": "tf_idf", "idf_weights": [0.5, 1.0, 1.5, 2.0]}])
def test_string_lookup_given_vocabulary_matches_keras(kwargs):
    k = tf_keras()
    vocabulary = ["cat", "dog", "é", "z"]
    theirs, ours = k.layers.StringLookup(vocabulary=vocabulary, **kwargs), StringLookup(vocabulary=vocabulary, **kwargs)
    assert ours.get_vocabulary() == theirs.get_vocabulary()
    x = np.array([["cat", "z", "bird"], ["é", "[MASK]", "dog"]])
    assert_same(ours(x), theirs(x))
    assert_same(ours(x.tolist()), theirs(x))
    assert_same(ours(np.char.encode(x, "utf-8")), theirs(x))  # bytes are decoded
    with_special = ours.get_vocabulary()
    both = StringLookup(vocabulary=with_special, **{**kwargs, **({"idf_weights": list(ours.idf_weights.numpy())}
                                                                if "idf_weights" in kwargs else {})})
    assert both.get_vocabulary() == with_special
    assert_same(both(x), theirs(x))
    assert StringLookup.from_config(ours.get_config()).get_vocabulary() == with_special


@pytest.mark.oracle
@pytest.mark.parametrize("mask_token", [None, ""])
def test_string_lookup_invert_matches_keras(mask_token):
    k = tf_keras()
    vocabulary = ["a", "b", "c"]
    theirs = k.layers.StringLookup(vocabulary=vocabulary, invert=True, mask_token=mask_token)
    ours = StringLookup(vocabulary=vocabulary, invert=True, mask_token=mask_token)
    ids = np.array([0, 1, 2, 3, 4, 5, -1])
    assert ours(ids).tolist() == list(theirs(ids))
    assert ours(torch.tensor([[0, 3], [2, 1]])).tolist() == [[x for x in theirs(np.array(r))] for r in [[0, 3], [2, 1]]]
    forward = StringLookup(vocabulary=vocabulary, mask_token=mask_token)
    words = np.array(["a", "c", "zz", "b"])
    assert ours(forward(words)).tolist() == ["a", "c", "[UNK]", "b"]


def test_string_lookup_bad_input():
    with pytest.raises(ValueError, match="repeated tokens"):
        StringLookup(vocabulary=["a", "b", "a"])
    with pytest.raises(ValueError, match="mask_token '' is in the vocabulary at index 1"):
        StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="max_tokens is 3"):
        StringLookup(vocabulary=["a", "b", "c"], max_tokens=3)
    with pytest.raises(ValueError, match='Did you mean "multi_hot"'):
        StringLookup(output_mode="multi-hot")
    with pytest.raises(ValueError, match="invert=True needs output_mode='int'"):
        StringLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="needs its idf_weights"):
        StringLookup(vocabulary=["a"], output_mode="tf_idf")
    with pytest.raises(ValueError, match="idf_weights is used only"):
        StringLookup(vocabulary=["a"], idf_weights=[1.0])
    with pytest.raises(ValueError, match="cannot be adapted"):
        StringLookup(vocabulary=["a"]).adapt(["a", "b"])
    with pytest.raises(ValueError, match="needs its vocabulary before it is called"):
        StringLookup(output_mode="multi_hot")(["a"])
    with pytest.raises(ValueError, match=r"num_oov_indices=0 every input must be in the vocabulary; found \['q'\]"):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(["a", "q"])
    with pytest.raises(TypeError, match="torch has no string tensors"):
        StringLookup(vocabulary=["a"])(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="must be strings"):
        StringLookup(vocabulary=["a"])(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="empty vocabulary"):
        StringLookup(vocabulary=[])
    with pytest.raises(ValueError, match="max_tokens must be an int greater than 1"):
        StringLookup(max_tokens=1)


def test_adapt_on_data_of_the_wrong_kind_raises():
    with pytest.raises(TypeError, match="adapt data must be strings"):
        StringLookup().adapt(np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="adapt data must be integers"):
        IntegerLookup().adapt(["a", "b"])
    with pytest.raises(TypeError, match="must be integers"):
        IntegerLookup().adapt(np.array([0.5, 1.5]))
    with pytest.raises(TypeError, match="TextVectorization inputs must be strings"):
        TextVectorization().adapt(torch.zeros(3))
    with pytest.raises(TypeError, match="received a dict"):
        StringLookup().adapt(iter([{"x": ["a"]}]))
    with pytest.raises(TypeError, match="takes a numpy array, a torch tensor, a list"):
        IntegerLookup().adapt(5)


def test_string_lookup_vocabulary_file_and_adapt_sources(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("cat\ndog\n\n", encoding="utf-8")
    layer = StringLookup(vocabulary=str(path))
    assert layer.get_vocabulary() == ["[UNK]", "cat", "dog"]
    assert layer(["dog", "cow"]).tolist() == [2, 0]
    assert layer.get_config()["vocabulary"] == ["[UNK]", "cat", "dog"]
    counts = StringLookup()
    counts.adapt(iter([np.array(["x", "y"]), ["y", "z", "y"]]))
    assert counts.get_vocabulary() == ["[UNK]", "y", "z", "x"]  # by count, ties by token, decreasing
    assert counts.get_weights() == [] and list(counts.state_dict()) == []


# --- IntegerLookup --------------------------------------------------------------------------------

INTEGER_CASES = [
    {}, {"mask_token": 0}, {"num_oov_indices": 0}, {"num_oov_indices": 3}, {"num_oov_indices": 3, "oov_method": "farmhash"},
    {"num_oov_indices": 2, "oov_method": "farmhash", "salt": [4, 5]}, {"max_tokens": 4, "mask_token": 0},
    {"output_mode": "multi_hot"}, {"output_mode": "count", "mask_token": 0}, {"output_mode": "one_hot"},
    {"output_mode": "tf_idf"}, {"output_mode": "tf_idf", "max_tokens": 9, "pad_to_max_tokens": True},
]


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", INTEGER_CASES)
def test_integer_lookup_adapt_and_call_match_keras(kwargs):
    k = tf_keras()
    data = np.array([[12, 1138, 42], [42, 1000, 36], [1138, 42, 7], [0, -1, 42], [36, 36, 12]])
    theirs, ours = k.layers.IntegerLookup(**kwargs), IntegerLookup(**kwargs)
    theirs.adapt(data)
    ours.adapt(torch.as_tensor(data))
    assert [int(v) for v in ours.get_vocabulary()] == [int(v) for v in theirs.get_vocabulary()]
    inputs = [np.array([[12, 42], [36, 1138]]), np.array([7, 1000, 12]), np.array([[42], [36]])]
    if kwargs.get("num_oov_indices", 1) > 0:
        inputs.append(np.array([[5, -7, 0], [123456, 42, -1]]))
    for x in inputs:
        if kwargs.get("output_mode") == "one_hot" and x.ndim == 2 and x.shape[1] != 1:
            continue
        assert_same(ours(x), theirs(x))
        assert_same(ours(torch.as_tensor(x, dtype=torch.int32)), theirs(x))
    clone = round_trip(ours)
    assert torch.equal(clone(inputs[0]), ours(inputs[0]))


@pytest.mark.oracle
@pytest.mark.parametrize("mask_token", [None, 0])
def test_integer_lookup_invert_matches_keras(mask_token):
    k = tf_keras()
    vocabulary = [12, 36, 1138, 42]
    theirs = k.layers.IntegerLookup(vocabulary=vocabulary, invert=True, mask_token=mask_token)
    ours = IntegerLookup(vocabulary=vocabulary, invert=True, mask_token=mask_token)
    ids = np.array([[0, 1, 2], [3, 4, 5], [6, -1, 2]])
    assert_same(ours(ids), theirs(ids))
    assert ours(ids).dtype == torch.int64


def test_integer_lookup_bad_input_and_devices():
    with pytest.raises(TypeError, match="integer tokens"):
        IntegerLookup(vocabulary=[1, 2])(torch.tensor([1.0]))
    with pytest.raises(TypeError, match="must be integers"):
        IntegerLookup(vocabulary=[1.5, 2.0])
    with pytest.raises(ValueError, match="salt is used only with oov_method='farmhash'"):
        IntegerLookup(salt=3)
    with pytest.raises(ValueError, match='Did you mean "farmhash"'):
        IntegerLookup(oov_method="farm")
    with pytest.raises(ValueError, match="vocabulary_dtype='int64'"):
        IntegerLookup(vocabulary_dtype="int32")
    with pytest.raises(ValueError, match=r"found \[99\]"):
        IntegerLookup(vocabulary=[1], num_oov_indices=0)(torch.tensor([1, 99]))
    layer = IntegerLookup(vocabulary=[5, 3, 9], mask_token=0)
    assert layer(torch.tensor([[9, 0, 4, 5]])).tolist() == [[4, 0, 1, 2]]
    assert layer.get_config()["vocabulary"] == [0, -1, 5, 3, 9]
    empty = IntegerLookup()
    assert empty(torch.tensor([1, 2])).tolist() == [0, 0]


# --- TextVectorization ----------------------------------------------------------------------------

TEXT_CASES = [
    {}, {"output_sequence_length": 3}, {"output_sequence_length": 9, "ngrams": 2}, {"ngrams": (1, 3)},
    {"max_tokens": 7}, {"standardize": "lower"}, {"standardize": "strip_punctuation"}, {"standardize": None},
    {"split": "character", "standardize": "lower"}, {"split": None, "standardize": None},
    {"output_mode": "multi_hot", "max_tokens": 6}, {"output_mode": "count", "ngrams": 2},
    {"output_mode": "tf_idf"}, {"output_mode": "tf_idf", "max_tokens": 9, "pad_to_max_tokens": True},
    {"output_mode": "multi_hot", "max_tokens": 40, "pad_to_max_tokens": True},
]


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", TEXT_CASES)
def test_text_vectorization_adapt_and_call_match_keras(kwargs):
    k = tf_keras()
    theirs, ours = k.layers.TextVectorization(**kwargs), TextVectorization(**kwargs)
    theirs.adapt(TEXTS)
    ours.adapt(TEXTS)
    assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
    tests = TEXTS + ["Unknown words, the cat!", "dog dog dog"]
    assert_same(ours(tests), theirs(tests))
    assert_same(ours(np.array(tests)[:, None]), theirs(np.array(tests)[:, None]))
    clone = round_trip(ours)
    assert clone.get_vocabulary() == ours.get_vocabulary()
    assert torch.equal(clone(tests), ours(tests))


@pytest.mark.oracle
def test_text_vectorization_adapts_batches_and_given_vocabularies_like_keras():
    k = tf_keras()
    batches = [np.array(TEXTS[:3]), np.array(TEXTS[3:])]
    for kwargs in ({}, {"output_mode": "tf_idf"}):
        theirs, ours = k.layers.TextVectorization(**kwargs), TextVectorization(**kwargs)
        theirs.adapt(iter(batches))
        ours.adapt(iter(batches))
        assert ours.get_vocabulary() == [str(t) for t in theirs.get_vocabulary()]
        assert_same(ours(TEXTS), theirs(TEXTS))
    vocabulary, idf = ["cat", "the", "sat"], [0.5, 1.5, 2.0]
    for kwargs in ({"vocabulary": vocabulary}, {"vocabulary": vocabulary, "output_mode": "tf_idf", "idf_weights": idf},
                   {"vocabulary": vocabulary, "output_mode": "count", "pad_to_max_tokens": True, "max_tokens": 10}):
        theirs, ours = k.layers.TextVectorization(**kwargs), TextVectorization(**kwargs)
        assert ours.get_vocabulary() == theirs.get_vocabulary()
        assert_same(ours(TEXTS), theirs(TEXTS))
    ours = TextVectorization()
    ours.set_vocabulary(["b", "a"])
    theirs = k.layers.TextVectorization()
    theirs.set_vocabulary(["b", "a"])
    assert_same(ours(["a b c", "b"]), theirs(["a b c", "b"]))


def test_text_vectorization_callables_shapes_and_errors():
    layer = TextVectorization(standardize=lambda s: np.char.upper(s.astype(str)), split=lambda s: [t.split("-") for t in s])
    layer.adapt(["a-b", "b-c-b"])
    assert layer.get_vocabulary() == ["", "[UNK]", "B", "C", "A"]
    assert layer(["c-a", "x"]).tolist() == [[3, 4], [1, 0]]
    assert TextVectorization(output_sequence_length=4).compute_output_shape((None, 1)) == (None, 4)
    counts = TextVectorization(output_mode="count", max_tokens=5, pad_to_max_tokens=True)
    assert counts.compute_output_shape((None, 1)) == (None, 5)
    assert counts.get_weights() == []
    with pytest.raises(ValueError, match='Did you mean "lower"'):
        TextVectorization(standardize="lowr")
    with pytest.raises(ValueError, match='Did you mean "character"'):
        TextVectorization(split="characters")
    with pytest.raises(ValueError, match="does not support output_mode='one_hot'"):
        TextVectorization(output_mode="one_hot")
    with pytest.raises(ValueError, match="output_sequence_length is used only"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="ngrams needs split"):
        TextVectorization(split=None, ngrams=2)
    with pytest.raises(ValueError, match=r"\(batch,\) or \(batch, 1\)"):
        TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="cannot be adapted"):
        TextVectorization(vocabulary=["a"]).adapt(["a"])


# --- Inside models --------------------------------------------------------------------------------


def test_string_layers_work_in_sequential_models_and_on_symbolic_string_inputs():
    vectorize = TextVectorization(output_sequence_length=5)
    vectorize.adapt(TEXTS)
    model = danlu.Sequential([vectorize, danlu.layers.Embedding(vectorize.vocabulary_size(), 3)])
    out = model(["the cat sat", "a dog"])
    assert out.shape == (2, 5, 3)
    inputs = danlu.Input(shape=(1,), dtype="string")
    ids = vectorize(inputs)
    assert ids.shape == (None, 5) and ids.dtype == torch.int64
    words = StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")(inputs)
    assert words.shape == (None, 3) and words.dtype == torch.float32
    back = StringLookup(vocabulary=["a", "b"], invert=True)(danlu.Input(shape=(2,), dtype="int64"))
    assert back.dtype == "string" and back.shape == (None, 2)
    functional = danlu.Model(inputs, danlu.layers.Dense(2)(danlu.layers.Flatten()(danlu.layers.Embedding(20, 4)(ids))))
    assert functional.output.shape == (None, 2)
    numbers = IntegerLookup(vocabulary=[3, 5, 7])
    integer_model = danlu.Sequential([danlu.Input((2,), dtype="int64"), numbers, danlu.layers.Embedding(4, 2)])
    assert integer_model(torch.tensor([[3, 9]])).shape == (1, 2, 2)
