"""What the progress display prints, as Keras 3.15 (keras/src/utils/progbar.py and
keras/src/callbacks/progbar_logger.py): ``verbose=2``'s one bar-less line per epoch, the
``Epoch i/N`` header only for ``N > 1``, and the value and time formats."""

import io
import re

import numpy as np
import pytest

import danlu
from danlu import layers, optimizers
from danlu.callbacks.progbar import (
    Progbar,
    format_duration,
    format_step_time,
    format_value,
)
from tests.oracle import keras

TIME = r"\d+s - \d+(s|ms|us)/step"


@pytest.mark.parametrize(
    "value,text",
    [
        (0.0, "0.0000e+00"),
        (1e-3, "1.0000e-03"),  # Keras: .4f only when |v| > 1e-3
        (0.0011, "0.0011"),
        (0.123456, "0.1235"),
        (1e-5, "1.0000e-05"),
        (-1e-4, "-1.0000e-04"),
        (-0.99, "-0.9900"),
        (12345.6, "12345.6000"),
        (1e7, "10000000.0000"),
        ([0.5, 1.0], "0.7500"),  # a vector metric shows its mean
        (float("nan"), "nan"),
    ],
)
def test_value_format(value, text):
    assert format_value(value) == text


def test_time_formats():
    assert format_step_time(0) == "0s/step" and format_step_time(2.4) == "2s/step"
    assert format_step_time(0.0034) == "3ms/step" and format_step_time(0.00025) == "250us/step"
    assert format_duration(59.9) == "59s" and format_duration(60.0) == "60s"  # truncated, as Keras' "%ds"
    assert format_duration(61.5) == "1:01" and format_duration(3601.0) == "1:00:01"


def regression(n=30):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")


def test_verbose_two_prints_one_line_per_epoch_without_a_bar(capsys):
    x, y = regression()
    model = danlu.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer=optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=2, epochs=3, validation_split=0.2, verbose=2).history
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and "━" not in "".join(lines)
    for epoch in range(3):
        assert lines[2 * epoch] == f"Epoch {epoch + 1}/3"
        values = " - ".join(f"{k}: {format_value(history[k][epoch])}" for k in ("loss", "mae", "val_loss", "val_mae"))
        assert re.fullmatch(rf"12/12 - {TIME} - {re.escape(values)}", lines[2 * epoch + 1]), lines[2 * epoch + 1]


def test_a_zero_loss_prints_in_exponent_form_and_one_epoch_has_no_header(capsys):
    model = danlu.Sequential([layers.Dense(1, kernel_initializer="zeros", input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((10, 3), "float32")
    model.fit(x, np.zeros((10, 1), "float32"), batch_size=4, verbose=2)
    assert re.fullmatch(rf"3/3 - {TIME} - loss: 0\.0000e\+00\n", capsys.readouterr().out)
    model.fit(x, np.zeros((10, 1), "float32"), batch_size=4, verbose=1)
    assert not capsys.readouterr().out.startswith("Epoch")


def test_verbose_two_evaluate_and_predict(capsys):
    x, y = regression(n=20)
    model = danlu.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, y, batch_size=8, verbose=2)
    model.predict(x, batch_size=8, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"3/3 - {TIME} - loss: {re.escape(format_value(loss))}", lines[0])
    assert re.fullmatch(rf"3/3 - {TIME}", lines[1]) and len(lines) == 2


def test_the_counter_is_right_aligned_to_the_target_width():
    stream = io.StringIO()
    bar = Progbar(None, interactive=False, stream=stream, verbose=2)
    bar.update(7, {"loss": 2.0})
    assert stream.getvalue() == ""  # verbose=2 writes only when finished
    bar.update(7, {"loss": 2.0}, finished=True)  # an unknown length becomes what was seen
    assert re.fullmatch(rf"7/7 - {TIME} - loss: 2\.0000\n", stream.getvalue())
    stream = io.StringIO()
    Progbar(120, interactive=False, stream=stream, verbose=2).update(120, {}, finished=True)
    assert re.fullmatch(rf"120/120 - {TIME}\n", stream.getvalue())


def strip_times(text):
    return re.sub(TIME, "<time>", text)


@pytest.mark.oracle
def test_verbose_two_fit_prints_what_keras_prints(capsys):
    k = keras()
    x, y = regression(n=25)
    keras_model = k.Sequential([k.Input((3,)), k.layers.Dense(1)])
    keras_model.compile(optimizer=k.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    model = danlu.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer=optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    model.set_weights(keras_model.get_weights())
    capsys.readouterr()
    for fit_model in (keras_model, model):
        fit_model.fit(x, y, batch_size=4, epochs=3, validation_split=0.2, shuffle=False, verbose=2)
        fit_model.evaluate(x, y, batch_size=8, verbose=2)
        fit_model.predict(x, batch_size=8, verbose=2)
        fit_model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=2)
    keras_text, danlu_text = capsys.readouterr().out.split("Epoch 1/3\n")[1:]
    assert strip_times(danlu_text) == strip_times(keras_text)
    assert len(danlu_text.splitlines()) == 8


@pytest.mark.oracle
@pytest.mark.parametrize("value", [0.0, 1e-3, 0.00100001, 0.5, 2.25, 12345.6789, 1e-6, 3.0e7])
def test_value_format_as_keras_progbar(value, capsys):
    progbar = keras().utils.Progbar(target=1, verbose=2, stateless_metrics=set())
    progbar.update(1, [("loss", value)], finalize=True)
    keras_line = capsys.readouterr().out
    assert keras_line.endswith(f" - loss: {format_value(value)}\n"), keras_line
