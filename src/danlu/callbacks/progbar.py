"""`ProgbarLogger`: Keras' progress display.

``verbose=1`` on a terminal: a bar redrawn at most every 0.05 s (ETA while running, the
elapsed seconds once done)::

    Epoch 3/10
    37/47 ━━━━━━━━━━━━━━━━━━━━ 0s 4ms/step - acc: 0.9612 - loss: 0.1284

``verbose=1`` when the output is not a terminal (a CI log, a file): only the finished bar,
one line per epoch. ``verbose=2``: Keras' one line per epoch, written when the epoch ends,
with no bar (elapsed seconds, then the time per step)::

    Epoch 3/10
    47/47 - 0s - 4ms/step - acc: 0.9612 - loss: 0.1284 - val_acc: 0.9400 - val_loss: 0.2011

``verbose=0`` prints nothing. As Keras, the ``Epoch i/N`` line is written only when ``N > 1``,
and a value ``v`` prints as ``f"{v:.4f}"`` when ``|v| > 1e-3``, else as ``f"{v:.4e}"`` (so
0 is ``0.0000e+00``; 12345.6 stays ``12345.6000``); a vector-valued metric prints its mean.
Keras' ``verbose=2`` branch tests ``v > 1e-3`` without the absolute value, printing a
negative loss such as -0.99 as ``-9.9000e-01``; danlu uses the ``verbose=1`` rule in both
modes (``-0.9900``), the evident intent. Values are read from the device only when a line is
drawn. The bar is drawn by hand to look like Keras' (tqdm's format differs); it uses spaces
for the unfilled part instead of Keras' ANSI colours.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from danlu.callbacks.base import Callback

BAR_WIDTH = 20
REDRAW_SECONDS = 0.05


def _scalar(value):
    """A log value as one float (the mean of a vector value, as Keras shows it), or None."""
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        pass
    try:
        array = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    return float(array.mean()) if array.size else None


def format_value(value) -> str:
    """Keras' rule: ``.4f`` when ``|value| > 1e-3``, else ``.4e`` (``0.0000e+00``)."""
    scalar = _scalar(value)
    if scalar is None:
        return str(value)
    return f"{scalar:.4f}" if abs(scalar) > 1e-3 else f"{scalar:.4e}"


def format_logs(logs) -> str:
    """`` - name: value`` for every numeric entry, in the logs' order."""
    parts = []
    for key, value in logs.items():
        scalar = _scalar(value)
        if scalar is not None:
            parts.append(f" - {key}: {format_value(scalar)}")
    return "".join(parts)


def format_duration(seconds: float) -> str:
    """Keras' ETA: ``h:mm:ss`` past an hour, ``m:ss`` past a minute, else whole seconds
    (truncated)."""
    whole = int(seconds)
    if seconds > 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if seconds > 60:
        return f"{whole // 60}:{whole % 60:02d}"
    return f"{whole}s"


def format_step_time(seconds: float) -> str:
    """Keras' time per step: whole seconds from 1 s (and for 0), else ms, else us."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """One progress line: ``update(current, logs)`` redraws when due; ``verbose=2`` writes
    only the finished line, in Keras' bar-less form. The time per step leaves out the first
    step once there are more (Keras: it is not representative)."""

    def __init__(self, target, interactive, stream=None, verbose=1):
        self.target = target
        self.interactive = interactive
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.start = time.perf_counter()
        self._after_first_step = None
        self._last_draw = 0.0
        self._last_length = 0

    def _step_time(self, current, now) -> float:
        if not current:
            return 0.0
        if self._after_first_step is not None and current > 1:
            per_step = (now - self._after_first_step) / (current - 1)
        else:
            per_step = (now - self.start) / current
        if current == 1:
            self._after_first_step = now
        return per_step

    def line(self, current, logs, finished, now=None, per_step=None) -> str:
        now = time.perf_counter() if now is None else now
        per_step = self._step_time(current, now) if per_step is None else per_step
        elapsed = f"{now - self.start:.0f}s"
        if self.verbose == 2:
            head = f"{current:>{len(str(self.target))}}/{self.target} - {elapsed} - {format_step_time(per_step)}"
        elif self.target:
            filled = BAR_WIDTH if finished else int(BAR_WIDTH * min(current, self.target) / self.target)
            bar = "━" * filled + " " * (BAR_WIDTH - filled)
            timing = elapsed if finished else format_duration(per_step * (self.target - current))
            head = f"{current:>{len(str(self.target))}}/{self.target} {bar} {timing} {format_step_time(per_step)}"
        else:
            head = f"{current:7d}/Unknown {elapsed} {format_step_time(per_step)}"
        return head + format_logs(logs or {})

    def update(self, current, logs=None, finished=False):
        now = time.perf_counter()
        per_step = self._step_time(current, now)
        if not finished and (not self.interactive or now - self._last_draw < REDRAW_SECONDS):
            return
        if finished and self.target is None:
            self.target = current  # Keras: an unknown length is what was seen
        if self.verbose == 2 and not self.target:
            return
        self._last_draw = now
        text = self.line(current, logs, finished, now, per_step)
        if self.interactive:
            padding = " " * max(self._last_length - len(text), 0)
            self.stream.write("\r" + text + padding + ("\n" if finished else ""))
            self._last_length = len(text)
        elif finished:
            self.stream.write(text + "\n")
        self.stream.flush()


class ProgbarLogger(Callback):
    """Keras' progress bar for `fit`, `evaluate` and `predict` (added by them when
    ``verbose`` is not 0). ``verbose=1``: a live bar on terminals, the finished bar elsewhere;
    ``verbose=2``: one bar-less line per epoch (or evaluation, or prediction)."""

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

    def _verbose(self):
        verbose = self.params.get("verbose", 1)
        return 1 if verbose == "auto" else verbose

    def _write(self, text):
        if self._verbose() == 0:
            return
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def _new_bar(self):
        """A bar for the coming loop, or None when this process prints nothing."""
        verbose = self._verbose()
        if verbose == 0:
            return None
        stream = self.stream or sys.stdout
        interactive = verbose == 1 and hasattr(stream, "isatty") and stream.isatty()
        return Progbar(self.params.get("steps"), interactive, self.stream, verbose=verbose)

    def _finish(self, bar, seen, logs=None):
        if bar is not None:
            bar.update(self.params.get("steps") or seen, logs, finished=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._bar, self._seen, self._in_epoch = self._new_bar(), 0, True
        epochs = self.params.get("epochs")
        if epochs is not None and epochs > 1:  # Keras: no header for a single epoch
            self._write(f"Epoch {epoch + 1}/{epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._bar is not None and self._bar.verbose == 1:
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
        if self._eval_bar is not None and self._eval_bar.verbose == 1:
            self._eval_bar.update(batch + 1, logs)

    def on_test_end(self, logs=None):
        self._finish(self._eval_bar, self._eval_seen, logs)
        self._eval_bar = None

    def on_predict_begin(self, logs=None):
        self._predict_bar, self._predict_seen = self._new_bar(), 0

    def on_predict_batch_end(self, batch, logs=None):
        self._predict_seen = batch + 1
        if self._predict_bar is not None and self._predict_bar.verbose == 1:
            self._predict_bar.update(batch + 1)

    def on_predict_end(self, logs=None):
        self._finish(self._predict_bar, self._predict_seen)
