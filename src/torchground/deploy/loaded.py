"""A run folder loaded back: its spec, its trained model, its history, ready to use.

The model is rebuilt from ``spec.json`` and filled from ``weights.safetensors``; the
history is read back from ``history.csv``. :class:`Predictor` wraps the model so that it
takes raw points in the data's own coordinates: the spec's standardisation and features
are computed inside it, then the network, then (K classes) a softmax.

Example:
    >>> import tempfile
    >>> from torchground.spec import Spec
    >>> from torchground.train import train
    >>> from torchground.train.rundir import save_run
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_run(train(Spec(epochs=2, device="cpu")), folder)
    >>> run = load_run(folder)
    >>> run.history.epochs, run.predictor()(torch.zeros(3, 2)).shape
    (2, torch.Size([3, 1]))
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchground.data.features import FEATURES
from torchground.errors import TorchgroundError
from torchground.model import PlaygroundNet, build_model
from torchground.spec import Spec
from torchground.train.history import History
from torchground.train.rundir import load_spec, load_weights, read_summary

__all__ = ["LoadedRun", "Predictor", "load_run", "n_classes"]


def n_classes(spec: Spec) -> int:
    """2 for a two-class problem, K for K ≥ 3 classes, 0 for regression."""
    if spec.problem == "regression":
        return 0
    return max(2, getattr(spec, "classes", None) or 2)


class Predictor(nn.Module):
    """Raw points (N, 2) → outputs (N, 1), or class probabilities (N, K) for K ≥ 3 classes.

    Standardisation (where the spec has one) and the input features are part of the
    module, so it (and its ONNX export) takes points as they are in the data.
    """

    def __init__(self, spec: Spec, model: PlaygroundNet) -> None:
        super().__init__()
        self.model = model
        self.features = tuple(spec.features)
        self.softmax = n_classes(spec) > 2
        standardize = bool(getattr(spec, "standardize", False)) and getattr(spec, "input_mean", None) is not None
        mean = spec.input_mean if standardize else (0.0, 0.0)
        scale = spec.input_scale if standardize else (1.0, 1.0)
        dtype = next(model.parameters()).dtype
        self.register_buffer("mean", torch.tensor(mean, dtype=dtype))
        self.register_buffer("scale", torch.tensor(scale, dtype=dtype))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        p = (points.to(self.mean.dtype) - self.mean) / self.scale  # (N, 2)
        x1, x2 = p[:, 0], p[:, 1]
        x = torch.stack([FEATURES[name].fn(x1, x2) for name in self.features], dim=1)  # (N, F)
        out = self.model(x)  # (N, 1) or (N, K)
        return torch.softmax(out, dim=1) if self.softmax else out


@dataclass
class LoadedRun:
    """A run folder's content: ``spec``, trained ``model`` (eval mode, CPU), ``history``, ``summary``."""

    path: Path
    spec: Spec
    model: PlaygroundNet
    history: History
    summary: dict[str, Any] | None = field(default=None)

    def predictor(self) -> Predictor:
        """The model as a module taking raw points (see :class:`Predictor`)."""
        return Predictor(self.spec, self.model).eval()


def load_run(path: str | Path) -> LoadedRun:
    """Load a run folder (``spec.json``, ``weights.safetensors``, ``history.csv``; the
    summary if present); a folder without them is refused with a clear message."""
    folder = Path(path)
    for name in ("spec.json", "weights.safetensors"):
        if not (folder / name).is_file():
            raise TorchgroundError("deploy.not_a_run", path=str(folder), missing=name)
    spec = load_spec(folder / "spec.json")
    model = build_model(spec.replace(device="cpu")) if spec.device != "cpu" else build_model(spec)
    model = model.to(getattr(torch, spec.dtype))
    try:
        model.load_state_dict(load_weights(folder / "weights.safetensors"))
    except (RuntimeError, OSError, ValueError) as exc:
        raise TorchgroundError("deploy.bad_weights", path=str(folder / "weights.safetensors"), reason=str(exc).splitlines()[0]) from None
    model.eval()
    history = _read_history(folder / "history.csv", spec)
    summary = read_summary(folder)
    if summary and isinstance(summary.get("status"), str):
        history.status = summary["status"]  # type: ignore[assignment]
    return LoadedRun(folder, spec, model, history, summary)


def _read_history(path: Path, spec: Spec) -> History:
    history = History(spec.problem or "classification")
    if not path.is_file():
        return history
    for raw in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            row[key] = None if value in ("", None) else (int(value) if key == "epoch" else float(value))
        history.rows.append(row)
    return history
