"""``train_on_batch`` / ``test_on_batch`` and ``class_weight`` as Keras 3.15 (torch backend).

Keras' torch trainer resets the metrics at the start of every ``train_on_batch`` /
``test_on_batch`` call (each returns its batch's values alone: a scalar for the loss only, a
list in ``metrics_names`` order, or a dict), and ``fit`` slices ``validation_split`` off the
raw arrays before class weights are made for the training part, so ``val_loss`` never
carries them. Oracle tests compare with Keras at rtol 1e-5 from the same weights and SGD;
the others derive the expected values by hand.
"""

import numpy as np
import pytest
import torch

import danlu
from danlu import layers, optimizers
from tests.oracle import keras

RTOL = 1e-5


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype("float32"), rng.integers(0, 3, size=(n,))


def danlu_classifier(learning_rate=0.1, metrics=("acc",)):
    model = danlu.Sequential([layers.Dense(4, activation="tanh", input_shape=(5,)), layers.Dense(3)])
    model.compile(optimizer=optimizers.SGD(learning_rate), loss=danlu.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=list(metrics))
    return model


def twins(learning_rate=0.1, metrics=("acc",)):
    """The same classifier in Keras and danlu, with Keras' initial weights in both."""
    k = keras()
    keras_model = k.Sequential([k.Input((5,)), k.layers.Dense(4, activation="tanh"), k.layers.Dense(3)])
    keras_model.compile(optimizer=k.optimizers.SGD(learning_rate), loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=list(metrics))
    model = danlu_classifier(learning_rate, metrics)
    model.set_weights(keras_model.get_weights())
    return keras_model, model


def batch_losses(model, x, y, sample_weight=None):
    """Each sample's crossentropy under the current weights (no update)."""
    with torch.no_grad():
        logits = model(torch.as_tensor(x))
    per_sample = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y), reduction="none").numpy()
    return per_sample if sample_weight is None else per_sample * sample_weight


# --- Oracle: repeated single-batch calls ------------------------------------------------------


@pytest.mark.oracle
def test_repeated_train_on_batch_returns_each_batchs_values_as_keras():
    x, y = data()
    keras_model, model = twins()
    for step in range(4):
        part = slice(6 * step, 6 * step + 6)
        expected = keras_model.train_on_batch(x[part], y[part])
        got = model.train_on_batch(x[part], y[part])
        assert isinstance(got, list) and len(got) == 2
        np.testing.assert_allclose(got, expected, rtol=RTOL)
    for a, b in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-6)
    expected = keras_model.train_on_batch(x[:6], y[:6], return_dict=True)
    got = model.train_on_batch(x[:6], y[:6], return_dict=True)
    assert list(got) == list(expected) == ["acc", "loss"]
    np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=RTOL)


@pytest.mark.oracle
def test_repeated_test_on_batch_returns_each_batchs_values_as_keras():
    x, y = data()
    keras_model, model = twins()
    keras_model.train_on_batch(x, y)
    model.train_on_batch(x, y)  # metrics of the training call must not leak into the first test
    for step in range(3):
        part = slice(8 * step, 8 * step + 8)
        expected = keras_model.test_on_batch(x[part], y[part], return_dict=True)
        got = model.test_on_batch(x[part], y[part], return_dict=True)
        assert got.keys() == expected.keys()
        np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=RTOL)
        np.testing.assert_allclose(model.test_on_batch(x[part], y[part]), keras_model.test_on_batch(x[part], y[part]), rtol=RTOL)


@pytest.mark.oracle
def test_loss_only_returns_a_float_as_keras():
    x, y = data()
    keras_model, model = twins(metrics=())
    for step in range(3):
        part = slice(8 * step, 8 * step + 8)
        expected = keras_model.train_on_batch(x[part], y[part])
        got = model.train_on_batch(x[part], y[part])
        assert isinstance(got, float) and isinstance(expected, float)
        assert got == pytest.approx(expected, rel=RTOL)
        assert model.test_on_batch(x[part], y[part]) == pytest.approx(keras_model.test_on_batch(x[part], y[part]), rel=RTOL)


@pytest.mark.oracle
def test_train_on_batch_class_weight_as_keras():
    x, y = data()
    y[:6] = np.array([0, 1, 0, 1, 1, 0])  # the first batch has no class 2: its weight changes nothing
    class_weight = {0: 2.0, 1: 0.5, 2: 3.0}
    keras_model, model = twins()
    for step in range(4):
        part = slice(6 * step, 6 * step + 6)
        expected = keras_model.train_on_batch(x[part], y[part], class_weight=class_weight)
        np.testing.assert_allclose(model.train_on_batch(x[part], y[part], class_weight=class_weight), expected, rtol=RTOL)


@pytest.mark.oracle
def test_val_loss_ignores_class_weight_as_keras():
    x, y = data(n=40)
    class_weight = {0: 3.0, 1: 0.5, 2: 1.5}
    keras_model, model = twins()
    fit = {"batch_size": 8, "epochs": 3, "validation_split": 0.25, "class_weight": class_weight, "shuffle": False, "verbose": 0}
    expected = keras_model.fit(x, y, **fit).history
    got = model.fit(x, y, **fit).history
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=RTOL, err_msg=key)


# --- Hand-derived ------------------------------------------------------------------------------


def test_each_call_reports_its_own_batch_and_reset_metrics_false_accumulates():
    x, y = data()
    model = danlu_classifier(learning_rate=0.0, metrics=())  # no update: the losses are known in advance
    first, second = slice(0, 8), slice(8, 24)
    loss_first, loss_second = batch_losses(model, x[first], y[first]), batch_losses(model, x[second], y[second])
    assert model.train_on_batch(x[first], y[first]) == pytest.approx(loss_first.mean(), rel=RTOL)
    assert model.train_on_batch(x[second], y[second]) == pytest.approx(loss_second.mean(), rel=RTOL)
    assert model.test_on_batch(x[first], y[first]) == pytest.approx(loss_first.mean(), rel=RTOL)
    # tf.keras 2's reset_metrics=False: the loss tracker averages batch means weighted by batch size
    accumulated = model.test_on_batch(x[second], y[second], reset_metrics=False)
    assert accumulated == pytest.approx((8 * loss_first.mean() + 16 * loss_second.mean()) / 24, rel=RTOL)
    assert model.train_on_batch(x[first], y[first], reset_metrics=False) == pytest.approx(
        (8 * loss_first.mean() + 16 * loss_second.mean() + 8 * loss_first.mean()) / 32, rel=RTOL
    )


def test_custom_train_step_dict_is_returned():
    class Custom(danlu.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, _ = data
            return {"mean_output": self(x).mean().detach(), "twice": torch.tensor(2.0)}

    model = Custom()
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 3), "float32")
    logs = model.train_on_batch(x, np.zeros((4, 1), "float32"), return_dict=True)
    with torch.no_grad():
        assert logs == pytest.approx({"mean_output": float(model(torch.as_tensor(x)).mean()), "twice": 2.0})


def test_class_weight_times_sample_weight_in_train_on_batch():
    x, y = data(n=6)
    y[:] = [0, 1, 2, 0, 1, 2]
    sample_weight = np.array([1.0, 2.0, 0.5, 0.0, 1.0, 3.0], "float32")
    class_weight = {0: 2.0, 2: 4.0}  # class 1 not named: weight 1
    model = danlu_classifier(learning_rate=0.0, metrics=())
    weights = sample_weight * np.array([2.0, 1.0, 4.0, 2.0, 1.0, 4.0], "float32")
    expected = batch_losses(model, x, y, weights).sum() / 6  # sum_over_batch_size
    got = model.train_on_batch(x, y, sample_weight=sample_weight, class_weight=class_weight)
    assert got == pytest.approx(expected, rel=RTOL)


def test_val_loss_is_independent_of_class_weight():
    x, y = data(n=40)
    model = danlu_classifier(learning_rate=0.0, metrics=())
    val_loss = batch_losses(model, x[30:], y[30:]).mean()  # validation_split=0.25: the last 10 samples
    train_loss = batch_losses(model, x[:30], y[:30], np.where(y[:30] == 0, 5.0, 1.0)).sum() / 30
    history = model.fit(x, y, batch_size=30, validation_split=0.25, class_weight={0: 5.0}, verbose=0).history
    assert history["val_loss"][0] == pytest.approx(val_loss, rel=RTOL)
    assert history["loss"][0] == pytest.approx(train_loss, rel=RTOL)


def test_class_weight_may_name_a_class_only_the_validation_part_has():
    x, y = data(n=20)
    y[:] = 0
    y[-2:] = 1  # class 1 only in the last 10% (validation)
    model = danlu_classifier(learning_rate=0.0, metrics=())
    history = model.fit(x, y, batch_size=18, validation_split=0.1, class_weight={0: 1.0, 1: 9.0}, verbose=0).history
    assert history["val_loss"][0] == pytest.approx(batch_losses(model, x[18:], y[18:]).mean(), rel=RTOL)


def test_validation_data_wins_over_validation_split():
    x, y = data(n=40)
    vx, vy = data(n=12, seed=1)
    model = danlu_classifier(learning_rate=0.0, metrics=())
    history = model.fit(x, y, batch_size=40, validation_split=0.5, validation_data=(vx, vy), verbose=0).history
    assert history["val_loss"][0] == pytest.approx(batch_losses(model, vx, vy).mean(), rel=RTOL)
    assert history["loss"][0] == pytest.approx(batch_losses(model, x, y).mean(), rel=RTOL)  # nothing split off


def test_class_weight_one_hot_labels_and_bad_arguments():
    x, y = data(n=6)
    one_hot = np.eye(3, dtype="float32")[y]
    model = danlu.Sequential([layers.Dense(3, input_shape=(5,))])
    model.compile(optimizer=optimizers.SGD(0.0), loss=danlu.losses.CategoricalCrossentropy(from_logits=True))
    weights = np.array([2.0, 1.0, 0.5], "float32")[y]
    with torch.no_grad():
        per_sample = torch.nn.functional.cross_entropy(model(torch.as_tensor(x)), torch.as_tensor(y), reduction="none").numpy()
    got = model.train_on_batch(x, one_hot, class_weight={0: 2.0, 2: 0.5})
    assert got == pytest.approx((per_sample * weights).sum() / 6, rel=RTOL)
    with pytest.raises(ValueError, match="class_weight names class 3, which does not exist: the labels have classes 0..2"):
        model.train_on_batch(x, one_hot, class_weight={3: 1.0})
    with pytest.raises(ValueError, match="class_weight names class -1"):
        model.train_on_batch(x, one_hot, class_weight={-1: 1.0})
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.train_on_batch(x, one_hot, class_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="class_weight is only supported for models with a single output"):
        model.fit(x, {"a": one_hot, "b": one_hot}, class_weight={0: 1.0}, verbose=0)
