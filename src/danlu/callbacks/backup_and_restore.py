"""`BackupAndRestore`: resume a killed ``fit`` from its last backup."""

from __future__ import annotations

import os

from danlu.callbacks.base import Callback
from danlu.callbacks.monitor import check_save_freq
from danlu.saving import files, packing

BACKUP_FILE = "backup.safetensors"


class BackupAndRestore(Callback):
    """Back up the training run to ``backup_dir`` every epoch (or every ``save_freq``
    batches); a ``fit`` started again with the same callback restores it and continues where
    the backup was made.

    A backup is the run's state (``model.trainer.state_dict()``: weights, optimizer state,
    the position in the epochs and the shuffling order, the random generators) in one danlu
    file, replaced atomically, so a kill at any instant leaves either the previous backup or
    the new one. ``delete_checkpoint=True`` removes it when training completes. (Running
    means of the metrics over a partly done epoch restart at the backup.) With several
    processes (`danlu.distribute`), every process gathers the state, rank 0 writes the file,
    and every process restores from it (the folder must be shared by the machines).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("backup_dir must be a folder path.")
        check_save_freq(save_freq)
        self.backup_dir, self.save_freq, self.delete_checkpoint = os.fspath(backup_dir), save_freq, delete_checkpoint
        self.path = os.path.join(self.backup_dir, BACKUP_FILE)
        self._batches = 0
        self._completed = False

    def on_train_begin(self, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        self._completed = False
        if os.path.exists(self.path):
            self._restore()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches >= self.save_freq:
            self._batches = 0
            self._backup()

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._backup()
        self._completed = epoch + 1 >= self.params.get("epochs", 0)

    def on_train_end(self, logs=None):
        strategy = self.model.trainer.strategy
        strategy.barrier()  # every process has restored and finished before the file goes
        finished = self.delete_checkpoint and (self._completed or self.model.stop_training)
        if finished and strategy.is_chief and os.path.exists(self.path):
            os.remove(self.path)
        strategy.barrier()

    def _backup(self):
        strategy = self.model.trainer.strategy
        state = self.model.trainer.state_dict()  # under sharding, every process takes part
        if strategy.is_chief:  # rank-0 writing, then a barrier: no process reads a partial file
            structure, tensors = packing.pack(state, "run")
            files.write(self.path, tensors, {"run": structure}, files.BACKUP)
        strategy.barrier()

    def _restore(self):
        description, tensors = files.read(self.path, files.BACKUP)
        self.model.trainer.load_state_dict(packing.unpack(description["run"], tensors))
