"""model.save / load_model: configs come back as the same classes (losses and metrics of the
same name never collide), custom objects through custom_objects or register_serializable."""

import numpy as np
import pytest
import torch

import danlu
from danlu import layers, losses, metrics
from danlu.saving import register_serializable


def data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]


def regressor(**compile_kwargs):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", **compile_kwargs)
    return model


def round_trip(model, tmp_path, **kwargs):
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    return danlu.models.load_model(tmp_path / "model.keras", **kwargs)


def compiled_metrics(model):
    return [m for m in model.metrics if m.name != "loss"]


@pytest.mark.parametrize("metric", [metrics.MeanSquaredError(), "mse", metrics.MeanAbsoluteError(name="mae")])
def test_metric_classes_come_back_as_metrics_not_losses(tmp_path, metric):
    model = regressor(loss="mae", metrics=[metric])
    restored = round_trip(model, tmp_path)
    x, y = data()
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    got = restored.evaluate(x, y, verbose=0, return_dict=True)
    assert got == pytest.approx(expected, rel=1e-6)
    assert [type(m) for m in compiled_metrics(restored)] == [type(m) for m in compiled_metrics(model)]
    assert all(isinstance(m, metrics.Metric) for m in compiled_metrics(restored))


def test_loss_classes_come_back_as_losses(tmp_path):
    model = regressor(loss=losses.MeanSquaredError(), metrics=[metrics.MeanSquaredError()])
    restored = round_trip(model, tmp_path)
    assert type(restored.trainer.compile_arguments["loss"]) is losses.MeanSquaredError
    assert type(restored.trainer.compile_arguments["metrics"][0]) is metrics.MeanSquaredError


class MaxError(metrics.Mean):
    """A custom metric: the mean of the largest absolute error of each sample."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state((torch.as_tensor(y_true) - y_pred).abs().amax(dim=-1), sample_weight)


class ScaledMSE(losses.Loss):
    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * (y_true - y_pred).square().mean(dim=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def test_custom_metric_and_loss_need_custom_objects(tmp_path):
    model = regressor(loss=ScaledMSE(scale=3.0), metrics=[MaxError(name="max_error")])
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    with pytest.raises(ValueError, match="ScaledMSE"):
        danlu.models.load_model(tmp_path / "model.keras")
    restored = danlu.models.load_model(tmp_path / "model.keras", custom_objects={"ScaledMSE": ScaledMSE, "MaxError": MaxError})
    assert restored.trainer.compile_arguments["loss"].scale == 3.0
    assert restored.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(model.evaluate(x, y, verbose=0, return_dict=True), rel=1e-6)
    assert type(compiled_metrics(restored)[0]) is MaxError


@register_serializable(package="tests")
class Doubled(layers.Layer):
    def call(self, inputs):
        return 2 * inputs


def test_registered_classes_load_without_custom_objects(tmp_path):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(3), Doubled()])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2), "float32"), np.zeros((4, 3), "float32"), verbose=0)
    model.save(tmp_path / "m")
    restored = danlu.models.load_model(tmp_path / "m")
    assert isinstance(restored.layers[1], Doubled)
    x = torch.ones(2, 2)
    assert torch.equal(restored(x), model(x))


def test_compile_config_round_trips(tmp_path):
    model = regressor(loss="mse", metrics=["mae", metrics.RootMeanSquaredError()], loss_weights=None)
    config = model.get_compile_config()
    assert config["metrics"][1]["module"] == "danlu.metrics" and config["optimizer"]["class_name"] == "Adam"
    other = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])
    other.compile_from_config(config)
    assert other.get_compile_config() == config
