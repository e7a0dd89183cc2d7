"""Small callbacks: `TerminateOnNaN`, `CSVLogger`, `SwapEMAWeights`."""

from __future__ import annotations

import csv
import math
import os

import torch

from danlu.callbacks.base import Callback


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
    ``append=True`` continues an existing file without repeating its header. With several
    processes (`danlu.distribute`), rank 0 writes the (global) logs."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._file = self._writer = self.keys = None

    def on_train_begin(self, logs=None):
        self._file = self._writer = self.keys = None
        if not _is_chief(self.model):  # rank-0 writing (distributed runs)
            return
        folder = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"CSVLogger cannot write {self.filename!r}: the folder {folder!r} does not exist.")
        write_header = not (self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._write_header = write_header
        self._writer = self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:  # not rank 0
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], delimiter=self.separator)
            if self._write_header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = None


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
