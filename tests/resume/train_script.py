"""A training run that BackupAndRestore must be able to resume exactly: Dropout, shuffling,
Adam on an ExponentialDecay schedule, numpy and Python randomness in a callback, EarlyStopping
and ReduceLROnPlateau with state, a validation split, backups every few batches.

    python train_script.py WORKDIR [EPOCHS]

Writes WORKDIR/started once imported (so a killer knows when training begins), and on
completion WORKDIR/final.safetensors (the weights) and WORKDIR/history.json.

``KILL_POINT=<where>:<n>`` makes the process SIGKILL itself at the n-th time it reaches a
point of the backup machinery (counted from its start): ``temporary`` (half of a backup's
bytes written to its temporary file), ``unlisted`` (a backup file complete, its manifest
entry not yet written), ``backup`` (a backup and its manifest complete), ``restore`` (inside
the restore, once the backup is read)."""

import json
import os
import random
import signal
import sys

import numpy as np
import torch

import danlu
from danlu import callbacks, layers, optimizers

torch.set_num_threads(1)


def install_kill_point(spec):
    """Wrap the function of the backup machinery that ``spec`` names so that its n-th call
    kills this process (see the module docstring)."""
    import safetensors.torch

    from danlu.saving import files, generations

    where, n = spec.split(":")
    calls = {"count": 0}

    def due():
        calls["count"] += 1
        return calls["count"] == int(n)

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "temporary":
        original_save = safetensors.torch.save_file

        def save_file(tensors, filename, metadata=None):
            original_save(tensors, filename, metadata=metadata)
            if "backup" in os.path.basename(filename) and due():
                size = os.path.getsize(filename)
                with open(filename, "r+b") as file:
                    file.truncate(size // 2)
                die()

        safetensors.torch.save_file = save_file
    elif where in ("unlisted", "backup"):
        original = files.write if where == "unlisted" else generations.write

        def write(*args, **kwargs):
            result = original(*args, **kwargs)
            if due():
                die()
            return result

        if where == "unlisted":
            files.write = write
        else:
            generations.write = write
    elif where == "restore":
        original_read = files.read

        def read(*args, **kwargs):
            result = original_read(*args, **kwargs)
            if due():
                die()
            return result

        files.read = read
    else:
        raise ValueError(f"unknown KILL_POINT {spec!r}")


class NoisyLogger(callbacks.Callback):
    """Draws from numpy's and Python's global generators each epoch and logs the draws, so a
    resumed run must restore them to log the same values."""

    def on_epoch_end(self, epoch, logs=None):
        logs["noise"] = float(np.random.rand()) + random.random()


def main(workdir, epochs=6):
    if os.environ.get("KILL_POINT"):
        install_kill_point(os.environ["KILL_POINT"])
    danlu.utils.set_random_seed(1234)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 20)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("int64") + (x[:, 3] > 1).astype("int64")
    model = danlu.Sequential([
        danlu.Input((20,)), layers.Dense(64, activation="relu"), layers.Dropout(0.3),
        layers.Dense(64, activation="relu"), layers.Dense(3),
    ])
    schedule = optimizers.schedules.ExponentialDecay(1e-2, decay_steps=20, decay_rate=0.9)
    model.compile(optimizer=optimizers.Adam(schedule), loss=danlu.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    open(os.path.join(workdir, "started"), "w").close()
    history = model.fit(
        x, y, batch_size=16, epochs=epochs, validation_split=0.2, verbose=0,
        callbacks=[
            NoisyLogger(),
            callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
            callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0),
            callbacks.BackupAndRestore(os.path.join(workdir, "backup"), save_freq=7),
        ],
    )
    model.save_weights(os.path.join(workdir, "final.safetensors"))
    with open(os.path.join(workdir, "history.json"), "w") as file:
        json.dump({"epoch": history.epoch, "history": history.history}, file)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 6)
