"""`BackupAndRestore`: resume a killed ``fit`` from its last backup."""

from __future__ import annotations

import json
import os

import torch

from danlu.callbacks.base import Callback
from danlu.callbacks.monitor import check_save_freq
from danlu.saving.atomic import atomic_path
from danlu.saving.model_io import _join_tensors, _split_tensors

BACKUP_FILE = "backup.safetensors"


class BackupAndRestore(Callback):
    """Back up the model, the optimizer and the loop's progress (epoch, step, shuffling
    state) to ``backup_dir`` every epoch (or every ``save_freq`` batches); a ``fit`` started
    again with the same callback restores them and continues where the backup was made.
    The backup is one file, replaced atomically, so a kill at any instant leaves either the
    previous backup or the new one. ``delete_checkpoint=True`` removes it when training
    completes. (Running means of the metrics over a partly done epoch restart at the
    backup.)"""

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
            self._backup(finished_epoch=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._backup(finished_epoch=True)
        self._completed = epoch + 1 >= self.params.get("epochs", 0)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and (self._completed or self.model.stop_training) and os.path.exists(self.path):
            os.remove(self.path)

    def _backup(self, finished_epoch):
        from safetensors.torch import save_file

        trainer = self.model._trainer
        progress = trainer.progress
        tensors = {f"model/{k}": v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}
        state = {
            "optimizer": _split_tensors(trainer.optimizer.state_dict(), "optimizer", tensors),
            # After a finished epoch, resume at the next one; mid-epoch, at the next step.
            "epoch": progress.epoch + 1 if finished_epoch else progress.epoch,
            "step": 0 if finished_epoch else progress.step,
        }
        # The shuffling generator as the next batch needs it: after a finished epoch its current
        # state (the next epoch draws its order from it), mid-epoch the state this epoch drew from.
        generator = progress.generator.get_state() if finished_epoch else progress.epoch_generator_state
        tensors["progress/generator"] = generator.clone()
        tensors["progress/torch_rng"] = torch.get_rng_state()  # dropout and other random layers
        if torch.cuda.is_available():
            for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"progress/cuda_rng/{i}"] = cuda_state
        with atomic_path(self.path) as temporary:
            save_file(tensors, temporary, metadata={"danlu_backup": json.dumps(state)})

    def _restore(self):
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(self.path, framework="pt") as file:
            state = json.loads(file.metadata()["danlu_backup"])
        tensors = load_file(self.path)
        self.model.load_state_dict({k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")})
        optimizer_tensors = {k: v for k, v in tensors.items() if k.startswith("optimizer")}
        self.model.optimizer.load_state_dict(_join_tensors(state["optimizer"], optimizer_tensors, int_keys=True))
        torch.set_rng_state(tensors["progress/torch_rng"])
        cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("progress/cuda_rng/")]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states)
        trainer = self.model._trainer
        trainer.resume_from = (int(state["epoch"]), int(state["step"]), tensors["progress/generator"])
