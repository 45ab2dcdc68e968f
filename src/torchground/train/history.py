"""The history of one run: one row of metrics per epoch, and how the run ended.

Columns (``None`` where a set is empty or a metric does not apply):
``epoch, train_loss, val_loss, test_loss`` and, for classification,
``train_acc, val_acc, test_acc`` (fractions 0–1) or, for regression,
``train_rmse, val_rmse, test_rmse, train_r2, val_r2, test_r2``; then ``lr``.
Training metrics are the true means over the epoch's samples as they were trained
(each batch's mean loss weighted by its size), not the curriculum's flawed division.
With K = 3 to 10 classes, ``{set}_precision_{k}`` and ``{set}_recall_{k}`` follow for
every set and class index k (precision ``None`` where no point was put in class k), and
the history keeps the confusion matrices of the last and the best epoch.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["History", "Status", "metric_columns"]

Status = Literal["running", "completed", "early_stopped", "diverged", "interrupted"]


@functools.lru_cache(maxsize=64)  # read for every row of every model of a sweep
def metric_columns(problem: str, classes: int = 2) -> tuple[str, ...]:
    """The history columns for ``problem`` (and ``classes``), in order."""
    sets = ("train", "val", "test")
    extra = ("acc",) if problem == "classification" else ("rmse", "r2")
    per_class: tuple[str, ...] = ()
    if problem == "classification" and classes > 2:
        per_class = tuple(f"{s}_{m}_{k}" for s in sets for m in ("precision", "recall") for k in range(classes))
    return ("epoch", *(f"{s}_loss" for s in sets), *(f"{s}_{m}" for m in extra for s in sets), "lr", *per_class)


@dataclass
class History:
    """Per-epoch records and the run's outcome.

    Attributes:
        problem: "classification" or "regression" (decides the columns).
        rows: one dict per finished epoch, keys :func:`metric_columns`.
        status: running, completed, early_stopped, diverged or interrupted.
        steps: optimiser steps taken.
        message: for diverged/early_stopped runs, a catalogue key and its params.
        best_epoch: epoch with the lowest validation loss (or training loss without one).
        classes: number of classes (K ≥ 3 adds per-class columns).
        confusion: epoch → set name → K × K confusion matrix (rows: true class, columns:
            predicted), kept for the last and the best epoch only.
    """

    problem: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: Status = "running"
    steps: int = 0
    message: tuple[str, dict[str, Any]] | None = None
    best_epoch: int | None = None
    classes: int = 2
    confusion: dict[int, dict[str, list[list[int]]]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return metric_columns(self.problem, self.classes)

    def keep_confusion(self, epoch: int, matrices: dict[str, list[list[int]]]) -> None:
        """Store ``epoch``'s confusion matrices; drop those of epochs neither last nor best."""
        self.confusion[epoch] = matrices
        for old in [e for e in self.confusion if e not in (epoch, self.best_epoch)]:
            del self.confusion[old]

    @property
    def epochs(self) -> int:
        """Number of finished epochs."""
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        """All values of column ``name``, one per epoch."""
        return [row[name] for row in self.rows]

    @property
    def last(self) -> dict[str, Any]:
        """The last finished epoch's row (empty dict before the first)."""
        return self.rows[-1] if self.rows else {}

    def to_csv(self) -> str:
        """CSV text with a header line; empty cells for ``None``; floats with full precision."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow(["" if row.get(c) is None else repr(row[c]) for c in self.columns])
        return out.getvalue()

    def monitored(self, row: dict[str, Any]) -> float:
        """The loss that early stopping and "best epoch" watch: validation if present, else training."""
        value = row["val_loss"] if row["val_loss"] is not None else row["train_loss"]
        return math.inf if value is None else value
