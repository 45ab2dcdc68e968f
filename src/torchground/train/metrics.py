"""Metrics over a whole set: accuracy for ±1 classification, RMSE and R² for regression,
and for K classes accuracy by argmax, the confusion matrix and per-class precision and recall."""

from __future__ import annotations

import torch

from typing import Any, Mapping

from torchground.data.features import feature_matrix
from torchground.model import discretize

__all__ = [
    "accuracy", "correct_count", "rmse", "r2", "confusion_matrix", "precision_recall", "add_class_metrics", "model_confusion",
]


def correct_count(output: torch.Tensor, target: torch.Tensor) -> int:
    """How many discretized outputs equal the ±1 targets. Shape: (B, 1) each."""
    return int((discretize(output) == target).sum())


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of points classified right, 0–1. Shape: (B, 1) each.

    >>> accuracy(torch.tensor([[0.3], [-0.2]]), torch.tensor([[1.0], [1.0]]))
    0.5
    """
    return correct_count(output, target) / max(1, target.numel())


def rmse(output: torch.Tensor, target: torch.Tensor) -> float:
    """Root mean squared error. Shape: (B, 1) each."""
    return float(torch.sqrt(torch.mean((output - target) ** 2)))


def r2(output: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination 1 − SSE/SST (``nan`` when the targets are constant).

    >>> r2(torch.tensor([[1.0], [2.0]]), torch.tensor([[1.0], [2.0]]))
    1.0
    """
    sse = torch.sum((output - target) ** 2)
    sst = torch.sum((target - target.mean()) ** 2)
    return float(1 - sse / sst) if float(sst) > 0 else float("nan")


def confusion_matrix(output: torch.Tensor, target: torch.Tensor, classes: int) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs; the prediction is the argmax of the
    K outputs. Shape: output (B, K), target (B, 1) of class indices → (K, K), int64.

    >>> confusion_matrix(torch.tensor([[2.0, 0, 0], [0, 3, 0], [0, 0, 1]]), torch.tensor([[0.0], [2], [2]]), 3).tolist()
    [[1, 0, 0], [0, 0, 0], [0, 1, 1]]
    """
    truth = target.reshape(-1).long()  # (B,)
    pred = output.argmax(dim=1)  # (B,)
    return torch.bincount(truth * classes + pred, minlength=classes * classes).reshape(classes, classes).cpu()


def precision_recall(matrix: torch.Tensor) -> tuple[list[float | None], list[float | None]]:
    """Per-class precision (right among those predicted k) and recall (found among those
    truly k) of a (K, K) confusion matrix; ``None`` where the class has no prediction / point."""
    m = matrix.double()
    diag, predicted, actual = m.diagonal(), m.sum(dim=0), m.sum(dim=1)
    precision = [float(d / p) if p > 0 else None for d, p in zip(diag, predicted)]
    recall = [float(d / a) if a > 0 else None for d, a in zip(diag, actual)]
    return precision, recall


def add_class_metrics(row: dict[str, Any], sets: Mapping[str, tuple[torch.Tensor, torch.Tensor]], classes: int) -> dict[str, list[list[int]]]:
    """Fill ``row``'s per-class precision and recall columns from each set's (outputs, targets);
    return the sets' confusion matrices (as nested lists)."""
    matrices = {}
    for name, (output, target) in sets.items():
        if target.numel() == 0:
            continue
        matrix = confusion_matrix(output, target, classes)
        precision, recall = precision_recall(matrix)
        for k in range(classes):
            row[f"{name}_precision_{k}"], row[f"{name}_recall_{k}"] = precision[k], recall[k]
        matrices[name] = matrix.tolist()
    return matrices


@torch.no_grad()
def model_confusion(model: torch.nn.Module, data: Any, spec: Any) -> dict[str, list[list[int]]]:
    """The confusion matrices of ``model`` (K outputs) on each non-empty set of ``data``
    (:class:`~torchground.data.datasets.Splits`), in eval mode (the stacked engine's summary)."""
    was = model.training
    model.eval()
    param = next(model.parameters())
    out = {}
    for name in ("train", "val", "test"):
        ds = getattr(data, name)
        if ds.n:
            x = torch.as_tensor(feature_matrix(ds.points, list(spec.features)), dtype=param.dtype, device=param.device)
            y = torch.as_tensor(ds.labels, dtype=param.dtype, device=param.device).reshape(-1, 1)
            out[name] = confusion_matrix(model(x), y, spec.classes).tolist()
    model.train(was)
    return out
