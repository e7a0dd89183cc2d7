"""Inputs as Keras takes them: integer arrays for float models, (batch,) for (batch, 1),
pandas objects, text, and errors that name the real cause."""

import numpy as np
import pytest
import torch

import danlu
from danlu import layers


def regressor(**kwargs):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)], **kwargs)
    model.compile(optimizer="adam", loss="mse")
    return model


def test_integer_and_boolean_arrays_feed_a_float_model():
    model = regressor()
    x = np.arange(100).reshape(5, 20)
    history = model.fit(x, np.ones((5, 1)), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x > 50, verbose=0).shape == (5, 1)
    inputs = danlu.Input((3,))
    functional = danlu.Model(inputs, layers.Dense(1)(inputs))
    functional.compile(optimizer="sgd", loss="mse")
    functional.fit(np.ones((4, 3), dtype="int64"), np.zeros((4, 1)), verbose=0)


def test_one_dimensional_inputs_get_a_feature_axis():
    model = regressor()
    model.fit(np.linspace(0, 1, 16), np.linspace(0, 2, 16), batch_size=4, verbose=0)
    assert model.layers[0].weight.shape == (4, 1)  # Dense: rank 2, so (batch,) became (batch, 1)
    inputs = danlu.Input((1,))
    functional = danlu.Model(inputs, layers.Dense(2)(inputs))
    assert functional(torch.ones(3)).shape == (3, 2)


def test_embedding_models_keep_integer_inputs():
    model = danlu.Sequential([layers.Embedding(10, 3), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.random.randint(0, 10, (8, 5)), np.zeros((8, 1)), verbose=0)


def test_pandas_frames_and_series_are_arrays():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": np.arange(8.0), "b": np.arange(8) * 2})
    model = regressor()
    model.fit(frame, pd.Series(np.arange(8.0)), verbose=0)
    assert model.predict(frame, verbose=0).shape == (8, 1)


def test_errors_name_the_real_cause():
    model = regressor()
    with pytest.raises(TypeError, match="received the string 'not data'"):
        model.fit("not data", verbose=0)
    with pytest.raises(ValueError, match=r"could not take x, a dict with keys \['a'\]"):
        model.fit({"a": np.zeros((4, 3), "float32")}, np.zeros((4, 1)), verbose=0)
    inputs = danlu.Input((3,), name="only")
    functional = danlu.Model(inputs, layers.Dense(1)(inputs))
    functional.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"has one input \('only'\); received a dict with keys \['a', 'b'\]"):
        functional.fit({"a": np.zeros((4, 3)), "b": np.zeros((4, 3))}, np.zeros((4, 1)), verbose=0)
    embedding = danlu.Model(torch.nn.Embedding(10, 3))  # a torch embedding takes integer indices only
    with pytest.raises(ValueError, match="cannot take inputs of dtype float32"):
        embedding.predict(np.zeros((2, 3), "float32"), verbose=0)
