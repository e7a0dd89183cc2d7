"""`ModelCheckpoint`: save the model (or its weights) during training, atomically."""

from __future__ import annotations

import os
import string
import warnings

from danlu.callbacks.monitor import MonitorCallback, check_save_freq


class ModelCheckpoint(MonitorCallback):
    """Save every epoch (or every ``save_freq`` batches), or only when ``monitor`` improves
    (``save_best_only``).

    ``filepath`` may hold ``{epoch:02d}`` (1-based), ``{batch}`` and any log name, e.g.
    ``"ckpt/{epoch:02d}-{val_loss:.2f}.keras"``. Each file is a whole model (`Model.save`:
    weights, optimizer state, configs) or, with ``save_weights_only``, the weights
    (`Model.save_weights`), always in danlu's safetensors-based format whatever the suffix
    (``.keras``, ``.weights.h5``, ``.danlu``, ...). Every file is written to a temporary name
    and renamed, so a crash never leaves a half-written checkpoint in place of a good one.
    ``initial_value_threshold`` is the value to beat before the first save when
    ``save_best_only``; with ``save_best_only`` and the monitored value missing from the logs
    the model is saved, with a warning (Keras 3). ``mode="auto"`` on a monitor whose
    direction it cannot tell raises ``ValueError`` (Keras 3). Defaults as Keras:
    ``monitor="val_loss"``, ``save_freq="epoch"``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        self.save_freq = check_save_freq(save_freq)
        self.format_keys = {field for _, field, _, _ in string.Formatter().parse(self.filepath) if field}
        self.best = initial_value_threshold
        self._batches_since_save = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        """Check, before any epoch runs, that the folder is writable and that every name in
        ``filepath`` can come from the logs."""
        static_folder = os.path.dirname(os.path.abspath(self.filepath.split("{")[0] + "x"))
        try:
            os.makedirs(static_folder, exist_ok=True)
        except OSError as error:
            raise OSError(f"ModelCheckpoint cannot create the folder {static_folder!r}: {error}") from error
        if not os.access(static_folder, os.W_OK):
            raise PermissionError(f"ModelCheckpoint cannot write to the folder {static_folder!r}.")
        names = [m.name for m in getattr(self.model, "metrics", [])]
        possible = {"epoch", "batch", "learning_rate", *names, *(f"val_{n}" for n in names)}
        unknown = sorted(self.format_keys - possible)
        if unknown and names:
            raise KeyError(
                f"ModelCheckpoint filepath={self.filepath!r} names {', '.join(unknown)}, which the logs will not "
                f"have (they will have: {', '.join(sorted(possible))})."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, dict(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _monitored_or_warn(self, logs):
        """The monitored value; without it, Keras 3 saves anyway, with a warning."""
        if self.lower_is_better is None:
            self._resolve_mode()
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"ModelCheckpoint can save the best model only with {self.monitor!r} available; saving this one.",
                          stacklevel=3)
        return value

    def _path(self, epoch, batch, logs):
        values = {**logs, "epoch": epoch + 1}
        if batch is not None:
            values.setdefault("batch", batch + 1)
        missing = sorted(self.format_keys - set(values))
        if missing:
            raise KeyError(
                f"ModelCheckpoint cannot format filepath={self.filepath!r}: {', '.join(missing)} not in the logs "
                f"(available: {', '.join(sorted(values))})."
            )
        return self.filepath.format(**values)

    def _save(self, epoch, batch, logs):
        path = self._path(epoch, batch, logs)
        # rank-0 printing (distributed runs); model.save / save_weights write on rank 0 and wait
        strategy = getattr(getattr(self.model, "trainer", None), "strategy", None)
        verbose = self.verbose if strategy is None or strategy.is_chief else 0
        if self.save_best_only and self._monitored_or_warn(logs) is not None:
            current = self.monitored_value(logs)
            if not self.is_improvement(current, self.best):
                if verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                return
            if verbose > 0:
                previous = "None" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to {current:.5f}, saving model to {path}")
            self.best = current
        elif verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def get_state(self):
        return {"best": self.best, "batches_since_save": self._batches_since_save, "epoch": self._epoch,
                "lower_is_better": self.lower_is_better}

    def set_state(self, state):
        self.best, self._batches_since_save = state["best"], state["batches_since_save"]
        self._epoch, self.lower_is_better = state["epoch"], state["lower_is_better"]
