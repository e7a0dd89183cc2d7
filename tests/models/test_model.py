"""Model / Sequential: compile, fit, evaluate, predict, steps, structures, errors."""

import io

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import danlu
from danlu import layers, losses, optimizers


def classification_data(n=256, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    y = x[:, :classes].argmax(axis=1).astype("int64")
    return x, y


def small_classifier(classes=3):
    torch.manual_seed(0)
    return danlu.Sequential([layers.Dense(32, activation="relu"), layers.Dense(classes)])


def compiled_classifier(**compile_kwargs):
    model = small_classifier()
    kwargs = {"optimizer": optimizers.Adam(1e-2), "loss": losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": ["acc"]}
    model.compile(**{**kwargs, **compile_kwargs})
    return model


# --- fit / evaluate / predict ----------------------------------------------------------------


def test_fit_learns_and_history_has_keras_keys():
    x, y = classification_data()
    model = compiled_classifier()
    history = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.25, verbose=0)
    assert list(history.history) == ["acc", "loss", "val_acc", "val_loss"]  # Keras 3 sorts the logs
    assert history.epoch == list(range(8))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["acc"][-1] > 0.85
    assert model.history is history


def test_epoch_loss_is_the_batch_size_weighted_mean_of_batch_losses():
    x, y = classification_data(n=70)
    model = compiled_classifier(optimizer=optimizers.SGD(0.0))  # no updates: losses are fixed
    history = model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    with torch.no_grad():
        logits = model(torch.as_tensor(x))
        expected = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)).item()
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_evaluate_returns_scalar_list_or_dict():
    x, y = classification_data()
    model = compiled_classifier()
    model.fit(x, y, epochs=2, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": pytest.approx(loss), "acc": pytest.approx(acc)}
    only_loss = compiled_classifier(metrics=None)
    assert isinstance(only_loss.evaluate(x, y, verbose=0), float)


def test_predict_concatenates_batches_to_numpy_and_keeps_the_last_partial_batch():
    x, _ = classification_data(n=70)
    model = compiled_classifier()
    out = model.predict(x, batch_size=32, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (70, 3)
    with torch.no_grad():
        # batched and whole-array products may round differently (BLAS blocking)
        np.testing.assert_allclose(out, model(torch.as_tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-5, atol=1e-6)


def test_train_and_test_on_batch():
    x, y = classification_data(n=64)
    model = compiled_classifier()
    loss, acc = model.train_on_batch(x, y)
    assert loss > 0 and 0 <= acc <= 1
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "acc"}


def test_dataloader_dataset_and_generator_inputs():
    x, y = classification_data(n=96)
    tx, ty = torch.as_tensor(x), torch.as_tensor(y)
    model = compiled_classifier()
    model.fit(DataLoader(TensorDataset(tx, ty), batch_size=32, shuffle=True), epochs=2, verbose=0)
    model.fit(TensorDataset(tx, ty), batch_size=16, epochs=1, verbose=0)

    def generator():
        for start in range(0, 96, 32):
            yield tx[start : start + 32], ty[start : start + 32], torch.ones(32)

    history = model.fit(generator(), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1
    assert model.evaluate(DataLoader(TensorDataset(tx, ty), batch_size=48), verbose=0)[1] > 0.5


def test_steps_per_epoch_and_initial_epoch():
    x, y = classification_data(n=64)
    model = compiled_classifier()
    seen = []
    counter = danlu.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(x, y, batch_size=16, epochs=3, initial_epoch=1, steps_per_epoch=6, callbacks=[counter], verbose=0)
    assert history.epoch == [1, 2]
    assert seen == list(range(6)) * 2  # 6 steps span more than one pass over 4 batches


def test_sample_weight_and_class_weight():
    x, y = classification_data(n=64)
    model = compiled_classifier(optimizer=optimizers.SGD(0.0))
    zero = model.evaluate(x, y, sample_weight=np.zeros(64), verbose=0)[0]
    assert zero == 0.0
    weights = np.where(y == 0, 2.0, 1.0)
    a = model.fit(x, y, sample_weight=weights, batch_size=64, epochs=1, verbose=0).history["loss"][0]
    b = model.fit(x, y, class_weight={0: 2.0, 1: 1.0, 2: 1.0}, batch_size=64, epochs=1, verbose=0).history["loss"][0]
    assert a == pytest.approx(b)


def test_multiple_outputs_with_dict_losses_and_loss_weights():
    class TwoHeads(danlu.Model):
        def __init__(self):
            super().__init__()
            self.trunk = layers.Dense(16, activation="relu")
            self.cls = layers.Dense(3)
            self.reg = layers.Dense(1)

        def call(self, x):
            h = self.trunk(x)
            return {"cls": self.cls(h), "reg": self.reg(h)}

    x, y = classification_data(n=128)
    targets = {"cls": y, "reg": x[:, :1] * 2}
    model = TwoHeads()
    model.compile(
        optimizer="adam",
        loss={"cls": losses.SparseCategoricalCrossentropy(from_logits=True), "reg": "mse"},
        loss_weights={"cls": 1.0, "reg": 0.5},
        metrics={"cls": ["acc"], "reg": ["mae"]},
    )
    history = model.fit(x, targets, epochs=3, verbose=0)
    assert list(history.history) == ["cls_acc", "cls_loss", "loss", "reg_loss", "reg_mae"]  # Keras 3's names
    # the per-output losses are unweighted; the total weights them
    total = history.history["cls_loss"][-1] + 0.5 * history.history["reg_loss"][-1]
    assert history.history["loss"][-1] == pytest.approx(total, rel=1e-5)
    predictions = model.predict(x, verbose=0)
    assert predictions["cls"].shape == (128, 3) and predictions["reg"].shape == (128, 1)


def test_regularization_and_add_loss_are_in_the_objective_and_logged_loss():
    x, y = classification_data(n=32)
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(3, kernel_regularizer=danlu.regularizers.L2(10.0))])
    model.compile(optimizer=optimizers.SGD(0.0), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    logged = model.fit(x, y, batch_size=32, epochs=1, verbose=0).history["loss"][0]
    with torch.no_grad():
        data_loss = torch.nn.functional.cross_entropy(model(torch.as_tensor(x)), torch.as_tensor(y)).item()
        penalty = 10.0 * model.layers[0].kernel.square().sum().item()
    assert logged == pytest.approx(data_loss + penalty, rel=1e-5)
    assert len(model.losses) == 1


def test_wrapping_a_torch_module_and_using_a_torch_optimizer():
    x, y = classification_data()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    model = danlu.Model(net)
    model.compile(optimizer=torch.optim.Adam(net.parameters(), lr=1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.8


def test_overridden_train_step_is_used():
    class CountingModel(danlu.Sequential):
        steps = 0

        def train_step(self, data):
            type(self).steps += 1
            return super().train_step(data)

    x, y = classification_data(n=64)
    model = CountingModel([layers.Dense(3)])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert CountingModel.steps == 8


def test_stop_training_from_a_callback():
    x, y = classification_data(n=64)
    model = compiled_classifier()
    stopper = danlu.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 1))
    assert model.fit(x, y, epochs=10, callbacks=[stopper], verbose=0).epoch == [0, 1]


def test_optimizer_ema_is_finalized_at_the_end_of_fit():
    x, y = classification_data(n=64)
    model = compiled_classifier(optimizer=optimizers.SGD(0.1, use_ema=True))
    model.fit(x, y, epochs=2, verbose=0)
    opt = model.optimizer
    for p in model.parameters():
        assert torch.equal(p, opt.state[p]["ema_average"])


def test_jit_compile_trains():
    x, y = classification_data(n=64)
    model = compiled_classifier(jit_compile=True)
    history = model.fit(x, y, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_summary_prints_layers_shapes_and_counts():
    model = danlu.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    out = io.StringIO()
    model.summary(print_fn=lambda text: out.write(text))
    text = out.getvalue()
    assert "(None, 4)" in text and "(None, 2)" in text
    assert "Total params: 26" in text and "Trainable params: 26" in text


def test_verbose_one_prints_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = classification_data(n=64)
    compiled_classifier().fit(x, y, epochs=2, batch_size=32, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("2/2 ━━━━━━━━━━━━━━━━━━━━") and " - loss: " in out[1] and " - acc: " in out[1]
    compiled_classifier().fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


# --- Bad input -------------------------------------------------------------------------------


def test_fit_before_compile():
    with pytest.raises(ValueError, match="Call compile\\(\\) before fit\\(\\)"):
        small_classifier().fit(np.zeros((4, 8)), np.zeros(4))


def test_mismatched_sample_counts():
    with pytest.raises(ValueError, match="x and y must have the same number of samples; received x with 10 and y with 9"):
        compiled_classifier().fit(np.zeros((10, 8)), np.zeros(9, dtype="int64"), verbose=0)


def test_inputs_the_model_cannot_take_report_the_shapes():
    model = compiled_classifier()
    x, y = classification_data(n=32)
    model.fit(x, y, verbose=0)
    for call in (
        lambda: model.evaluate(np.zeros((4, 5), "float32"), np.zeros(4, "int64"), verbose=0),
        lambda: model.predict(np.zeros((4, 5), "float32"), verbose=0),
        lambda: model.fit(np.zeros((4, 5), "float32"), np.zeros(4, "int64"), verbose=0),
    ):
        with pytest.raises(ValueError, match=r"cannot take inputs of shape \(4, 5\); it expects \(batch, 8\)"):
            call()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"validation_split": 1.0}, "validation_split must be a float in \\[0, 1\\)"),
        ({"validation_split": -0.1}, "validation_split"),
        ({"batch_size": 0}, "batch_size must be a positive int; received batch_size=0"),
        ({"epochs": 0}, "epochs must be a positive int"),
        ({"class_weight": {0: 1.0, 7: 2.0}}, "class_weight names class 7, which does not exist"),
        ({"sample_weight": np.ones(5)}, "sample_weight must have one weight per sample \\(32\\)"),
        ({"verbose": 3}, "verbose must be 0, 1, 2 or 'auto'"),
    ],
)
def test_invalid_fit_arguments(kwargs, match):
    x, y = classification_data(n=32)
    with pytest.raises(ValueError, match=match):
        compiled_classifier().fit(x, y, **{"verbose": 0, **kwargs})


def test_unknown_metric_and_loss_names():
    with pytest.raises(ValueError, match='Unknown metric identifier \'acuracy\'. Did you mean "accuracy"'):
        small_classifier().compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acuracy"])
    with pytest.raises(ValueError, match='Unknown optimizer identifier \'adamm\'. Did you mean "adam"'):
        small_classifier().compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Unknown loss identifier 'mse2'. Did you mean \"mse\""):
        small_classifier().compile(optimizer="adam", loss="mse2")


def test_loss_structure_that_does_not_match_the_outputs():
    x, y = classification_data(n=32)
    model = compiled_classifier(loss={"cls": "mse", "other": "mae"})
    with pytest.raises(ValueError, match="a dict with keys \\['cls', 'other'\\] but the model has one output"):
        model.fit(x, y, verbose=0)


def test_labels_of_the_wrong_kind_are_rejected_before_any_update():
    x, y = classification_data(n=64)
    model = compiled_classifier()
    before = [p.detach().clone() for p in model.parameters()] if any(True for _ in model.parameters()) else None
    bad = y.copy()
    bad[50] = 7  # out of range, deep in the data
    with pytest.raises(ValueError, match="class index 7, outside \\[0, 3\\)"):
        model.fit(x, bad, batch_size=16, verbose=0)
    after = [p.detach() for p in model.parameters()]
    if before is not None:
        assert all(torch.equal(a, b) for a, b in zip(before, after))
    with pytest.raises(ValueError, match="non-integer label 0.5"):
        model.fit(x, np.full(64, 0.5, "float32"), verbose=0)


def test_validation_freq_and_validation_data_with_weights():
    x, y = classification_data(n=64)
    model = compiled_classifier()
    history = model.fit(x, y, epochs=4, validation_data=(x, y, np.ones(64)), validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    with pytest.raises(ValueError, match="validation_data must be \\(x_val, y_val\\)"):
        model.fit(x, y, validation_data=(x,), verbose=0)


def test_danlu_device_environment_variable_sets_the_default_device(monkeypatch):
    monkeypatch.setenv("DANLU_DEVICE", "cpu")
    model = compiled_classifier()
    assert model._trainer.device == torch.device("cpu")
    monkeypatch.setenv("DANLU_DEVICE", "meta")
    assert compiled_classifier()._trainer.device == torch.device("meta")
