"""Backup generations (two kept, checked by a manifest, a damaged newest one falls back with
a warning naming both), refusal of another run's backup, and the run state a resume needs
beyond the weights: History, CSVLogger's file, a stop decided before the kill."""

import json
import os
import warnings

import numpy as np
import pytest
import torch

import danlu
from danlu import callbacks, layers, losses, optimizers
from danlu.saving import files, generations


def tensors(value):
    return {"w": torch.full((4,), float(value))}


def test_two_generations_are_kept_and_the_newest_is_read(tmp_path):
    for value in (1, 2, 3):
        generations.write(tmp_path, "backup", tensors(value), {"value": value}, files.BACKUP)
    assert sorted(os.listdir(tmp_path)) == ["backup-000002.safetensors", "backup-000003.safetensors", "backup.manifest.json"]
    description, read, path = generations.read_newest(tmp_path, "backup", files.BACKUP)
    assert description["value"] == 3 and torch.equal(read["w"], tensors(3)["w"]) and path.endswith("000003.safetensors")


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_newest_generation_falls_back_with_a_warning_naming_both(tmp_path, damage):
    for value in (1, 2):
        generations.write(tmp_path, "backup", tensors(value), {"value": value}, files.BACKUP)
    newest, older = tmp_path / "backup-000002.safetensors", tmp_path / "backup-000001.safetensors"
    data = bytearray(newest.read_bytes())
    if damage == "truncate":
        newest.write_bytes(bytes(data[:40]))
    elif damage == "flip":
        data[-1] ^= 1
        newest.write_bytes(bytes(data))
    else:
        newest.unlink()
    with pytest.warns(UserWarning, match="newest backup is damaged") as caught:
        description, _, path = generations.read_newest(tmp_path, "backup", files.BACKUP)
    assert description["value"] == 1 and path == str(older)
    message = str(caught[0].message)
    assert str(newest) in message and str(older) in message


def test_every_generation_damaged_is_a_clear_error_naming_each(tmp_path):
    for value in (1, 2):
        generations.write(tmp_path, "backup", tensors(value), {"value": value}, files.BACKUP)
    for name in ("backup-000001.safetensors", "backup-000002.safetensors"):
        (tmp_path / name).write_bytes(b"\x00" * 10)
    with pytest.raises(files.FileFormatError, match="Every backup generation") as error:
        generations.read_newest(tmp_path, "backup", files.BACKUP)
    assert "backup-000001" in str(error.value) and "backup-000002" in str(error.value)


def test_a_damaged_manifest_reads_the_files_present_with_a_warning(tmp_path):
    for value in (1, 2):
        generations.write(tmp_path, "backup", tensors(value), {"value": value}, files.BACKUP)
    (tmp_path / "backup.manifest.json").write_text("{not json")
    with pytest.warns(UserWarning, match="manifest .* is damaged"):
        description, _, _ = generations.read_newest(tmp_path, "backup", files.BACKUP)
    assert description["value"] == 2


def test_a_file_the_manifest_does_not_list_is_never_read(tmp_path):
    generations.write(tmp_path, "backup", tensors(1), {"value": 1}, files.BACKUP)
    files.write(tmp_path / "backup-000002.safetensors", tensors(2), {"value": 2}, files.BACKUP)  # killed before its manifest
    assert generations.read_newest(tmp_path, "backup", files.BACKUP)[0]["value"] == 1
    generations.write(tmp_path, "backup", tensors(3), {"value": 3}, files.BACKUP)  # takes number 2 over
    assert json.loads((tmp_path / "backup.manifest.json").read_text())["generations"][-1]["number"] == 2
    assert generations.read_newest(tmp_path, "backup", files.BACKUP)[0]["value"] == 3


def data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def model_of(width=8):
    torch.manual_seed(0)
    model = danlu.Sequential([danlu.Input((6,)), layers.Dense(width, activation="relu"), layers.Dropout(0.2), layers.Dense(2)])
    model.compile(optimizer=optimizers.Adam(1e-2), loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def test_a_backup_of_another_model_is_refused_before_anything_changes(tmp_path):
    x, y = data()
    model_of(8).fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    other = model_of(16)
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(ValueError, match="another training configuration.*different shapes"):
        other.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))


class Interrupt(callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def test_history_and_the_csv_file_of_a_resumed_run_are_the_uninterrupted_ones(tmp_path):
    x, y = data()
    reference = model_of()
    torch.manual_seed(5)
    reference.fit(x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0,
                  callbacks=[callbacks.CSVLogger(tmp_path / "reference.csv")])

    def run(extra):
        model = model_of()
        torch.manual_seed(5)
        return model, model.fit(x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0, callbacks=[
            callbacks.CSVLogger(tmp_path / "resumed.csv"), callbacks.BackupAndRestore(tmp_path / "backup", save_freq=2), *extra])

    with pytest.raises(KeyboardInterrupt):
        run([Interrupt(epoch=2, batch=3)])  # the last backup: epoch 2, after batch 1
    resumed, history = run([])
    assert history.epoch == [0, 1, 2, 3] and history.history == reference.history.history
    assert (tmp_path / "resumed.csv").read_text() == (tmp_path / "reference.csv").read_text()
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_stop_decided_before_the_kill_is_kept(tmp_path):
    x, y = data()
    first = model_of()
    stop = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)  # stops after the second epoch
    first.fit(x, y, epochs=10, verbose=0, callbacks=[stop, callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert len(first.history.epoch) == 2
    again = model_of()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = again.fit(x, y, epochs=10, verbose=0, callbacks=[
            callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0), callbacks.BackupAndRestore(tmp_path)])
    assert history.epoch == [0, 1]  # restored after the stop: no further epoch
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert os.listdir(tmp_path) == []
