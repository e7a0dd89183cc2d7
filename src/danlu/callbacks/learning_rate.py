"""Learning-rate callbacks: `ReduceLROnPlateau` and `LearningRateScheduler`. Both work with
danlu optimizers and plain ``torch.optim`` ones, and log the rate as "learning_rate"."""

from __future__ import annotations

import numpy as np
import torch

from danlu._validation import check_number
from danlu.callbacks.base import Callback
from danlu.callbacks.monitor import MonitorCallback, get_learning_rate, set_learning_rate


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement
    (by more than ``min_delta``), never below ``min_lr``, then wait ``cooldown`` epochs.

    Keras defaults: ``monitor="val_loss"``, ``factor=0.1``, ``patience=10``,
    ``min_delta=1e-4``, ``cooldown=0``, ``min_lr=0.0``, ``mode="auto"``.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        check_number("min_delta", min_delta)
        check_number("min_lr", min_lr, low=0)
        super().__init__(monitor, mode, min_delta=min_delta)
        if not 0 <= factor < 1.0:
            raise ValueError(f"factor must be in [0, 1); received factor={factor!r}.")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0; received {name}={value!r}.")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter,
                "lower_is_better": self.lower_is_better}

    def set_state(self, state):
        self.best, self.wait = state["best"], state["wait"]
        self.cooldown_counter, self.lower_is_better = state["cooldown_counter"], state["lower_is_better"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.trainer.optimizer
        logs["learning_rate"] = get_learning_rate(optimizer)
        current = self.monitored_value(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = get_learning_rate(optimizer)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    set_learning_rate(optimizer, new)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``), ``epoch`` counted from 0."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function (epoch, lr) -> lr; received {schedule!r}.")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.trainer.optimizer
        try:
            value = self.schedule(epoch, get_learning_rate(optimizer))
        except TypeError:
            value = self.schedule(epoch)
        if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
            value = float(value)
        if not isinstance(value, (float, np.float32, np.float64)):  # Keras 3: a float, not an int
            raise ValueError(
                f"The output of the schedule function should be a float; it returned {value!r} "
                f"({type(value).__name__}) for epoch {epoch}."
            )
        set_learning_rate(optimizer, float(value))
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(value)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model.trainer.optimizer)
