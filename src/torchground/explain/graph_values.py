"""Tensor values as small, JSON-ready data for graph nodes (see :mod:`torchground.explain.graph`).

A node of the picture carries its tensor's value and gradient rounded to 4 significant
digits: in full when the tensor is small, else as its shape with min, mean and max.
Strict JSON has no NaN or Infinity, so those travel as the strings "nan", "inf", "-inf".
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["SMALL_TENSOR_NUMEL", "summarize_tensor", "to_json_numbers", "from_json_numbers"]

#: Tensors with at most this many elements are recorded in full; bigger ones as a summary.
SMALL_TENSOR_NUMEL = 64

_SIGNIFICANT = 4


def summarize_tensor(tensor: Tensor) -> Any:
    """A tensor's value as JSON-ready data, rounded to 4 significant digits.

    A 0-d tensor becomes a number, a tensor with at most :data:`SMALL_TENSOR_NUMEL`
    elements a nested list, a bigger one ``{"shape": [...], "min": .., "mean": .., "max": ..}``.
    Complex and empty tensors give ``None``.

    Example:
        >>> summarize_tensor(torch.tensor([[0.123456, 2.0]]))
        [[0.1235, 2.0]]
        >>> summarize_tensor(torch.arange(100.0))
        {'shape': [100], 'min': 0.0, 'mean': 49.5, 'max': 99.0}
    """
    t = tensor.detach()
    if t.is_complex() or t.numel() == 0 or t.layout != torch.strided:
        return None
    t = t.cpu()
    if t.numel() <= SMALL_TENSOR_NUMEL:
        return _round(t.tolist())
    f = t.to(torch.float64)
    return {
        "shape": list(t.shape),
        "min": _round(f.min().item()),
        "mean": _round(f.mean().item()),
        "max": _round(f.max().item()),
    }


def _round(value: Any) -> Any:
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{_SIGNIFICANT}g}")
    return value


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def to_json_numbers(value: Any) -> Any:
    """``value`` with non-finite floats as strings (strict JSON, the browser's JSON.parse).

    >>> to_json_numbers([1.0, float("nan"), {"min": float("-inf")}])
    [1.0, 'nan', {'min': '-inf'}]
    """
    if isinstance(value, list):
        return [to_json_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json_numbers(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def from_json_numbers(value: Any) -> Any:
    """Undo :func:`to_json_numbers`."""
    if isinstance(value, list):
        return [from_json_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: (v if k == "shape" else from_json_numbers(v)) for k, v in value.items()}
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value
