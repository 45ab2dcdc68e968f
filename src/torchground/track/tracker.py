"""The callback for experiment trackers: subclass :class:`Tracker` and write what it hands you.

Example — metrics to any logger::

    class PrintTracker(Tracker):
        def log_metrics(self, epoch, metrics):
            print(epoch, metrics["train_loss"], metrics["lr"])

    train(spec, callbacks=[PrintTracker()])

The methods, in the order they are called: :meth:`Tracker.start` (spec, model, data), then
per finished epoch :meth:`Tracker.log_metrics` (every history column with a value, the
learning rate included) and :meth:`Tracker.log_epoch` (the trainer, to read weights),
finally :meth:`Tracker.finish` (hparams and the final metrics).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torchground.train.callbacks import Callback

if TYPE_CHECKING:
    from torchground.spec import Spec
    from torchground.train.history import History
    from torchground.train.trainer import Trainer

__all__ = ["Tracker", "hparams_of", "final_metrics"]


def hparams_of(spec: "Spec") -> dict[str, Any]:
    """The spec's settings as flat scalars (numbers, booleans, strings), as trackers take hparams."""
    out: dict[str, Any] = {}
    for key, value in spec.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": _scalar(v) for k, v in value.items()})
        elif value is not None:
            out[key] = _scalar(value)
    return out


def _scalar(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "-"
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def final_metrics(history: "History") -> dict[str, float]:
    """The last epoch's finite numbers, keyed ``final/<column>``."""
    return {f"final/{k}": float(v) for k, v in history.last.items()
            if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v)}


class Tracker(Callback):
    """Base class of trackers (see the module docstring); override what you need."""

    def start(self, spec: "Spec", trainer: "Trainer") -> None:
        """Called once before training (the model is ``trainer.model``, the data ``trainer.data``)."""

    def log_metrics(self, epoch: int, metrics: dict[str, float]) -> None:
        """Called after each epoch with its finite metrics (``train_loss``, ``val_acc``, …, ``lr``)."""

    def log_epoch(self, epoch: int, trainer: "Trainer") -> None:
        """Called after :meth:`log_metrics`, for what needs the model (weights, pictures)."""

    def finish(self, hparams: dict[str, Any], metrics: dict[str, float], status: str) -> None:
        """Called once at the end: the spec's settings, the final metrics and how the run ended."""

    # -- Callback events, mapped onto the methods above ----------------------------------------
    def on_fit_start(self, trainer: "Trainer") -> None:
        self.start(trainer.spec, trainer)

    def on_epoch_end(self, trainer: "Trainer", row: dict[str, Any]) -> None:
        metrics = {k: float(v) for k, v in row.items() if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v)}
        self.log_metrics(row["epoch"], metrics)
        self.log_epoch(row["epoch"], trainer)

    def on_fit_end(self, trainer: "Trainer", history: "History") -> None:
        self.finish(hparams_of(trainer.spec), final_metrics(history), history.status)
