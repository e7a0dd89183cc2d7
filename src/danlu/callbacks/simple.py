"""Small callbacks: `TerminateOnNaN`, `CSVLogger`, `SwapEMAWeights`."""

from __future__ import annotations

import csv
import io
import math
import os

import torch

from danlu.callbacks.base import Callback
from danlu.saving.atomic import atomic_path


class TerminateOnNaN(Callback):
    """Stop training when a batch loss is NaN or infinite (``raise_error=True``: raise).

    Reading the loss needs its value on the host, one read per batch: this callback is the
    one place that costs a synchronization per step, by its nature."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss at batch {batch} (loss {loss}); terminating training.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row (``epoch`` first, then the log names sorted; the
    validation columns are announced even before the first validation, as Keras does).
    ``append=True`` continues an existing file without repeating its header. The file is
    replaced atomically at each epoch's end (a kill leaves the previous rows or the new
    ones, never half a row), and its rows are part of the callback's state, so a run resumed
    by `BackupAndRestore` writes the file an uninterrupted run writes. With several
    processes (`danlu.distribute`), rank 0 writes the (global) logs."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys = None
        self._text = ""
        self._chief = True

    def on_train_begin(self, logs=None):
        self.keys = None
        self._chief = _is_chief(self.model)  # rank-0 writing (distributed runs)
        if not self._chief:
            return
        folder = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"CSVLogger cannot write {self.filename!r}: the folder {folder!r} does not exist.")
        self._text = ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as file:
                self._text = file.read()

    def on_epoch_end(self, epoch, logs=None):
        if not self._chief:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=["epoch", *self.keys], delimiter=self.separator)
        if not self._text:
            writer.writeheader()
        writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._text += rows.getvalue()
        self._write()

    def get_state(self):
        return {"text": self._text, "keys": self.keys}

    def set_state(self, state):
        self._text, self.keys = state["text"], None if state["keys"] is None else list(state["keys"])
        if self._chief:
            self._write()

    def _write(self):
        with atomic_path(self.filename) as temporary, open(temporary, "w", newline="") as file:
            file.write(self._text)


def _strategy(model):
    """The run's strategy (several processes: rank 0 writes), or None for a model without one."""
    return getattr(getattr(model, "trainer", None), "strategy", None)


def _is_chief(model) -> bool:
    strategy = _strategy(model)
    return strategy is None or strategy.is_chief


class SwapEMAWeights(Callback):
    """Evaluate (and predict) with the optimizer's EMA weights: they are swapped in for
    every evaluation and back afterwards. ``swap_on_epoch=True`` also keeps them in the model
    between epochs, so that callbacks after this one (e.g. ModelCheckpoint) see them.
    Needs an optimizer with ``use_ema=True``."""

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._swapped = False

    def _optimizer(self):
        optimizer = self.model.trainer.optimizer
        if not optimizer.use_ema:
            raise ValueError("SwapEMAWeights needs an optimizer created with use_ema=True.")
        return optimizer

    def _swap(self):
        self._optimizer().swap_ema_weights()
        self._swapped = not self._swapped

    def get_state(self):
        return {"swapped": self._swapped}

    def set_state(self, state):
        self._swapped = bool(state["swapped"])

    def on_train_begin(self, logs=None):
        self._optimizer()

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._swapped:
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._swapped:
            self._swap()

    def on_test_begin(self, logs=None):
        if not self._swapped:
            self._swap()

    def on_test_end(self, logs=None):
        if self._swapped:
            self._swap()

    def on_train_end(self, logs=None):
        if self._swapped:
            with torch.no_grad():
                self._swap()
