"""What one model of a stacked group ends with: :class:`ModelResult` (its history rows,
final parameters and status), readable as the eager trainer's
:class:`~torchground.train.history.History` and :class:`~torchground.model.PlaygroundNet`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from torchground.data.datasets import Splits
from torchground.model import PlaygroundNet, build_model
from torchground.spec import Spec
from torchground.train.history import History, metric_columns

__all__ = ["ModelResult", "split_sizes"]

Tensor = torch.Tensor


def split_sizes(spec: Spec) -> tuple[int, int, int]:
    """Training, validation and test points of ``spec``."""
    assert spec.n_samples is not None
    n_val = spec.n_samples * spec.val_pct // 100
    return spec.n_train, n_val, spec.n_samples - spec.n_train - n_val


@dataclass
class ModelResult:
    """What one model of a group ended with (picklable: NumPy and CPU tensors only).

    Attributes:
        spec: the model's spec.
        status: completed, diverged, early_stopped or interrupted.
        steps: optimiser steps applied.
        metrics: (epochs, columns) float64 array of the history rows (NaN where a value is missing).
        message: catalogue key and params for diverged / early-stopped runs.
        best_epoch: as :attr:`~torchground.train.history.History.best_epoch`.
        params: (P,) final parameters, ordered as ``model.parameters()`` (a CPU tensor; made
            on reading from ``_params``, a tensor or a row of the group's NumPy array).
        data: the model's data splits.
    """

    spec: Spec
    status: str
    steps: int
    metrics: np.ndarray
    message: tuple[str, dict[str, Any]] | None
    best_epoch: int | None
    _params: Tensor | np.ndarray
    data: Splits

    @property
    def params(self) -> Tensor:
        # A NumPy row costs a tenth of a tensor view to make: StackedGroup._finish makes 10⁵.
        p = self._params
        return p if isinstance(p, Tensor) else torch.from_numpy(p)

    def __getstate__(self) -> dict[str, Any]:
        # ``_params`` may be a row of one array of a whole group (StackedGroup._finish):
        # pickled as a view, a tensor would carry every model's parameters.
        return {**self.__dict__, "_params": self.params.clone()}

    @property
    def columns(self) -> tuple[str, ...]:
        return metric_columns(self.spec.problem or "classification", self.spec.classes or 2)

    @property
    def last(self) -> dict[str, Any]:
        """The last epoch's row (empty before the first)."""
        return self._row(self.metrics[-1]) if len(self.metrics) else {}

    def _row(self, values: np.ndarray) -> dict[str, Any]:
        _, n_val, n_test = split_sizes(self.spec)
        row: dict[str, Any] = {}
        for col, v in zip(self.columns, values.tolist()):
            empty = (col.startswith("val_") and not n_val) or (col.startswith("test_") and not n_test)
            empty = empty or (("_precision_" in col or "_recall_" in col) and math.isnan(v))  # no prediction / point: None
            row[col] = None if empty else (int(v) if col == "epoch" else v)
        return row

    def row(self, epoch: int) -> dict[str, Any]:
        """Row ``epoch`` (1-based; negative counts from the end) of :meth:`history`, made alone."""
        if epoch == 0:
            raise IndexError("epochs count from 1")
        return {**dict.fromkeys(self.columns), **self._row(self.metrics[epoch - 1 if epoch > 0 else epoch])}

    def history(self) -> History:
        """The eager trainer's :class:`~torchground.train.history.History` of this model."""
        h = History(self.spec.problem or "classification", classes=self.spec.classes or 2)
        assert h.columns == self.columns
        h.rows = [{**dict.fromkeys(h.columns), **self._row(v)} for v in self.metrics]
        h.status, h.steps, h.message, h.best_epoch = self.status, self.steps, self.message, self.best_epoch  # type: ignore[assignment]
        return h

    def model(self) -> PlaygroundNet:
        """The trained network as a :class:`~torchground.model.PlaygroundNet`."""
        net = build_model(self.spec)
        torch.nn.utils.vector_to_parameters(self.params.to(next(net.parameters()).dtype), net.parameters())
        return net
