"""`BackupAndRestore`: resume a killed ``fit`` exactly from its last intact backup."""

from __future__ import annotations

import os

from danlu.callbacks.base import Callback
from danlu.callbacks.monitor import check_save_freq
from danlu.saving import files, generations, packing

#: Backups are ``backup-<number>.safetensors`` with ``backup.manifest.json`` in ``backup_dir``.
BACKUP_STEM = "backup"


class BackupAndRestore(Callback):
    """Back up the training run to ``backup_dir`` every epoch (or every ``save_freq``
    batches); a ``fit`` started again with the same callback restores the newest intact
    backup and continues exactly where it was made: killed at any instant and restarted, a
    run on the CPU ends with the weights and History of an uninterrupted one, bit for bit.

    A backup is the run's state (``model.trainer.state_dict()``): weights and buffers; the
    optimizer's slots, iterations, schedule position, EMA and loss scale; the epoch, the
    step in it and the epoch's shuffling order; torch's, numpy's and Python's random
    generators; the metric accumulators of a partly done epoch; and the state of every
    callback of the run that has one (``get_state()`` / ``set_state()``: History so far,
    EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, LearningRateScheduler, CSVLogger,
    TensorBoard's step, SwapEMAWeights, and your own). Backups are made once every callback
    has handled the epoch's (or batch's) end, and the restore comes once every callback has
    run ``on_train_begin``; a backup made inside an epoch is applied again once that epoch
    has begun (after its ``on_epoch_begin``), so the epoch goes on as it would have.

    The last two backups are kept, each checked by a SHA-256 in a manifest written after
    it; a damaged newest backup gives a warning naming it and the previous one, which is
    used. A backup of another model (other weight names or shapes) or optimizer class is
    refused with a ``ValueError``. ``delete_checkpoint=True`` (Keras' default) removes the
    backups when training ends. Data given as arrays or `danlu` Datasets resumes in order;
    a generator is read again from its start. With several processes (`danlu.distribute`),
    every process gathers the state, rank 0 writes the files, and every process restores
    the same state (the folder must be shared by the machines).
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir or not isinstance(backup_dir, (str, os.PathLike)):
            raise ValueError(f"backup_dir must be a folder path; received backup_dir={backup_dir!r}.")
        check_save_freq(save_freq)
        self.backup_dir, self.save_freq, self.delete_checkpoint = os.fspath(backup_dir), save_freq, delete_checkpoint
        self._batches = 0

    def on_train_begin(self, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        self._batches = 0
        self.model.trainer.defer(self._restore)  # after every callback's on_train_begin

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches >= self.save_freq:
            self._batches = 0
            self.model.trainer.defer(self._backup)  # after every callback's on_train_batch_end

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self.model.trainer.defer(self._backup)  # after every callback's on_epoch_end (History, ...)

    def on_train_end(self, logs=None):
        strategy = self.model.trainer.strategy
        strategy.barrier()  # every process has restored and finished before the files go
        if self.delete_checkpoint and strategy.is_chief:
            generations.remove_all(self.backup_dir, BACKUP_STEM)
        strategy.barrier()

    @property
    def newest_backup(self) -> str | None:
        """The path of the newest backup the manifest lists (None: no backup yet)."""
        paths = generations.listed(self.backup_dir, BACKUP_STEM) if os.path.isdir(self.backup_dir) else []
        return paths[-1] if paths else None

    def _backup(self):
        trainer = self.model.trainer
        strategy = trainer.strategy
        state = trainer.state_dict()  # under sharding, every process takes part
        if strategy.is_chief:  # rank-0 writing, then a barrier: no process reads a partial file
            structure, tensors = packing.pack(state, "run")
            description = {"run": structure, "fingerprint": _fingerprint(self.model, trainer.optimizer)}
            generations.write(self.backup_dir, BACKUP_STEM, tensors, description, files.BACKUP)
        strategy.barrier()

    def _restore(self):
        found = generations.read_newest(self.backup_dir, BACKUP_STEM, files.BACKUP)
        if found is None:
            return
        description, tensors, path = found
        trainer = self.model.trainer
        expected = _fingerprint(self.model, trainer.optimizer)
        stored = description.get("fingerprint", expected)
        if stored != expected:
            raise ValueError(f"The backup {path!r} was made by another training configuration "
                             f"({_difference(stored, expected)}); it cannot resume this run. Use another backup_dir, "
                             "or delete this one to start from the beginning.")
        trainer.load_state_dict(packing.unpack(description["run"], tensors))


def _fingerprint(model, optimizer) -> dict:
    """What a backup must agree with to be restored: weight names and (global, unsharded)
    shapes, optimizer class."""
    return {"weights": {name: list(t.shape) for name, t in model.state_dict().items()},
            "optimizer": None if optimizer is None else type(optimizer).__name__}


def _difference(stored: dict, expected: dict) -> str:
    if stored.get("optimizer") != expected.get("optimizer"):
        return f"optimizer {stored.get('optimizer')} there, {expected.get('optimizer')} here"
    theirs, ours = stored.get("weights", {}), expected.get("weights", {})
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or extra:
        return f"weights only here: {missing[:5]}, only there: {extra[:5]}"
    shapes = [f"{k}: {theirs[k]} there, {ours[k]} here" for k in ours if theirs[k] != ours[k]]
    return "different shapes: " + "; ".join(shapes[:5])
