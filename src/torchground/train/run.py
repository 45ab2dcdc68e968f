"""Run-level helpers shared by the eager trainer and the stacked engine.

Making a spec's data and its tensors, choosing the device (the intra-op threads: :mod:`.threads`),
building the spec's optimiser and loss, the :class:`Run` a training returns and its
summary. Both engines import these from here; the engine never imports the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from torchground.data.datasets import Dataset, Splits, make_dataset, split_dataset
from torchground.data.features import feature_matrix
from torchground.data.spec_data import CSV, load_data
from torchground.data.tfpg_datasets import playground_points
from torchground.errors import TorchgroundError
from torchground.model import PlaygroundNet
from torchground.registry import LOSSES, OPTIMIZERS
from torchground.spec import Spec
from torchground.train.history import History
from torchground.train.threads import intra_op_threads

__all__ = [
    "Run", "make_data", "to_tensors", "resolve_device", "build_optimizer", "build_loss", "intra_op_threads", "summarize",
    "divergence_message",
]


def make_data(spec: Spec) -> Splits:
    """Generate the spec's data set (``seed``, ``noise``, ``n_samples``) and split it.

    With ``tf_playground_seed`` the points are TensorFlow Playground's, in its order. A CSV
    file's points come standardised where the spec says so (``input_mean``, ``input_scale``).
    """
    if spec.tf_playground_seed is not None:
        ds, _ = playground_points(spec.dataset, spec.noise, spec.tf_playground_seed)
        return split_dataset(ds, spec.train_pct, spec.val_pct, spec.test_pct)
    if spec.dataset == CSV:  # a data file: checked against its SHA-256, shuffled with seed, standardised
        ds = load_data(spec)
    else:
        ds = make_dataset(spec.dataset, n_samples=spec.n_samples, noise=spec.noise, seed=spec.seed, classes=spec.classes)
    return split_dataset(ds, spec.train_pct, spec.val_pct, spec.test_pct)


def to_tensors(ds: Dataset, features: Sequence[str], dtype: torch.dtype, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of ``ds`` as tensors.

    Shape:
        returns x (N, F) and y (N, 1).
    """
    x = torch.as_tensor(feature_matrix(ds.points, list(features)), dtype=dtype, device=device)  # (N, F)
    y = torch.as_tensor(ds.labels, dtype=dtype, device=device).reshape(-1, 1)  # (N, 1)
    return x, y


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without CUDA is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TorchgroundError("train.no_cuda")
    return torch.device(name)


def build_optimizer(spec: Spec, params: Iterable[nn.Parameter], fast: bool = False) -> torch.optim.Optimizer:
    """The spec's ``torch.optim`` optimiser over ``params``.

    ``fast=True`` picks the fused (plain SGD) or multi-tensor ("foreach") implementation
    where it gives bit-identical results, as the trainer does; the numbers are the same
    either way, only the Python overhead per step differs.
    """
    entry = OPTIMIZERS.get(spec.optimizer)
    kwargs: dict[str, Any] = dict(spec.optimizer_args)
    if entry.info["weight_decay"]:
        kwargs["weight_decay"] = spec.weight_decay
    if fast and spec.optimizer == "sgd" and not kwargs.get("momentum"):
        params = list(params)
        try:  # one fused kernel: bit-identical to the per-tensor loop for plain SGD (tested)
            return entry.build(params, lr=spec.lr, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):  # a torch or device without fused SGD
            pass
    if fast and entry.info["foreach_exact"]:
        kwargs["foreach"] = True
    return entry.build(params, lr=spec.lr, **kwargs)


def build_loss(spec: Spec) -> nn.Module:
    """The spec's loss function: a ``torch.nn`` loss, wrapped in a
    :class:`~torchground.registry.LossFunction` where labels need mapping."""
    return LOSSES.get(spec.loss).build()


def divergence_message(spec: Spec, epoch: int, step: int, value: float) -> tuple[str, dict[str, Any]]:
    """What a run that diverged says: the catalogue key ``train.diverged`` and its params.

    One source for every engine (the eager trainer and the stacked engine): ``step`` is
    the failing step's number counted from 1 over the whole run, ``value`` the non-finite
    loss; the suggestion is a tenth of the learning rate.

    >>> divergence_message(Spec(lr=0.3), epoch=2, step=7, value=float("nan"))
    ('train.diverged', {'epoch': 2, 'step': 7, 'value': 'nan', 'lr': 0.3, 'optimizer': 'sgd', 'suggestion': '0.03'})
    """
    info = {"epoch": epoch, "step": step, "value": str(value), "lr": spec.lr, "optimizer": spec.optimizer,
            "suggestion": f"{spec.lr / 10:g}"}
    return "train.diverged", info


@dataclass
class Run:
    """The result of :func:`train`: the spec, the trained model, its data and what happened."""

    spec: Spec
    model: PlaygroundNet
    data: Splits
    history: History
    summary: dict[str, Any] = field(default_factory=dict)


def summarize(spec: Spec, history: History, wall_s: float, device: torch.device) -> dict[str, Any]:
    """The run's key figures (what ``--json`` prints and ``summary.json`` holds)."""
    last = history.last
    summary: dict[str, Any] = {
        "status": history.status,
        "epochs": history.epochs,
        "steps": history.steps,
        "wall_s": round(wall_s, 6),
        "steps_per_s": round(history.steps / wall_s, 3) if wall_s > 0 else None,
        "best_epoch": history.best_epoch,
        "device": str(device),
        "torch": torch.__version__,
    }
    restored = history.status == "early_stopped" and spec.restore_best and history.best_epoch is not None
    source = history.rows[history.best_epoch - 1] if restored else last  # the weights the model ends with
    summary["metrics_epoch"] = source.get("epoch")
    for col in history.columns[1:]:
        summary[col] = source.get(col)
    if history.message:
        summary["message_key"], summary["message_params"] = history.message
    if history.classes > 2:  # K classes: their names and the confusion matrices of the epoch described
        summary["class_names"] = list(spec.class_names or ())
        summary["confusion"] = history.confusion.get(summary["metrics_epoch"], {})
    return summary
