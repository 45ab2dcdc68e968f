"""TensorBoard: a run's epochs (``train --tensorboard DIR``) and a sweep's models (``sweep --tensorboard DIR``).

Written with ``torch.utils.tensorboard`` (the ``tensorboard`` extra). Tags: ``loss/train``,
``loss/val``, ``loss/test``, ``acc/…`` or ``rmse/…`` and ``r2/…``, ``lr``; weight and bias
histograms ``weights/<layer>``; the picture ``boundary`` every ``image_every`` epochs and at
the end; the model graph; the spec as text; hparams with the final metrics.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from torchground.errors import TorchgroundError
from torchground.track.tracker import Tracker, final_metrics, hparams_of

if TYPE_CHECKING:
    from torchground.spec import Spec
    from torchground.train.history import History
    from torchground.train.trainer import Trainer

__all__ = ["TensorBoardTracker", "write_sweep", "write_history", "tag_of", "summary_writer"]


def summary_writer(log_dir: str | Path) -> Any:
    """A ``SummaryWriter`` for ``log_dir``; refused clearly without the tensorboard extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TorchgroundError("track.tensorboard_missing") from None
    return SummaryWriter(log_dir=str(log_dir))


def tag_of(column: str) -> str:
    """History column → TensorBoard tag: ``train_loss`` → ``loss/train``, ``lr`` → ``lr``."""
    head, _, metric = column.partition("_")
    return f"{metric}/{head}" if metric and head in ("train", "val", "test") else column


class TensorBoardTracker(Tracker):
    """Write a training run to TensorBoard.

    Args:
        log_dir: the run's folder of event files.
        image_every: epochs between decision-boundary pictures (0: only at the end).
        histogram_every: epochs between weight histograms (0: none).
    """

    def __init__(self, log_dir: str | Path, image_every: int = 10, histogram_every: int = 1) -> None:
        self.log_dir = Path(log_dir)
        self.image_every, self.histogram_every = image_every, histogram_every
        self.writer: Any = None
        self._last_image = 0

    def start(self, spec: "Spec", trainer: "Trainer") -> None:
        self.writer = summary_writer(self.log_dir)
        self.writer.add_text("spec", "```\n" + spec.to_json() + "\n```", 0)
        x = trainer.sets["train"][0][:2]
        try:
            model = trainer.model
            was_training = model.training
            with torch.random.fork_rng(devices=[]):  # tracing runs the model: RReLU must not draw
                self.writer.add_graph(model.eval(), x)
            model.train(was_training)
        except (RuntimeError, TypeError, ValueError):  # a graph tracing cannot follow: the rest is still written
            pass

    def log_metrics(self, epoch: int, metrics: dict[str, float]) -> None:
        for column, value in metrics.items():
            self.writer.add_scalar(tag_of(column), value, epoch)

    def log_epoch(self, epoch: int, trainer: "Trainer") -> None:
        if self.histogram_every and epoch % self.histogram_every == 0:
            for name, p in trainer.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", p.detach().float().cpu(), epoch)
        if self.image_every and epoch % self.image_every == 0:
            self._image(trainer, epoch)
        self.writer.flush()

    def on_fit_end(self, trainer: "Trainer", history: "History") -> None:
        if history.epochs and self._last_image != history.epochs:
            self._image(trainer, history.epochs)
        super().on_fit_end(trainer, history)

    def finish(self, hparams: dict[str, Any], metrics: dict[str, float], status: str) -> None:
        self.writer.add_hparams(hparams, metrics or {"final/epochs": 0.0}, run_name=".")
        self.writer.add_text("status", status, 0)
        self.writer.close()

    def _image(self, trainer: "Trainer", epoch: int) -> None:
        from torchground.viz.plots import plot_boundary

        figure = plot_boundary(trainer.model, trainer.spec.features, trainer.data, spec=trainer.spec)
        self.writer.add_figure("boundary", figure, epoch, close=True)
        self._last_image = epoch


def write_sweep(log_dir: str | Path, specs: Sequence["Spec"], results: Sequence[Any], settings: Sequence[dict[str, Any]]) -> list[Path]:
    """One TensorBoard run per model of a sweep (its epochs' metrics and lr, its hparams);
    returns the run folders, named ``<index>-<varied settings>``."""
    root = Path(log_dir)
    folders = []
    for i, (spec, result, shown) in enumerate(zip(specs, results, settings)):
        label = "-".join(f"{k}={v}" for k, v in shown.items()) or "model"
        folder = root / f"{i:04d}-{re.sub(r'[^A-Za-z0-9_.=,-]+', '_', label)[:100]}"
        write_history(folder, spec, result.history())
        folders.append(folder)
    return folders


def write_history(folder: str | Path, spec: "Spec", history: "History") -> None:
    """A finished run's history as one TensorBoard run: every epoch's metrics and lr, hparams, status."""
    writer = summary_writer(folder)
    for row in history.rows:
        for column, value in row.items():
            if column != "epoch" and isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
                writer.add_scalar(tag_of(column), float(value), row["epoch"])
    writer.add_hparams(hparams_of(spec), final_metrics(history) or {"final/epochs": 0.0}, run_name=".")
    writer.add_text("status", history.status, 0)
    writer.close()
