"""The functional API: Input, Model(inputs, outputs), shared layers, nested models, configs."""

import numpy as np
import pytest
import torch

import danlu
from danlu import layers


def test_shapes_and_weights_exist_at_construction():
    inputs = danlu.Input((784,), name="digits")
    x = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10)(x)
    model = danlu.Model(inputs, outputs, name="mnist")
    assert isinstance(model, danlu.models.Model) and type(model).__name__ == "Functional"
    assert inputs.shape == (None, 784) and outputs.shape == (None, 10)
    assert model.count_params() == 784 * 64 + 64 + 64 * 10 + 10
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense"]
    assert model(torch.randn(3, 784)).shape == (3, 10)


def test_multiple_inputs_and_outputs_by_list_and_dict():
    a, b = danlu.Input((4,), name="a"), danlu.Input((2,), name="b")
    joined = torch.cat([layers.Dense(3)(a), b], dim=1)
    out1 = layers.Dense(1, name="score")(joined)
    out2 = layers.Dense(2, name="label")(joined)
    model = danlu.Model([a, b], [out1, out2])
    assert model.output_names == ["score", "label"] and model.input_names == ["a", "b"]
    xa, xb = torch.randn(5, 4), torch.randn(5, 2)
    first = model([xa, xb])
    second = model({"a": xa, "b": xb})
    assert [t.shape for t in first] == [(5, 1), (5, 2)]
    assert all(torch.equal(p, q) for p, q in zip(first, second))
    as_dict = danlu.Model({"a": a, "b": b}, {"s": out1})
    assert as_dict({"a": xa, "b": xb})["s"].shape == (5, 1)
    with pytest.raises(ValueError, match=r"needs inputs \['a', 'b'\]; the dict given lacks \['b'\]"):
        model({"a": xa})


def test_a_shared_layer_is_one_set_of_weights():
    shared = layers.Dense(3)
    a, b = danlu.Input((4,)), danlu.Input((4,))
    model = danlu.Model([a, b], shared(a) + shared(b))
    assert sum(1 for l in model.layers if l is shared) == 1
    assert len(model.weights) == 2
    x = torch.randn(2, 4)
    torch.testing.assert_close(model([x, x]), 2 * shared(x))


def test_nested_models_and_feature_extraction():
    inputs = danlu.Input((6,))
    hidden = layers.Dense(5, name="hidden")(inputs)
    encoder = danlu.Model(inputs, hidden)
    outer_in = danlu.Input((6,))
    outer = danlu.Model(outer_in, layers.Dense(1)(encoder(outer_in)))
    x = torch.randn(2, 6)
    assert outer(x).shape == (2, 1)
    features = danlu.Model(encoder.input, encoder.get_layer("hidden").output)
    torch.testing.assert_close(features(x), encoder(x))
    assert encoder.get_layer(index=1) is encoder.get_layer("hidden")
    with pytest.raises(ValueError, match="No layer named 'hiden'.*Did you mean \"hidden\""):
        encoder.get_layer("hiden")


def test_torch_modules_and_functions_join_the_graph():
    inputs = danlu.Input((3, 8))
    sequence, _ = torch.nn.LSTM(8, 5, batch_first=True)(inputs)
    last = sequence[:, -1]
    model = danlu.Model(inputs, torch.relu(last * 2))
    assert last.shape == (None, 5)
    assert model(torch.randn(4, 3, 8)).shape == (4, 5)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in model.layers[1].parameters())


def test_unknown_sizes_stay_unknown():
    tokens = danlu.Input((None,), dtype="int64")
    embedded = layers.Embedding(100, 8)(tokens)
    assert embedded.shape == (None, None, 8) and embedded.dtype == torch.float32
    pooled = embedded.mean(dim=1)
    model = danlu.Model(tokens, layers.Dense(1)(pooled))
    assert model(torch.randint(0, 100, (3, 11))).shape == (3, 1)


def test_from_config_builds_new_layers():
    a = danlu.Input((4,), name="x")
    shared = layers.Dense(3, activation="relu", name="shared")
    out = layers.Dense(1, name="out")(torch.cat([shared(a), shared(a) * 2], dim=1))
    model = danlu.Model(a, out, name="cfg")
    config = model.get_config()
    import json

    clone = danlu.Model.from_config(json.loads(json.dumps(config)))
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert not any(p is q for p in clone.parameters() for q in model.parameters())
    clone.set_weights(model.get_weights())
    x = torch.randn(3, 4)
    torch.testing.assert_close(clone(x), model(x))


def test_bad_graphs_say_what_is_wrong():
    a, b = danlu.Input((4,), name="first"), danlu.Input((4,), name="second")
    with pytest.raises(ValueError, match="Graph disconnected: the output needs the input 'second'"):
        danlu.Model(a, layers.Dense(1)(a + b))
    with pytest.raises(ValueError, match=r"cannot be built for inputs of shape \(None, 4\).*expects inputs of rank 4"):
        layers.Conv2D(2, 3)(danlu.Input((4,)))
    model = danlu.Model(a, layers.Dense(2)(a))
    with pytest.raises(ValueError, match=r"expects shape \(None, 4\)"):
        model(torch.randn(2, 5))
    with pytest.raises(TypeError, match="takes symbolic tensors"):
        danlu.Model(a, torch.zeros(2))


def test_sequential_with_an_input_builds_every_layer_at_once():
    model = danlu.Sequential([danlu.Input((8,)), layers.Dense(4), torch.nn.ReLU(), layers.Dense(2)])
    assert model.built and model.output.shape == (None, 2) and len(model.layers) == 3
    assert model.count_params() == 8 * 4 + 4 + 4 * 2 + 2
    also = danlu.Sequential([layers.Dense(4, input_shape=(8,)), layers.Dense(2)])
    assert also.built and also.layers[1].weight.shape == (2, 4)
    assert np.asarray(also.predict(np.zeros((2, 8), "float32"), verbose=0)).shape == (2, 2)
