"""The functional API guide's models, built the same way in Keras 3.15 and danlu, given the
same weights and data, trained with fit: the same logs (loss, per-output losses, metrics)."""

import numpy as np
import pytest
import torch

import danlu
from tests.oracle import keras

pytestmark = pytest.mark.oracle


def ticket_classifier(lib, layers):
    """The multi-input, multi-output model of Keras' functional API guide (smaller sizes)."""
    num_tags, num_words, num_departments = 12, 1000, 4
    title_input = lib.Input(shape=(None,), name="title")
    body_input = lib.Input(shape=(None,), name="body")
    tags_input = lib.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 16)(title_input)
    body_features = layers.Embedding(num_words, 16)(body_input)
    title_features = layers.LSTM(16)(title_features)
    body_features = layers.LSTM(8)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = lib.Model(inputs=[title_input, body_input, tags_input], outputs={"priority": priority_pred, "department": department_pred})
    model.compile(
        optimizer=lib.optimizers.RMSprop(1e-3),
        loss={"priority": lib.losses.BinaryCrossentropy(from_logits=True), "department": lib.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    return model


def toy_resnet(lib, layers, channels_last):
    """The guide's toy ResNet (16x16 images, no dropout so both runs are deterministic)."""
    shape = (16, 16, 3) if channels_last else (3, 16, 16)
    inputs = lib.Input(shape=shape, name="img")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(16, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = lib.Model(inputs, outputs, name="toy_resnet")
    model.compile(optimizer=lib.optimizers.RMSprop(1e-3), loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["acc"])
    return model


def compare(history_ours, history_theirs, rtol):
    assert sorted(history_ours.history) == sorted(history_theirs.history)
    for key, values in history_theirs.history.items():
        np.testing.assert_allclose(history_ours.history[key], values, rtol=rtol, atol=1e-6, err_msg=key)


def test_ticket_classifier_trains_as_in_keras():
    k = keras()
    rng = np.random.default_rng(0)
    theirs, ours = ticket_classifier(k, k.layers), ticket_classifier(danlu, danlu.layers)
    ours.set_weights(theirs.get_weights())
    n = 128
    x = {"title": rng.integers(1000, size=(n, 10)), "body": rng.integers(1000, size=(n, 20)),
         "tags": rng.integers(2, size=(n, 12)).astype("float32")}
    y = {"priority": rng.random(size=(n, 1)).astype("float32"), "department": rng.integers(2, size=(n, 4)).astype("float32")}
    fit = dict(epochs=2, batch_size=32, shuffle=False, verbose=0)
    compare(ours.fit(x, y, **fit), theirs.fit(x, y, **fit), rtol=2e-4)
    assert sorted(ours.evaluate(x, y, verbose=0, return_dict=True)) == ["department_accuracy", "department_loss", "loss", "priority_loss"]


def test_toy_resnet_trains_as_in_keras():
    k = keras()
    rng = np.random.default_rng(1)
    theirs, ours = toy_resnet(k, k.layers, True), toy_resnet(danlu, danlu.layers, False)
    ours.set_weights(theirs.get_weights())
    images = rng.random(size=(64, 16, 16, 3)).astype("float32")
    labels = rng.integers(10, size=64)
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    compare(ours.fit(images.transpose(0, 3, 1, 2), labels, **fit), theirs.fit(images, labels, **fit), rtol=2e-4)


def test_shared_embedding_and_feature_extraction():
    k = keras()

    def shared(lib, layers):
        embedding = layers.Embedding(100, 8)
        a, b = lib.Input(shape=(None,), dtype="int32"), lib.Input(shape=(None,), dtype="int32")
        merged = layers.concatenate([layers.GlobalAveragePooling1D()(embedding(a)) if lib is k else embedding(a).mean(dim=1),
                                     layers.GlobalAveragePooling1D()(embedding(b)) if lib is k else embedding(b).mean(dim=1)])
        return lib.Model([a, b], layers.Dense(1)(merged))

    theirs, ours = shared(k, k.layers), shared(danlu, danlu.layers)
    assert len(ours.get_weights()) == len(theirs.get_weights()) == 3  # one embedding table, shared
    ours.set_weights(theirs.get_weights())
    a, b = np.random.default_rng(2).integers(100, size=(2, 4, 7))
    np.testing.assert_allclose(ours([torch.as_tensor(a), torch.as_tensor(b)]).detach().numpy(),
                               theirs([a, b]).detach().numpy(), rtol=1e-5, atol=1e-6)
    model = toy_resnet(danlu, danlu.layers, False)
    extractor = danlu.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers[1:]])
    features = extractor(torch.rand(2, 3, 16, 16))
    assert len(features) == len(model.layers) - 1 and features[-1].shape == (2, 10)
    clone = danlu.Model.from_config(model.get_config())
    assert not any(p is q for p in clone.parameters() for q in model.parameters())
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
