"""Every preprocessing layer: configs survive JSON, state survives state_dict, Keras' weight
lists, and danlu itself never needs TensorFlow."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import danlu
from danlu.layers import preprocessing as P
from tests.oracle import keras

TEXTS = ["the cat sat", "a dog sat", "the end"]


def adapted(layer, data):
    layer.adapt(data)
    return layer


#: (layer factory, an input) for every layer, with non-default arguments.
CASES = {
    "Normalization": (lambda: adapted(P.Normalization(axis=(1,), invert=True), np.random.default_rng(0).normal(size=(9, 3))),
                      torch.randn(2, 3)),
    "Discretization": (lambda: adapted(P.Discretization(num_bins=3, epsilon=0.05, output_mode="count"), np.arange(50.0)),
                       torch.tensor([[1.0, 20.0, 45.0]])),
    "CategoryEncoding": (lambda: P.CategoryEncoding(6, output_mode="one_hot"), torch.tensor([1, 5])),
    "Hashing": (lambda: P.Hashing(13, mask_value="x", salt=[1, 2], output_mode="multi_hot"), [["x", "y"], ["z", "w"]]),
    "StringLookup": (lambda: adapted(P.StringLookup(max_tokens=5, num_oov_indices=2, mask_token="m", output_mode="tf_idf"),
                                     [["a", "b", "m"], ["b", "c", "c"]]), [["a", "q"], ["c", "m"]]),
    "IntegerLookup": (lambda: adapted(P.IntegerLookup(mask_token=0, oov_token=-7, num_oov_indices=2), [[5, 3, 5], [0, 9, 3]]),
                      torch.tensor([[5, 0, 11]])),
    "TextVectorization": (lambda: adapted(P.TextVectorization(max_tokens=8, ngrams=2, output_sequence_length=4), TEXTS),
                          ["the dog sat down", "cat"]),
    "Rescaling": (lambda: P.Rescaling([0.5, 2.0], offset=-1), torch.rand(1, 2, 3, 3)),
    "Resizing": (lambda: P.Resizing(5, 4, interpolation="bicubic", pad_to_aspect_ratio=True, fill_value=1.0), torch.rand(1, 2, 3, 7)),
    "CenterCrop": (lambda: P.CenterCrop(2, 3, data_format="channels_last"), torch.rand(1, 5, 5, 2)),
    "RandomFlip": (lambda: P.RandomFlip("vertical", seed=3), torch.rand(2, 1, 4, 4)),
    "RandomRotation": (lambda: P.RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=2.0), torch.rand(2, 1, 4, 4)),
    "RandomZoom": (lambda: P.RandomZoom(0.2, (-0.1, 0.3), interpolation="nearest"), torch.rand(2, 1, 4, 4)),
    "RandomTranslation": (lambda: P.RandomTranslation(0.2, 0.1, fill_mode="wrap"), torch.rand(2, 1, 4, 4)),
    "RandomContrast": (lambda: P.RandomContrast((0.1, 0.4), value_range=(0, 1)), torch.rand(2, 1, 4, 4)),
    "RandomBrightness": (lambda: P.RandomBrightness(0.3, value_range=[1, 0]), torch.rand(2, 1, 4, 4)),
}


def test_every_exported_layer_is_covered():
    assert sorted(CASES) == sorted(P.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_through_json_and_state_dict_rebuild_the_layer(name):
    make, x = CASES[name]
    layer = make()
    config = json.loads(json.dumps(danlu.saving.serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(config)
    assert json.loads(json.dumps(danlu.saving.serialization.serialize(clone.get_config()))) == config
    clone.load_state_dict(layer.state_dict())
    torch.manual_seed(0)
    expected = layer(x, training=True)
    torch.manual_seed(0)
    got = clone(x, training=True)
    assert torch.equal(got, expected) if isinstance(got, torch.Tensor) else np.array_equal(got, expected)
    assert clone.get_weights().__len__() == layer.get_weights().__len__()


def test_state_dict_loads_into_fresh_layers_of_other_sizes():
    layer = adapted(P.StringLookup(output_mode="tf_idf"), [["a", "b"], ["b", "c"]])
    other = adapted(P.StringLookup(output_mode="tf_idf"), [["a", "b", "c", "d", "e"]])
    other.set_vocabulary(layer.get_vocabulary(), idf_weights=[0.0] * layer.vocabulary_size())
    other.load_state_dict(layer.state_dict())
    assert torch.equal(other([["a", "c"]]), layer([["a", "c"]]))
    boundaries = adapted(P.Discretization(num_bins=5), np.arange(20.0))
    fresh = P.Discretization(num_bins=5)
    fresh.load_state_dict(boundaries.state_dict())
    assert fresh.get_config()["bin_boundaries"] == boundaries.get_config()["bin_boundaries"]


@pytest.mark.oracle
def test_keras_weight_lists_match():
    k = keras()
    ours, theirs = P.Normalization(), k.layers.Normalization()
    data = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    ours.adapt(data)
    theirs.adapt(data)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    fresh = P.Normalization(input_shape=(3,))
    fresh.set_weights(theirs.get_weights())
    np.testing.assert_allclose(fresh(data).numpy(), theirs(data).numpy(), rtol=1e-5, atol=1e-6)
    for name in ("Discretization", "CategoryEncoding", "Rescaling", "RandomFlip"):
        assert CASES[name][0]().get_weights() == []


def test_danlu_never_imports_tensorflow():
    source = Path(danlu.__file__).parent
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "tensorflow" for n in names), path
    code = ("import sys, numpy as np; from danlu.layers.preprocessing import *; "
            "t = TextVectorization(); t.adapt(['a b']); StringLookup(vocabulary=['a'])(['a']); Hashing(3)(['a']); "
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
