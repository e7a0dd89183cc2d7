"""The built-in callbacks: Keras' decisions on scripted logs (Keras 3.15 as the oracle) and
their effects in real short fits."""

import csv
import math
import os

import numpy as np
import pytest
import torch

import danlu
from danlu import callbacks, layers, losses, optimizers
from tests.oracle import keras


def tiny_model(optimizer=None, metrics=("acc",)):
    torch.manual_seed(0)
    model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dense(2)])
    model.compile(optimizer=optimizer or optimizers.SGD(0.1), loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=list(metrics))
    x, y = data()
    model.fit(x[:8], y[:8], epochs=1, verbose=0)  # built and compiled
    return model


def data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def keras_model():
    k = keras()
    model = k.Sequential([k.Input((2,)), k.layers.Dense(1)])
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse", metrics=["accuracy"])
    return model


SEQUENCES = {
    "improving": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5],
    "plateau": [1.0, 0.8, 0.81, 0.82, 0.79, 0.80, 0.81, 0.83, 0.84],
    "noisy": [0.5, 0.6, 0.4, 0.45, 0.41, 0.39, 0.5, 0.5, 0.5, 0.38, 0.6],
    "tiny_gains": [1.0, 0.99995, 0.9999, 0.9998, 0.9997, 0.9996],
}


def run_scripted(callback, model, values, monitor="val_loss"):
    """Feed ``values`` as epoch logs; return the epoch training stopped at (or None) and
    the learning rate after each epoch."""
    callback.set_model(model)
    callback.set_params({"epochs": len(values), "verbose": 0, "steps": 1})
    model.stop_training = False
    callback.on_train_begin({})
    rates, stopped = [], None
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        callback.on_epoch_end(epoch, {monitor: value, "loss": value})
        rates.append(round(float(np.asarray(model.optimizer.learning_rate)), 8))
        if model.stop_training:
            stopped = epoch
            break
    return stopped, rates


EARLY_STOPPING_CASES = [
    {"patience": 0}, {"patience": 2}, {"patience": 3, "min_delta": 0.02}, {"patience": 1, "baseline": 0.75},
    {"patience": 2, "start_from_epoch": 3}, {"patience": 1, "min_delta": 1e-4},
]


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", EARLY_STOPPING_CASES, ids=str)
@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_early_stopping_stops_at_the_epoch_keras_stops(kwargs, sequence):
    values = SEQUENCES[sequence]
    ours = run_scripted(callbacks.EarlyStopping(**kwargs), tiny_model(), values)
    theirs = run_scripted(keras().callbacks.EarlyStopping(**kwargs), keras_model(), values)
    assert ours[0] == theirs[0]


@pytest.mark.oracle
@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_early_stopping_in_max_mode_matches_keras(sequence):
    values = [-v for v in SEQUENCES[sequence]]
    ours = run_scripted(callbacks.EarlyStopping(monitor="val_acc", mode="max", patience=1), tiny_model(), values, "val_acc")
    theirs = run_scripted(keras().callbacks.EarlyStopping(monitor="val_acc", mode="max", patience=1), keras_model(), values, "val_acc")
    assert ours[0] == theirs[0]


REDUCE_CASES = [
    {"patience": 1}, {"patience": 2, "factor": 0.5}, {"patience": 1, "cooldown": 2, "factor": 0.5},
    {"patience": 1, "min_lr": 0.05, "factor": 0.2}, {"patience": 2, "min_delta": 0.05},
]


@pytest.mark.oracle
@pytest.mark.parametrize("kwargs", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_reduce_lr_on_plateau_changes_the_rate_when_keras_does(kwargs, sequence):
    values = SEQUENCES[sequence]
    ours = run_scripted(callbacks.ReduceLROnPlateau(**kwargs), tiny_model(), values)
    theirs = run_scripted(keras().callbacks.ReduceLROnPlateau(**kwargs), keras_model(), values)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-6)


def test_nan_is_never_the_best():
    stopped, _ = run_scripted(callbacks.EarlyStopping(patience=2), tiny_model(), [math.nan, 1.0, 0.9, 0.8, 0.7])
    assert stopped is None  # Keras would keep NaN as the best and stop at epoch 2


def test_monitor_missing_from_logs_warns_once_and_unknown_mode_falls_back_to_auto():
    callback = callbacks.EarlyStopping(monitor="val_f1", mode="max")
    callback.set_model(tiny_model())
    callback.on_train_begin({})
    with pytest.warns(UserWarning, match="'val_f1', which is not in the logs"):
        callback.on_epoch_end(0, {"loss": 1.0})
        callback.on_epoch_end(1, {"loss": 1.0})
    with pytest.warns(UserWarning, match="mode 'lowest' is unknown"):  # Keras 3: a warning, then "auto"
        assert callbacks.EarlyStopping(mode="lowest").mode == "auto"
    with pytest.raises(ValueError, match="patience must be an int >= 0"):
        callbacks.EarlyStopping(patience=-1)
    auto = callbacks.EarlyStopping(monitor="val_learning_rate")
    auto.set_model(tiny_model())
    with pytest.raises(ValueError, match="pass mode='min' or mode='max'"):
        auto.on_epoch_end(0, {"val_learning_rate": 1.0})


def test_auto_mode_maximizes_accuracy():
    callback = callbacks.EarlyStopping(monitor="val_acc", patience=0)
    stopped, _ = run_scripted(callback, tiny_model(), [0.5, 0.6, 0.7, 0.65], "val_acc")
    assert stopped == 3


def test_early_stopping_restores_the_best_weights_in_a_real_fit():
    x, y = data()
    model = tiny_model()
    seen = {}

    class Record(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = ({k: v.clone() for k, v in self.model.state_dict().items()}, logs["val_loss"])

    stopper = callbacks.EarlyStopping(patience=1, restore_best_weights=True)
    model.compile(optimizer=optimizers.SGD(3.0), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=30, validation_split=0.5, callbacks=[Record(), stopper], verbose=0)
    best_epoch = min(seen, key=lambda e: seen[e][1])
    assert stopper.best_epoch == best_epoch
    for name, value in model.state_dict().items():
        assert torch.equal(value, seen[best_epoch][0][name])


def test_model_checkpoint_formats_names_and_saves_only_improvements(tmp_path):
    x, y = data()
    model = tiny_model()
    path = str(tmp_path / "ckpt" / "model-{epoch:02d}-{val_loss:.2f}.danlu")
    best = callbacks.ModelCheckpoint(path, save_best_only=True)
    model.fit(x, y, epochs=4, validation_split=0.25, callbacks=[best], verbose=0)
    files = sorted(os.listdir(tmp_path / "ckpt"))
    assert files and all(f.startswith("model-0") and f.endswith(".danlu") for f in files)
    restored = danlu.models.load_model(tmp_path / "ckpt" / files[-1])
    assert restored.evaluate(x, y, verbose=0)[0] > 0


def test_model_checkpoint_weights_every_n_batches(tmp_path):
    x, y = data()
    model = tiny_model()
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}-{batch}.safetensors"), save_weights_only=True, save_freq=2)
    model.fit(x, y, batch_size=16, epochs=1, callbacks=[checkpoint], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["w-1-2.safetensors", "w-1-4.safetensors"]


def test_model_checkpoint_writes_danlu_files_under_keras_names(tmp_path):
    x, y = data()
    model = tiny_model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[
        callbacks.ModelCheckpoint(str(tmp_path / "m.keras")),
        callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True),
    ])
    restored = danlu.models.load_model(tmp_path / "m.keras")
    other = tiny_model()
    other(torch.as_tensor(x[:2]))
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b, c in zip(model.parameters(), restored.parameters(), other.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)
    with pytest.raises(ValueError, match="is a whole-model file .*load_model"):
        other.load_weights(tmp_path / "m.keras")


def test_model_checkpoint_errors_before_training(tmp_path):
    x, y = data()
    model = tiny_model()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(KeyError, match="names val_f1, which the logs will not have"):
        model.fit(x, y, epochs=1, callbacks=[callbacks.ModelCheckpoint(str(tmp_path / "{val_f1}.danlu"))], verbose=0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_whole_model_save_and_load_continues_the_same_trajectory(tmp_path):
    x, y = data()
    model = tiny_model(optimizer=optimizers.Adam(1e-2, use_ema=True))
    model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "model.danlu")
    restored = danlu.models.load_model(tmp_path / "model.danlu")
    model.fit(x, y, epochs=2, shuffle=False, verbose=0)
    restored.fit(x, y, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(model.parameters(), restored.parameters()):
        assert torch.equal(a, b)
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations)


class Kill(callbacks.Callback):
    """Raise at a given epoch (and batch), as a killed process would stop."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and self._epoch == self.epoch and batch == self.batch:
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.batch is None and epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("save_freq,kill", [("epoch", Kill(2)), (3, Kill(1, batch=4))])
def test_backup_and_restore_resumes_to_the_same_weights(tmp_path, save_freq, kill):
    x, y = data(96)

    def fresh():
        torch.manual_seed(0)
        model = danlu.Sequential([layers.Dense(8, activation="relu"), layers.Dropout(0.3), layers.Dense(2)])
        model.compile(optimizer=optimizers.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    torch.manual_seed(123)
    reference = fresh()
    torch.manual_seed(7)
    reference.fit(x, y, batch_size=16, epochs=4, verbose=0)

    backup = callbacks.BackupAndRestore(tmp_path / "backup", save_freq=save_freq)
    interrupted = fresh()
    torch.manual_seed(7)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(x, y, batch_size=16, epochs=4, callbacks=[backup, kill], verbose=0)
    assert backup.newest_backup is not None and os.path.exists(backup.newest_backup)
    resumed = fresh()  # a new process: a new model, the same script
    resumed.fit(x, y, batch_size=16, epochs=4, callbacks=[callbacks.BackupAndRestore(tmp_path / "backup", save_freq=save_freq)], verbose=0)
    for a, b in zip(reference.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert os.listdir(tmp_path / "backup") == []  # deleted after completion


def test_csv_logger_header_follows_the_keys_and_appends(tmp_path):
    x, y = data()
    path = tmp_path / "log.csv"
    model = tiny_model()
    model.fit(x, y, epochs=2, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)], verbose=0)
    model.fit(x, y, epochs=1, validation_split=0.25, callbacks=[callbacks.CSVLogger(path, append=True)], verbose=0)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert len(rows) == 4 and rows[3][0] == "0"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.fit(x, y, epochs=1, callbacks=[callbacks.CSVLogger(tmp_path / "missing" / "log.csv")], verbose=0)


def test_learning_rate_scheduler_on_danlu_and_torch_optimizers_logs_the_rate():
    x, y = data()
    for optimizer in (optimizers.SGD(0.1), None):
        model = tiny_model(optimizer=optimizer)
        if optimizer is None:
            model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
        history = model.fit(x, y, epochs=3, callbacks=[scheduler], verbose=0)
        assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])


def test_reduce_lr_on_plateau_in_a_real_fit_on_a_torch_optimizer():
    x, y = data()
    model = tiny_model()
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.0), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    model.optimizer.param_groups[0]["lr"] = 0.0  # nothing improves
    for group in model.optimizer.param_groups:
        group["lr"] = 1e-12
    history = model.fit(x, y, epochs=3, callbacks=[callbacks.ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1.0)], verbose=0)
    assert history.history["learning_rate"] == pytest.approx([1e-12, 5e-13, 2.5e-13])


def test_terminate_on_nan():
    x, y = data()
    x[:] = np.nan
    model = tiny_model()
    history = model.fit(x, y, batch_size=16, epochs=3, callbacks=[callbacks.TerminateOnNaN()], verbose=0)
    assert len(history.epoch) == 1
    with pytest.raises(RuntimeError, match="NaN or Inf loss at batch 0"):
        model.fit(x, y, epochs=1, callbacks=[callbacks.TerminateOnNaN(raise_error=True)], verbose=0)


def test_swap_ema_weights_evaluates_with_the_averages():
    x, y = data()
    model = tiny_model(optimizer=optimizers.SGD(0.5, use_ema=True, ema_momentum=0.9))
    seen = {}

    class Peek(callbacks.Callback):
        def on_test_begin(self, logs=None):
            seen["weights"] = [p.detach().clone() for p in self.model.parameters()]

    model.fit(x, y, epochs=2, validation_split=0.25, callbacks=[callbacks.SwapEMAWeights(), Peek()], verbose=0)
    averages = [model.optimizer.state[p]["ema_average"] for p in model.parameters()]
    with pytest.raises(ValueError, match="use_ema=True"):
        tiny_model().fit(x, y, callbacks=[callbacks.SwapEMAWeights()], verbose=0)
    assert seen["weights"] and len(averages) == len(seen["weights"])


def test_tensorboard_writes_event_files_that_tensorboard_reads(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y = data()
    model = tiny_model()
    board = callbacks.TensorBoard(tmp_path / "logs", histogram_freq=1, update_freq=2)
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, callbacks=[board], verbose=0)
    train = EventAccumulator(str(tmp_path / "logs" / "train"), size_guidance={"scalars": 0, "histograms": 0})
    train.Reload()
    validation = EventAccumulator(str(tmp_path / "logs" / "validation"))
    validation.Reload()
    assert {"epoch_loss", "epoch_acc", "batch_loss"} <= set(train.Tags()["scalars"])
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1]
    assert train.Scalars("epoch_loss")[1].value == pytest.approx(model.history.history["loss"][1], rel=1e-6)
    assert {"epoch_loss", "epoch_acc"} <= set(validation.Tags()["scalars"])
    assert train.Tags()["histograms"]


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = data()
    history = tiny_model().fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    path = tmp_path / "curves.png"
    history.plot(path)
    danlu.plot_history(history, tmp_path / "again.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "again.png").exists()
