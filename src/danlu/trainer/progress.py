"""`TrainingProgress`: where a ``fit`` call stands, and where a restarted one resumes.

The loop advances it (`begin_epoch`, `finish_step`, `finish_epoch`); `state_dict` gives
the position to resume at — the next step of the current epoch (with the shuffling
generator's state at the epoch's start, so that the epoch's order is drawn again exactly),
or the first step of the next epoch once the current one is done; `resume_from` declares
such a position, which the next epoch loop takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class TrainingProgress:
    """``epoch`` (0-based), ``step`` (batches done in it), ``first_epoch`` (where this fit
    call started), ``epoch_done`` (its batches are finished: set before ``on_epoch_end``),
    the shuffling ``generator`` and its state when the epoch drew its order."""

    epoch: int = 0
    step: int = 0
    first_epoch: int = 0
    epoch_done: bool = False
    generator: torch.Generator = field(default_factory=torch.Generator)
    epoch_start_state: torch.Tensor | None = None
    resume_point: tuple[int, int, torch.Tensor] | None = None

    def start(self, initial_epoch: int, seed: int) -> None:
        """A new fit call: epochs from ``initial_epoch``, shuffling from ``seed``."""
        self.generator.manual_seed(seed)
        self.epoch = self.first_epoch = initial_epoch
        self.step, self.epoch_done = 0, False
        self.epoch_start_state = None
        self.resume_point = None

    def begin_epoch(self, epoch: int, start_step: int = 0, generator_state: torch.Tensor | None = None) -> None:
        if generator_state is not None:
            self.generator.set_state(generator_state)
        self.epoch_start_state = self.generator.get_state()
        self.epoch, self.step, self.epoch_done = epoch, start_step, False

    def finish_step(self) -> None:
        self.step += 1

    def finish_epoch(self) -> None:
        self.epoch_done = True

    def state_dict(self) -> dict:
        """The position a restarted run continues from."""
        if self.epoch_done or self.epoch_start_state is None:
            return {"epoch": self.epoch + (1 if self.epoch_done else 0), "step": 0, "generator": self.generator.get_state()}
        return {"epoch": self.epoch, "step": self.step, "generator": self.epoch_start_state.clone()}

    def resume_from(self, state: dict) -> None:
        """Declare where the next epoch loop starts (BackupAndRestore, on ``on_train_begin``)."""
        self.resume_point = (int(state["epoch"]), int(state["step"]), state["generator"])

    def take_resume_point(self):
        """The declared resume point (epoch, step, generator state), once; or None."""
        point, self.resume_point = self.resume_point, None
        return point
