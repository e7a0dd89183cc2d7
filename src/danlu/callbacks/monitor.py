"""What the monitoring callbacks share, written once: the monitored value, whether lower or
higher is better (``mode``), ``min_delta``, and the best value so far."""

from __future__ import annotations

import math
import warnings

from danlu.callbacks.base import Callback


def check_save_freq(save_freq):
    """``"epoch"`` or a positive number of batches (ModelCheckpoint, BackupAndRestore)."""
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
        raise ValueError(f"save_freq must be 'epoch' or a positive number of batches; received save_freq={save_freq!r}.")
    return save_freq


def get_learning_rate(optimizer) -> float:
    """The optimizer's current learning rate, as a Python float."""
    return float(optimizer.learning_rate)


def set_learning_rate(optimizer, value: float) -> None:
    optimizer.learning_rate = float(value)


class MonitorCallback(Callback):
    """Base of callbacks that watch one log value.

    ``mode``: "min", "max" or "auto" (Keras' rule: "loss" and "val_loss" are minimized; a
    metric is maximized or minimized by its direction, e.g. accuracy and AUC up, errors down;
    otherwise "auto" raises asking for an explicit mode). An unknown mode warns and falls
    back to "auto", as Keras 3 does. An improvement beats the best by more
    than ``min_delta``. A NaN value is never an improvement (Keras 3 lets a NaN first epoch
    become the best, after which nothing improves).
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0.0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode!r} is unknown (valid: 'auto', 'min', 'max'); falling back to "
                          "'auto', as Keras does.", stacklevel=3)
            mode = "auto"
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log name such as 'val_loss'; received {monitor!r}.")
        self.monitor, self.mode, self.baseline = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self.best = None
        self.lower_is_better = None
        self._warned_missing = False

    def _resolve_mode(self):
        if self.mode != "auto":
            self.lower_is_better = self.mode == "min"
            return
        name = self.monitor.removeprefix("val_")
        if name == "loss":
            self.lower_is_better = True
            return
        for metric in getattr(self.model, "metrics", []):
            if metric.name == name:
                self.lower_is_better = getattr(metric, "direction", "down") != "up"
                return
        raise ValueError(
            f"{type(self).__name__} cannot tell whether monitor={self.monitor!r} should go down or up: "
            "pass mode='min' or mode='max'."
        )

    def is_improvement(self, current, reference) -> bool:
        if current is None or math.isnan(current):
            return False
        if reference is None:
            return True
        if self.lower_is_better:
            return current + self.min_delta < reference
        return current - self.min_delta > reference

    def monitored_value(self, logs):
        """The monitored value from ``logs``, or None with a warning (once) when absent."""
        if self.lower_is_better is None:
            self._resolve_mode()
        value = (logs or {}).get(self.monitor)
        if value is None:
            if not self._warned_missing:
                warnings.warn(
                    f"{type(self).__name__} is conditioned on {self.monitor!r}, which is not in the logs "
                    f"(available: {', '.join(logs or {})}).",
                    stacklevel=3,
                )
                self._warned_missing = True
            return None
        return float(value)
