"""torchmetrics metrics in compile(metrics=[...]): wrapped by danlu.metrics.get, updated on the
device with (preds, target), never read back per step, reset per epoch, logged under their names
(the `torchmetrics` extra, which .ci/run installs)."""

import warnings

import numpy as np
import pytest
import torch

import danlu
from danlu import callbacks, layers, losses
from danlu.metrics import TorchMetric

torchmetrics = pytest.importorskip("torchmetrics")
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score  # noqa: E402


class CountSamples(torchmetrics.Metric):
    """How many samples it saw since its last reset; records the arguments of each update."""

    higher_is_better = None
    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")
        self.calls = []

    def update(self, preds, target):
        self.calls.append((preds.dtype, tuple(preds.shape), target.dtype, tuple(target.shape)))
        self.count += preds.shape[0]

    def compute(self):
        return self.count


def digits(n=600):
    images, labels = danlu.datasets.load_digits()
    return images[:n].reshape(-1, 64).astype("float32") / 16.0, labels[:n].astype("int64")


def classifier():
    danlu.utils.set_random_seed(0)
    return danlu.Sequential([layers.Dense(32, activation="relu"), layers.Dense(10)])


def test_a_torchmetric_logs_what_the_keras_metric_logs_every_epoch_and_on_validation():
    x, y = digits()
    model = classifier()
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["acc", MulticlassAccuracy(num_classes=10, average="micro")])
    history = model.fit(x, y, epochs=3, batch_size=50, validation_split=0.25, verbose=0).history
    assert sorted(history) == ["acc", "loss", "multiclass_accuracy", "val_acc", "val_loss", "val_multiclass_accuracy"]
    np.testing.assert_allclose(history["multiclass_accuracy"], history["acc"], rtol=1e-6)
    np.testing.assert_allclose(history["val_multiclass_accuracy"], history["val_acc"], rtol=1e-6)
    assert history["acc"][0] != history["acc"][-1]  # the values moved, so the comparison means something
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    assert evaluated["multiclass_accuracy"] == pytest.approx(evaluated["acc"], rel=1e-6)


def test_it_is_reset_at_every_epoch_and_evaluation_and_gets_preds_then_target():
    x, y = digits(130)
    counter = CountSamples()
    model = classifier()
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[counter])
    history = model.fit(x, y, epochs=3, batch_size=32, validation_split=0.2, verbose=0).history
    assert history["count_samples"] == [104, 104, 104] and history["val_count_samples"] == [26, 26, 26]
    assert model.evaluate(x, y, verbose=0, return_dict=True)["count_samples"] == 130
    assert counter.calls[0] == (torch.float32, (32, 10), torch.int64, (32,))  # torchmetrics' order: preds, target


def test_updates_read_nothing_back_from_the_device(monkeypatch):
    metric = TorchMetric(MulticlassAccuracy(num_classes=10, average="micro", validate_args=False))
    preds, target = torch.randn(16, 10), torch.randint(0, 10, (16,))
    metric.update_state(target, preds)  # the first update places the state
    reads = []
    for name in ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _n=name, _o=original, **k: reads.append(_n) or _o(self, *a, **k))
    for _ in range(5):
        metric.update_state(target, preds)
    monkeypatch.undo()
    assert reads == []
    expected = (preds.argmax(-1) == target).float().mean()
    assert float(metric.result()) == pytest.approx(float(expected))


def test_state_lives_on_the_device_of_the_predictions():
    metric = TorchMetric(MulticlassAccuracy(num_classes=3))
    metric.update_state(torch.tensor([0, 1]), torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]))
    assert all(value.device.type == "cpu" for value in metric.state_dict().values())
    if torch.cuda.is_available():
        metric.update_state(torch.tensor([0, 1], device="cuda"), torch.eye(3, device="cuda")[:2])
        assert metric.torchmetric.device.type == "cuda" and float(metric.result()) == 1.0


def test_get_wraps_torchmetrics_and_only_them():
    wrapped = danlu.metrics.get(MulticlassF1Score(num_classes=4))
    assert isinstance(wrapped, TorchMetric) and wrapped.name == "multiclass_f1_score"
    assert wrapped.direction == "up"
    assert TorchMetric(torchmetrics.MeanSquaredError(), name="mse_tm").direction == "down"
    with pytest.raises(TypeError, match="torchmetrics.Metric instance"):
        TorchMetric(danlu.metrics.Accuracy())
    with pytest.raises(TypeError, match="MetricCollection"):
        TorchMetric(lambda y_true, y_pred: y_pred)


def test_the_given_name_is_the_logged_name_and_early_stopping_reads_its_direction():
    x, y = digits()
    model = classifier()
    f1 = TorchMetric(MulticlassF1Score(num_classes=10, average="macro"), name="f1")
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[f1])
    stopper = callbacks.EarlyStopping(monitor="val_f1", patience=1)
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[stopper]).history
    assert "val_f1" in history and stopper.lower_is_better is False


def test_several_outputs_prefix_the_output_name():
    inputs = danlu.Input((64,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    model = danlu.Model(inputs, {"digit": layers.Dense(10, name="digit")(hidden), "odd": layers.Dense(2, name="odd")(hidden)})
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics={"digit": [MulticlassAccuracy(num_classes=10)], "odd": [MulticlassAccuracy(num_classes=2)]})
    x, y = digits(200)
    history = model.fit(x, {"digit": y, "odd": y % 2}, epochs=1, verbose=0).history
    assert {"digit_multiclass_accuracy", "odd_multiclass_accuracy"} <= set(history)


def test_sample_weights_are_refused_with_a_clear_error():
    x, y = digits(64)
    model = classifier()
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[MulticlassAccuracy(num_classes=10)])
    with pytest.raises(ValueError, match="takes no sample weights"):
        model.fit(x, y, sample_weight=np.ones(64), epochs=1, verbose=0)


def test_state_dict_round_trips_and_merge_state_combines_replicas():
    preds, target = torch.randn(40, 5), torch.randint(0, 5, (40,))
    whole = TorchMetric(MulticlassAccuracy(num_classes=5, average="micro"))
    whole.update_state(target, preds)
    first, second = (TorchMetric(MulticlassAccuracy(num_classes=5, average="micro")) for _ in range(2))
    first.update_state(target[:15], preds[:15])
    second.update_state(target[15:], preds[15:])
    restored = TorchMetric(MulticlassAccuracy(num_classes=5, average="micro"))
    restored.load_state_dict(first.state_dict())
    assert float(restored.result()) == pytest.approx(float(first.result()))
    restored.merge_state(second)
    assert float(restored.result()) == pytest.approx(float(whole.result()))
    with pytest.raises(ValueError, match="missing"):
        restored.load_state_dict({"tp": torch.tensor(0)})


def test_list_states_round_trip():
    auroc = TorchMetric(torchmetrics.classification.BinaryAUROC(thresholds=None))
    scores, labels = torch.rand(30), torch.randint(0, 2, (30,))
    auroc.update_state(labels, scores)
    copy = TorchMetric(torchmetrics.classification.BinaryAUROC(thresholds=None))
    copy.load_state_dict(auroc.state_dict())
    assert float(copy.result()) == pytest.approx(float(auroc.result()))
    empty = TorchMetric(torchmetrics.classification.BinaryAUROC(thresholds=None))
    copy.load_state_dict(empty.state_dict())
    assert copy.torchmetric.update_count == 0


def test_a_model_with_a_torchmetric_saves_its_weights_and_says_the_compile_settings_are_not_saved(tmp_path):
    x, y = digits(64)
    model = danlu.Sequential([layers.Dense(10, input_shape=(64,))])
    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[MulticlassAccuracy(num_classes=10)])
    model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save(tmp_path / "model.danlu")
    assert any("compile configuration is not saved" in str(w.message) for w in caught)
    loaded = danlu.models.load_model(tmp_path / "model.danlu")
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))
