"""`History`: records every epoch's logs; `fit` returns it."""

from __future__ import annotations

import os

from danlu.callbacks.base import Callback
from danlu.saving.atomic import atomic_path


class History(Callback):
    """``history.history`` maps each log name to its list of epoch values; ``history.epoch``
    lists the epochs. `plot` draws the curves (needs matplotlib)."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self

    def get_state(self):
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def set_state(self, state):
        self.epoch, self.history = list(state["epoch"]), {k: list(v) for k, v in state["history"].items()}
        if self.model is not None:
            self.model.history = self

    def plot(self, path=None):
        """Draw loss and each metric, training against validation, one panel each; save to
        ``path`` when given. Returns the matplotlib figure."""
        try:
            import matplotlib

            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError("History.plot needs matplotlib: pip install 'danlu[plot]'.") from error
        names = [k for k in self.history if not k.startswith("val_")]
        fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4 * max(len(names), 1), 3), squeeze=False)
        for ax, name in zip(axes[0], names):
            ax.plot(self.epoch, self.history[name], label=name)
            if f"val_{name}" in self.history:
                ax.plot(self.epoch[: len(self.history[f"val_{name}"])], self.history[f"val_{name}"], label=f"val_{name}")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            with atomic_path(path) as temporary:  # the format from path's suffix, the file replaced whole
                fig.savefig(temporary, format=os.path.splitext(os.fspath(path))[1].lstrip(".") or None)
        return fig
