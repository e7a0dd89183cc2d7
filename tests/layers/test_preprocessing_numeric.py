"""Preprocessing layers on numbers: Normalization, Discretization, CategoryEncoding, Hashing.

Oracle tests compare with Keras 3.15.1 (torch backend); Keras' Hashing and Discretization.adapt
need TensorFlow, imported inside the tests (``pytest.importorskip`` guards; CI installs it)."""

import json

import numpy as np
import pytest
import torch

import danlu
from danlu.layers.preprocessing import CategoryEncoding, Discretization, Hashing, Normalization
from tests.oracle import keras, to_numpy


def tf_keras():
    pytest.importorskip("tensorflow")
    return keras()


def round_trip(layer):
    """A new layer from the layer's config, through JSON, with its state_dict loaded."""
    config = json.loads(json.dumps(danlu.saving.serialization.serialize(layer.get_config())))
    clone = type(layer).from_config(config)
    clone.load_state_dict(layer.state_dict())
    return clone


# --- Normalization ------------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_normalization_adapt_and_call_match_keras(axis):
    k = keras()
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(20, 3, 4)) * [1.0, 5.0, 0.1, 2.0] + 3).astype("float32")
    theirs = k.layers.Normalization(axis=axis)
    theirs.adapt(data)
    ours = Normalization(axis=axis)
    ours.adapt(data)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert a.dtype == b.dtype and a.shape == b.shape
    x = rng.normal(size=(5, 3, 4)).astype("float32")
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.oracle
def test_normalization_adapts_batches_from_iterables_and_dataloaders_like_keras():
    k = tf_keras()  # Keras' adapt on iterables checks for tf.data
    rng = np.random.default_rng(1)
    batches = [(rng.normal(size=(n, 4)) * 3 + 1).astype("float32") for n in (7, 16, 1, 9)]
    theirs = k.layers.Normalization()
    theirs.adapt(iter(batches))
    for data in (batches, iter(batches), ((b, np.zeros(len(b))) for b in batches)):
        ours = Normalization()
        ours.adapt(data)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5)
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(np.concatenate(batches)), torch.zeros(33))
    ours = Normalization()
    ours.adapt(torch.utils.data.DataLoader(dataset, batch_size=8))
    whole = np.concatenate(batches).astype(np.float64)
    np.testing.assert_allclose(ours.mean.numpy(), whole.mean(0), rtol=1e-5)
    np.testing.assert_allclose(ours.variance.numpy(), whole.var(0), rtol=1e-5)


@pytest.mark.oracle
@pytest.mark.parametrize("invert", [False, True])
def test_normalization_given_mean_and_variance_matches_keras(invert):
    k = keras()
    x = np.random.default_rng(2).normal(size=(4, 2, 3)).astype("float32")
    for mean, variance, axis in [(3.0, 2.0, -1), ([1.0, 2.0, 3.0], [1.0, 4.0, 0.0], -1), ([[1.0], [2.0]], [[4.0], [9.0]], (1, 2))]:
        theirs = k.layers.Normalization(axis=axis, mean=mean, variance=variance, invert=invert)
        ours = Normalization(axis=axis, mean=mean, variance=variance, invert=invert)
        np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), rtol=1e-5, atol=1e-6)
        assert ours.get_weights() == theirs.get_weights() == []


def test_normalization_adapt_accepts_lists_and_tensors_and_inverts():
    layer = Normalization(axis=None)
    layer.adapt([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(to_numpy(layer(np.array([1.0, 2.0, 3.0]))), [-1.4142135, -0.70710677, 0.0], rtol=1e-6)
    layer = Normalization(axis=-1)
    layer.adapt(torch.tensor([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0], [0.0, 7.0, 4.0], [2.0, 9.0, 6.0]]))
    np.testing.assert_allclose(to_numpy(layer(torch.tensor([[0.0, 7.0, 4.0]]))), [[-1.0, -1.0, -1.0]], rtol=1e-6)
    inverse = Normalization(axis=-1, invert=True)
    inverse.adapt(np.array([[0.0, 7.0, 4.0], [2.0, 9.0, 6.0]]))
    np.testing.assert_allclose(to_numpy(inverse(torch.tensor([[1.0, 2.0, 3.0]]))), [[2.0, 10.0, 8.0]], rtol=1e-6)
    channels = Normalization(axis=1)  # channels-first images
    images = torch.randn(6, 3, 5, 5) * torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    channels.adapt(images)
    out = channels(images)
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


def test_normalization_state_survives_config_and_state_dict():
    layer = Normalization()
    layer.adapt(np.random.default_rng(3).normal(size=(10, 4)) * 2 + 5)
    x = torch.randn(3, 4)
    clone = round_trip(layer)
    torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0)
    assert set(layer.state_dict()) == {"mean", "variance", "count"}
    given = Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    torch.testing.assert_close(round_trip(given)(torch.ones(2, 2)), given(torch.ones(2, 2)))


def test_normalization_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="mean and variance together"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    layer = Normalization()
    layer.adapt(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="incompatible shape"):
        layer.adapt(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="out of range"):
        Normalization(axis=3).adapt(np.zeros((4, 3)))
    with pytest.raises(TypeError, match="takes numbers"):
        Normalization().adapt(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="cannot be adapted"):
        Normalization(mean=0.0, variance=1.0).adapt(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty list"):
        Normalization().adapt([])


# --- Discretization -----------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("output_mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_with_boundaries_matches_keras(output_mode):
    k = keras()
    boundaries = [-1.0, 0.0, 0.1, 2.5]
    x = np.array([[-3.0, -1.0, 0.0, 0.05, 0.1, 2.5, 7.0], [0.1, 0.1, -1.0, 3.0, 2.0, 0.0, -0.5]], dtype="float32")
    theirs = k.layers.Discretization(bin_boundaries=boundaries, output_mode=output_mode)
    ours = Discretization(bin_boundaries=boundaries, output_mode=output_mode)
    for inputs in (x, x[0], x[:, :1], np.array([[1, 2, -1]])):
        expected, got = to_numpy(theirs(inputs)), to_numpy(ours(inputs))
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.oracle
@pytest.mark.parametrize("num_bins, epsilon", [(4, 0.01), (3, 0.01), (10, 0.05), (5, 0.001)])
def test_discretization_adapt_matches_keras_boundaries(num_bins, epsilon):
    k = tf_keras()
    rng = np.random.default_rng(num_bins)
    data = rng.gamma(2.0, size=(300, 2)).astype("float32")
    batches = [rng.normal(size=(n,)).astype("float32") for n in (50, 120, 7, 400)]
    for adapt_data in (data, batches):
        theirs = k.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
        theirs.adapt(adapt_data)
        ours = Discretization(num_bins=num_bins, epsilon=epsilon)
        ours.adapt(adapt_data)
        np.testing.assert_allclose(ours.get_config()["bin_boundaries"], theirs.bin_boundaries, rtol=1e-6)
        x = rng.normal(size=(6, 5)).astype("float32")
        np.testing.assert_array_equal(to_numpy(ours(x)), to_numpy(theirs(x)))


def test_discretization_config_and_state_round_trip():
    layer = Discretization(num_bins=4, output_mode="one_hot")
    layer.adapt(np.arange(100, dtype="float32"))
    assert layer.get_config()["bin_boundaries"] == pytest.approx([25.0, 50.0, 75.0], abs=1.5)
    x = torch.linspace(-5, 105, 23)
    torch.testing.assert_close(round_trip(layer)(x), layer(x), rtol=0, atol=0)
    fresh = Discretization(num_bins=4, output_mode="one_hot")
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x), layer(x), rtol=0, atol=0)
    assert layer.get_weights() == []
    given = Discretization(bin_boundaries=[0.1, 0.5])
    assert given.get_config()["bin_boundaries"] == [0.1, 0.5]


def test_discretization_bad_input():
    with pytest.raises(ValueError, match="exactly one of bin_boundaries and num_bins"):
        Discretization()
    with pytest.raises(ValueError, match="exactly one"):
        Discretization(bin_boundaries=[1.0], num_bins=2)
    with pytest.raises(ValueError, match='Did you mean "one_hot"'):
        Discretization(bin_boundaries=[0.0], output_mode="onehot")
    with pytest.raises(ValueError, match="sorted"):
        Discretization(bin_boundaries=[1.0, 0.0])
    with pytest.raises(ValueError, match="call adapt"):
        Discretization(num_bins=3)(torch.zeros(2))
    with pytest.raises(ValueError, match="create it with num_bins"):
        Discretization(bin_boundaries=[0.0]).adapt(np.zeros(3))
    with pytest.raises(ValueError, match="sparse=True"):
        Discretization(bin_boundaries=[0.0], output_mode="count", sparse=True)
    with pytest.raises(TypeError, match="takes numbers"):
        Discretization(num_bins=2).adapt(np.array(["a", "b"]))


# --- CategoryEncoding ---------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("output_mode", ["one_hot", "multi_hot", "count", "binary"])
def test_category_encoding_matches_keras(output_mode):
    k = keras()
    cases = [np.array([3, 2, 0, 1]), np.array([[0, 1], [0, 0], [1, 2], [3, 1]]), np.array([[1], [3]]),
             np.array([[[0, 1, 1]], [[3, 3, 2]]]), np.array(2)]
    for x in cases:
        theirs, ours = k.layers.CategoryEncoding(4, output_mode=output_mode), CategoryEncoding(4, output_mode=output_mode)
        expected, got = to_numpy(theirs(x)), to_numpy(ours(x))
        assert got.shape == expected.shape and got.dtype == expected.dtype, (x.shape, got.shape, expected.shape)
        np.testing.assert_array_equal(got, expected)
        assert ours.compute_output_shape(x.shape) == tuple(theirs.compute_output_shape(x.shape)) or x.ndim != 2


@pytest.mark.oracle
def test_category_encoding_count_weights_match_keras():
    k = keras()
    x = np.array([[0, 1, 1, 3], [2, 2, 2, 0]])
    weights = np.random.default_rng(4).uniform(size=x.shape).astype("float32")
    theirs = k.layers.CategoryEncoding(4, output_mode="count")(x, count_weights=weights)
    ours = CategoryEncoding(4, output_mode="count")(x, count_weights=weights)
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-6)


def test_category_encoding_rejects_out_of_range_ids_and_bad_arguments():
    layer = CategoryEncoding(3)
    with pytest.raises(ValueError, match=r"must be in \[0, 3\); received the value 3"):
        layer(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="received the value -1"):
        layer(torch.tensor([[-1, 0]]))
    with pytest.raises(ValueError, match='Did you mean "multi_hot"'):
        CategoryEncoding(3, output_mode="multihot")
    with pytest.raises(ValueError, match="needs num_tokens"):
        CategoryEncoding()
    with pytest.raises(ValueError, match="count_weights is used only"):
        layer(torch.tensor([[0]]), count_weights=torch.ones(1, 1))
    assert CategoryEncoding.from_config(CategoryEncoding(5, "count").get_config()).num_tokens == 5


# --- Hashing ------------------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", [{}, {"mask_value": "b"}, {"salt": 133}, {"salt": [2 ** 40 + 7, 99]},
                                    {"output_mode": "multi_hot"}, {"output_mode": "one_hot"}, {"output_mode": "count", "salt": 5}])
def test_hashing_strings_match_keras_bins(kwargs):
    k = tf_keras()
    rng = np.random.default_rng(5)
    words = ["", "a", "b", "hello", "héllo", "日本語", "x" * 70, "y" * 200] + ["".join(rng.choice(list("abcxyz"), n)) for n in range(40)]
    inputs = np.array(words[:48]).reshape(12, 4) if kwargs.get("output_mode") != "one_hot" else np.array(words).reshape(-1, 1)
    for num_bins in (1, 3, 97, 10007):
        theirs, ours = k.layers.Hashing(num_bins, **kwargs), Hashing(num_bins, **kwargs)
        expected, got = to_numpy(theirs(inputs)), to_numpy(ours(inputs))
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        assert ours.compute_output_shape(inputs.shape) == got.shape[:1] + ours.compute_output_shape(inputs.shape)[1:]


@pytest.mark.oracle
def test_hashing_numbers_match_keras_bins():
    k = tf_keras()
    ints = np.array([[0, 1, -1, 2 ** 40], [7, 123456789, -98765, 3]])
    for num_bins, kwargs in [(1000, {}), (17, {"mask_value": 7}), (64, {"salt": [1, 2]})]:
        expected = to_numpy(k.layers.Hashing(num_bins, **kwargs)(ints))
        np.testing.assert_array_equal(to_numpy(Hashing(num_bins, **kwargs)(ints)), expected)
        np.testing.assert_array_equal(to_numpy(Hashing(num_bins, **kwargs)(torch.as_tensor(ints))), expected)
    for values in (np.array([[1.7, -2.5, 0.0, 3.0]]), np.array([True, False, True]), np.array([[3, 4]], dtype=np.uint8)):
        np.testing.assert_array_equal(to_numpy(Hashing(50)(values)), to_numpy(k.layers.Hashing(50)(values)))
        np.testing.assert_array_equal(to_numpy(Hashing(50)(torch.as_tensor(values))), to_numpy(k.layers.Hashing(50)(values)))
    assert to_numpy(Hashing(50, dtype="int32")(ints)).dtype == np.int32


def test_hashing_mask_config_and_errors():
    layer = Hashing(5, mask_value="", salt=3)
    out = layer([["", "a"], ["b", ""]])
    assert out.dtype == torch.int64 and out[0, 0] == 0 and out[1, 1] == 0 and bool((out[0, 1] > 0) & (out[1, 0] > 0))
    clone = Hashing.from_config(layer.get_config())
    assert torch.equal(clone([["", "a"], ["b", ""]]), out)
    assert layer.get_config()["salt"] == [3, 3]
    with pytest.raises(ValueError, match="num_bins must be a positive int"):
        Hashing(0)
    with pytest.raises(ValueError, match='Did you mean "multi_hot"'):
        Hashing(3, output_mode="multi-hot")
    with pytest.raises(ValueError, match="salt must be an int or a pair"):
        Hashing(3, salt="x")
    with pytest.raises(ValueError, match="'int32' or 'int64'"):
        Hashing(3, dtype="float32")
