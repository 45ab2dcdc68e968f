"""Metrics over a whole set: accuracy for ±1 classification, RMSE and R² for regression."""

from __future__ import annotations

import torch

from torchground.model import discretize

__all__ = ["accuracy", "correct_count", "rmse", "r2"]


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
