"""Callback hooks, History, LambdaCallback and the progress bar."""

import io

import numpy as np
import pytest

import danlu
from danlu import callbacks, layers
from danlu.callbacks.progbar import Progbar, format_value


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", self.params["epochs"], self.params["steps"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, round(logs["loss"], 6) > 0))

    def on_test_end(self, logs=None):
        self.calls.append(("test_end", sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def fitted(callbacks_list, epochs=2, **kwargs):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    model = danlu.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=20, epochs=epochs, callbacks=callbacks_list, verbose=0, **kwargs)
    return model


def test_hooks_are_called_in_keras_order_with_model_and_params():
    recorder = Recorder()
    model = fitted([recorder], validation_split=0.5)
    assert recorder.model is model
    assert recorder.calls == [
        ("train_begin", 2, 1),
        ("epoch_begin", 0), ("batch_end", 0, True), ("test_end", ["loss", "mae"]),
        ("epoch_end", 0, ["loss", "mae", "val_loss", "val_mae"]),
        ("epoch_begin", 1), ("batch_end", 0, True), ("test_end", ["loss", "mae"]),
        ("epoch_end", 1, ["loss", "mae", "val_loss", "val_mae"]),
        ("train_end",),
    ]


def test_lambda_callback_and_unknown_hooks():
    seen = []
    fitted([callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, type(logs["loss"]))))])
    assert seen == [(0, float), (1, float)]
    with pytest.raises(TypeError, match="unknown hook\\(s\\): on_epoch_finish"):
        callbacks.LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="must be danlu.callbacks.Callback instances"):
        fitted([print])


def test_history_records_every_epoch():
    model = fitted([], epochs=3)
    assert model.history.epoch == [0, 1, 2]
    assert len(model.history.history["loss"]) == 3 and all(isinstance(v, float) for v in model.history.history["mae"])


def test_progress_bar_line_format():
    assert format_value(0.123456) == "0.1235" and format_value(1e-5) == "1.0000e-05"
    stream = io.StringIO()
    bar = Progbar(10, interactive=False, stream=stream)
    bar.update(5, {"loss": 0.5})
    assert stream.getvalue() == ""  # not a terminal: only the finished line
    bar.update(10, {"loss": 0.25, "acc": 0.9}, finished=True)
    line = stream.getvalue()
    assert line.startswith("10/10 ━━━━━━━━━━━━━━━━━━━━ ") and line.endswith(" - loss: 0.2500 - acc: 0.9000\n")
    live = io.StringIO()
    Progbar(4, interactive=True, stream=live).update(1, {"loss": 1.0})
    assert live.getvalue().startswith("\r1/4 ━━━━━                ")


def test_only_the_first_process_prints(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype("float32"), rng.normal(size=(40, 1)).astype("float32")
    model = danlu.Sequential([layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, verbose=1)
    model.evaluate(x, y, verbose=1)
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    model.evaluate(x, y, verbose=1)
    assert capsys.readouterr().out.startswith("2/2 ━━━")
