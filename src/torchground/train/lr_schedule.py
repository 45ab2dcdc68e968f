"""The spec's learning-rate schedule in the eager trainer: a callback that steps it after each epoch.

The trainer adds :class:`LRSchedule` when ``spec.scheduler`` is set; it steps the torch
scheduler once per finished epoch (plateau on the loss early stopping watches), so the
history's ``lr`` column shows the rate each epoch trained with. Its ``state_dict`` goes
into checkpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchground.schedules import build_scheduler, restore_state, step
from torchground.train.callbacks import Callback

if TYPE_CHECKING:
    from torchground.train.trainer import Trainer

__all__ = ["LRSchedule"]


class LRSchedule(Callback):
    """Step ``trainer.spec``'s schedule over ``trainer.optimizer`` after each epoch."""

    def __init__(self, trainer: "Trainer") -> None:
        spec = trainer.spec
        self.scheduler = build_scheduler(spec.scheduler, spec.scheduler_args, trainer.optimizer, spec.epochs)

    def on_epoch_end(self, trainer: "Trainer", row: dict[str, Any]) -> None:
        step(self.scheduler, trainer.history.monitored(row))

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        restore_state(self.scheduler, state)
