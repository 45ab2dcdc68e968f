"""Callbacks: hooks the trainer calls at named events.

Events, in order: ``on_fit_start(trainer)``, then per epoch ``on_epoch_start(trainer,
epoch)``, ``on_batch_end(trainer, step, loss)`` after each optimiser step (only called
for callbacks that override it, so the fast path stays fast), ``on_epoch_end(trainer,
row)``; ``on_diverged(trainer, info)`` when the loss stops being finite; finally
``on_fit_end(trainer, history)``. A callback may set ``trainer.should_stop = True``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchground.train.history import History
    from torchground.train.trainer import Trainer

__all__ = ["Callback", "EarlyStopping"]


class Callback:
    """Base class: override the events you need; the defaults do nothing."""

    def on_fit_start(self, trainer: "Trainer") -> None: ...

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None: ...

    def on_batch_end(self, trainer: "Trainer", step: int, loss: float) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", row: dict[str, Any]) -> None: ...

    def on_diverged(self, trainer: "Trainer", info: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: "Trainer", history: "History") -> None: ...


class EarlyStopping(Callback):
    """Stop when the validation loss has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        patience: epochs without improvement before stopping.
        min_delta: the improvement that counts (default 0).
        restore_best: put the best epoch's weights back at the end (default True).
    """

    def __init__(self, patience: int, min_delta: float = 0.0, restore_best: bool = True) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self.best = float("inf")
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: "Trainer", row: dict[str, Any]) -> None:
        value = trainer.history.monitored(row)
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            if self.restore_best:
                self.best_state = copy.deepcopy(trainer.model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.should_stop = True
                trainer.history.status = "early_stopped"
                trainer.history.message = ("train.early_stopped", {"epoch": row["epoch"], "best": self.best_epoch, "patience": self.patience})

    def state_dict(self) -> dict[str, Any]:
        """The counters and the best weights so far (what a checkpoint keeps)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "best_state": self.best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Carry on from :meth:`state_dict`'s values."""
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], state["wait"]
        self.best_state = None if state["best_state"] is None else {k: v.clone() for k, v in state["best_state"].items()}

    def on_fit_end(self, trainer: "Trainer", history: "History") -> None:
        if self.restore_best and self.best_state is not None and history.status == "early_stopped":
            trainer.model.load_state_dict(self.best_state)
