"""`TensorBoard`: real event files, in Keras' layout, through ``torch.utils.tensorboard``
(needs the ``tensorboard`` package: ``pip install 'danlu[tensorboard]'``)."""

from __future__ import annotations

import os
import warnings

from danlu.callbacks.base import Callback


class TensorBoard(Callback):
    """Write scalars (and weight histograms) that TensorBoard reads.

    Layout as Keras: ``log_dir/train`` and ``log_dir/validation``, scalars named
    ``epoch_<name>`` (``epoch_loss``, ``epoch_acc``, ``epoch_learning_rate``, ...) at each epoch,
    and ``batch_<name>`` every ``update_freq`` batches when it is an integer (reading batch
    values costs a device read each time). ``histogram_freq=N`` writes each weight's histogram
    every N epochs; ``write_graph=True`` records the model's graph from its first input
    (skipped with a warning when the model cannot be traced). ``profile_batch`` is accepted
    and ignored (use ``torch.profiler``). Defaults as Keras: ``log_dir="logs"``,
    ``histogram_freq=0``, ``write_graph=True``, ``update_freq="epoch"``. With several processes
    (`danlu.distribute`), rank 0 writes the (global) epoch logs.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False, update_freq="epoch",
                 profile_batch=0, embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        if update_freq not in ("epoch", "batch") and (isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive int; received update_freq={update_freq!r}.")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be an int >= 0; received histogram_freq={histogram_freq!r}.")
        self.log_dir, self.histogram_freq, self.write_graph = os.fspath(log_dir), histogram_freq, write_graph
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._global_step = 0

    def _writer(self, name):
        if name not in self._writers:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:
                raise ImportError("The TensorBoard callback needs tensorboard: pip install 'danlu[tensorboard]'.") from error
            self._writers[name] = SummaryWriter(os.path.join(self.log_dir, name))
        return self._writers[name]

    def on_train_begin(self, logs=None):
        self._global_step = 0
        strategy = getattr(getattr(self.model, "trainer", None), "strategy", None)
        self._chief = strategy is None or strategy.is_chief  # rank-0 writing (distributed runs)
        if not self._chief:
            return
        writer = self._writer("train")
        example = self.model.example_input
        if self.write_graph and example is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    writer.add_graph(self.model, example)
            except Exception as error:  # noqa: BLE001 - a graph that cannot be traced is not fatal
                warnings.warn(f"TensorBoard could not record the model graph ({type(error).__name__}: {error}).", stacklevel=2)

    def get_state(self):
        return {"global_step": self._global_step}

    def set_state(self, state):
        self._global_step = int(state["global_step"])

    def on_train_batch_end(self, batch, logs=None):
        self._global_step += 1
        if not getattr(self, "_chief", True):
            return
        if self.update_freq != "epoch" and self._global_step % self.update_freq == 0:
            writer = self._writer("train")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"batch_{name}", float(value), self._global_step)

    def on_epoch_end(self, epoch, logs=None):
        if not getattr(self, "_chief", True):
            return
        logs = logs or {}
        train, validation = self._writer("train"), None
        for name, value in logs.items():
            if not isinstance(value, (int, float)):
                continue
            if name.startswith("val_"):
                validation = validation or self._writer("validation")
                validation.add_scalar(f"epoch_{name[4:]}", value, epoch)
            else:
                train.add_scalar(f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for name, parameter in self.model.named_parameters():
                train.add_histogram(name, parameter.detach().float().cpu(), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
