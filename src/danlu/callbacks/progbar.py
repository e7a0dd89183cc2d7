"""`ProgbarLogger`: Keras' progress display.

On a terminal (``verbose=1``) a bar redrawn at most every 0.05 s::

    Epoch 3/10
    37/47 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step - acc: 0.9612 - loss: 0.1284

When the output is not a terminal (a CI log, a file), or with ``verbose=2``, one line per
epoch. ``verbose=0`` prints nothing. Values are read from the device only when a line is
drawn. The bar is drawn by hand to look exactly like Keras' (tqdm's format differs).
"""

from __future__ import annotations

import sys
import time

from danlu.callbacks.base import Callback

BAR_WIDTH = 20
REDRAW_SECONDS = 0.05


def format_value(value) -> str:
    value = float(value)
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.4e}"


def format_logs(logs) -> str:
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items() if _is_number(value))


def _is_number(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError, RuntimeError):
        return False


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def format_step_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """One progress line: ``update(current, logs)`` redraws when due."""

    def __init__(self, target, interactive, stream=None):
        self.target = target
        self.interactive = interactive
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_length = 0

    def line(self, current, logs, finished) -> str:
        elapsed = time.perf_counter() - self.start
        per_step = elapsed / max(current, 1)
        if self.target:
            filled = int(BAR_WIDTH * min(current, self.target) / self.target)
            bar = "━" * filled + " " * (BAR_WIDTH - filled) if not finished else "━" * BAR_WIDTH
            width = len(str(self.target))
            counter = f"{current:>{width}}/{self.target}"
            timing = format_duration(elapsed) if finished else f"{format_duration(per_step * (self.target - current))}"
            head = f"{counter} {bar} {timing} {format_step_time(per_step)}"
        else:
            head = f"{current} {format_duration(elapsed)} {format_step_time(per_step)}"
        return head + format_logs(logs or {})

    def update(self, current, logs=None, finished=False):
        now = time.perf_counter()
        if not finished and (not self.interactive or now - self._last_draw < REDRAW_SECONDS):
            return
        self._last_draw = now
        text = self.line(current, logs, finished)
        if self.interactive:
            padding = " " * max(self._last_length - len(text), 0)
            self.stream.write("\r" + text + padding + ("\n" if finished else ""))
            self._last_length = len(text)
        elif finished:
            self.stream.write(text + "\n")
        self.stream.flush()


class ProgbarLogger(Callback):
    """Keras' progress bar for `fit`, `evaluate` and `predict` (added by them when
    ``verbose`` is not 0). ``verbose=1``: a live bar on terminals, one line per epoch
    elsewhere; ``verbose=2``: one line per epoch."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._bar = None

    @staticmethod
    def _is_first_process() -> bool:
        """Only the first of several training processes prints (torchrun sets RANK)."""
        import os

        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank() == 0
        return int(os.environ.get("RANK", "0")) == 0

    def set_params(self, params):
        super().set_params(params)
        if not self._is_first_process():
            self.params = {**params, "verbose": 0}

    def _write(self, text):
        if self.params.get("verbose", 1) == 0:
            return
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def _new_bar(self):
        """A bar for the coming loop, or None when this process prints nothing."""
        if self.params.get("verbose", 1) == 0:
            return None
        stream = self.stream or sys.stdout
        interactive = self.params.get("verbose", 1) == 1 and hasattr(stream, "isatty") and stream.isatty()
        return Progbar(self.params.get("steps"), interactive, self.stream)

    def _finish(self, bar, seen, logs=None):
        if bar is not None:
            bar.update(self.params.get("steps") or seen, logs, finished=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._write(f"Epoch {epoch + 1}/{self.params.get('epochs')}\n")
        self._bar, self._seen, self._in_epoch = self._new_bar(), 0, True

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None:
            self._bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(self._bar, self._seen, logs)
        self._bar, self._in_epoch = None, False

    def on_test_begin(self, logs=None):
        # validation inside fit shows on the epoch's line; a standalone evaluate() has its own
        self._eval_bar = None if getattr(self, "_in_epoch", False) else self._new_bar()
        self._eval_seen = 0

    def on_test_batch_end(self, batch, logs=None):
        self._eval_seen = batch + 1
        if self._eval_bar is not None:
            self._eval_bar.update(batch + 1, logs)

    def on_test_end(self, logs=None):
        self._finish(self._eval_bar, self._eval_seen, logs)
        self._eval_bar = None

    def on_predict_begin(self, logs=None):
        self._predict_bar, self._predict_seen = self._new_bar(), 0

    def on_predict_batch_end(self, batch, logs=None):
        self._predict_seen = batch + 1
        if self._predict_bar is not None:
            self._predict_bar.update(batch + 1)

    def on_predict_end(self, logs=None):
        self._finish(self._predict_bar, self._predict_seen)
