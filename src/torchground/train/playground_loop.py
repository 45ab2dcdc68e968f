"""TensorFlow Playground's training loop (``training_loop = "tf-playground"``), on a torch model.

TensorFlow Playground trains differently from the curriculum's PyTorch loop, and a link
only gives TensorFlow Playground's curve when its rules are kept. Per epoch (its
``oneStep``, ``nn.ts`` ``backProp`` and ``updateWeights``):

* the training points are walked in their stored order (never reshuffled); each point's
  derivatives are *added* to per-parameter accumulators;
* after every ``batch_size`` points, counted from the start of the epoch, each parameter
  takes a step with the *mean* of what it accumulated since its last step. When the
  training set is not a multiple of the batch size, the last partial batch is not
  applied: its sums stay and join the next epoch's first batch (then averaged over more
  points);
* a step is ``b ← b − (lr · Σ∂b) / n`` for a bias and ``w ← w − (lr / n) · Σ∂w`` for a
  weight, then the regularisation step ``w ← w − (lr · rate) · R'(w₀)`` with the
  derivative taken at the weight ``w₀`` *before* the gradient step (L1: its sign, 0 at 0;
  L2: ``w₀``). With L1, a weight that the regularisation step carries across zero (the
  gradient-stepped and the regularised weight have opposite signs) is set to 0 and is
  dead from then on: it gathers no derivatives and takes no steps. (TensorFlow
  Playground has one penalty at a time; given both, the L1 and then the L2 term is
  subtracted in the same step, and the dead rule looks at the result.)
* the losses it shows are computed after the epoch with the epoch's final weights: the
  mean of ``0.5 · (output − target)²`` over the whole training set and over the whole
  test set (:func:`playground_loss`).

The derivatives come from torch autograd: between two steps the weights do not change,
so the sum of the per-point derivatives of one batch is the gradient of the batch's
summed loss, taken in one backward pass. The arithmetic of each step keeps
TensorFlow Playground's order of operations, so float64 runs give its numbers to
rounding (tested against its own numbers to 1e-12).

Example:
    >>> import torch
    >>> from torchground.model import PlaygroundNet
    >>> net = PlaygroundNet(2, (3,), "tanh", "tanh").double()
    >>> loop = PlaygroundLoop(net, lr=0.03, batch_size=4)  # no penalty
    >>> x, y = torch.randn(10, 2, dtype=torch.float64), torch.ones(10, 1, dtype=torch.float64)
    >>> loop.epoch(x, y), loop.pending  # 2 steps; 2 points wait for the next epoch
    (2, 2)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["PlaygroundLoop", "playground_loss", "load_weights", "read_weights", "trainer_epoch"]


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    layers = getattr(model, "linear_layers", None)
    return layers() if callable(layers) else [m for m in model.modules() if isinstance(m, nn.Linear)]


class PlaygroundLoop:
    """Train ``model``'s linear layers with TensorFlow Playground's rules (module docstring).

    Args:
        model: a network of ``nn.Linear`` layers (a :class:`~torchground.model.PlaygroundNet`);
            trained in place, in its own dtype and device.
        lr: the learning rate.
        batch_size: points per step, 1 or more.
        l1: the L1 rate (TensorFlow Playground's ``regularization=L1`` with its rate), default 0.
        l2: the L2 rate (penalty ``0.5 · w²``), default 0.

    Attributes:
        pending: points whose derivatives are accumulated but not yet applied.
        dead: one bool mask per layer's weight (L1's dead weights).
    """

    def __init__(self, model: nn.Module, lr: float, batch_size: int, l1: float = 0.0, l2: float = 0.0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.model = model
        self.layers = _linear_layers(model)
        self.params = [p for layer in self.layers for p in (layer.weight, layer.bias)]
        self.batch_size = batch_size
        self.set_hyperparameters(lr, l1, l2)
        self.acc = [torch.zeros_like(p, requires_grad=False) for p in self.params]
        self.dead = [torch.zeros_like(layer.weight, dtype=torch.bool) for layer in self.layers]
        self.pending = 0
        self.pending_loss = 0.0  # Σ of the pending points' half squared errors

    def set_hyperparameters(self, lr: float, l1: float = 0.0, l2: float = 0.0) -> None:
        """Carry on with another learning rate or penalties (dead weights stay dead)."""
        if not (lr > 0 and l1 >= 0 and l2 >= 0):
            raise ValueError(f"lr must be > 0 and l1, l2 >= 0, not {lr!r}, {l1!r}, {l2!r}")
        self.lr, self.l1, self.l2 = float(lr), float(l1), float(l2)

    def accumulate(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add the derivatives (and losses) of the points ``x``, ``y`` (weights unchanged).

        Shape:
            x (B, F), y (B, 1).
        """
        if x.shape[0] == 0:
            return
        if not self.model.training:  # training mode, as the PyTorch loop's train_step (RReLU and the like)
            self.model.train()
        with torch.enable_grad():
            out = self.model(x)  # (B, 1)
            loss = 0.5 * ((out - y) ** 2).sum()  # Σ of the per-point half squared errors
            grads = torch.autograd.grad(loss, self.params)
        with torch.no_grad():
            for k, (acc, g) in enumerate(zip(self.acc, grads)):
                if k % 2 == 0:
                    g = g.masked_fill(self.dead[k // 2], 0.0)  # dead links gather nothing
                acc.add_(g)
        self.pending += int(x.shape[0])
        self.pending_loss += float(loss.detach())

    @torch.no_grad()
    def step(self) -> float:
        """Apply the accumulated mean derivatives (its ``updateWeights``) and clear them.

        Returns the mean half squared error of the points the step averaged (computed with
        the weights before the step; ``nan`` when nothing was pending).
        """
        n = self.pending
        if n == 0:
            return float("nan")
        mean_loss = self.pending_loss / n
        lr = self.lr
        for k, layer in enumerate(self.layers):
            w, b = layer.weight, layer.bias
            acc_w, acc_b = self.acc[2 * k], self.acc[2 * k + 1]
            b.sub_(lr * acc_b / n)  # bias − (lr · Σ) / n
            before = w.clone()
            stepped = w - (lr / n) * acc_w  # weight − (lr / n) · Σ
            regularised = stepped
            if self.l1:
                regularised = regularised - (lr * self.l1) * torch.sign(before)  # sign(0) = 0
            if self.l2:
                regularised = regularised - (lr * self.l2) * before
            dead = self.dead[k]
            if self.l1:
                dead |= stepped * regularised < 0  # carried across zero by the penalty
            w.copy_(torch.where(dead, torch.zeros_like(w), regularised))
            acc_w.zero_()
            acc_b.zero_()
        self.pending, self.pending_loss = 0, 0.0
        return mean_loss

    def epoch(self, x: torch.Tensor, y: torch.Tensor, on_step: Callable[[float], None] | None = None) -> int:
        """One epoch over the training points ``x``, ``y`` in order; returns the steps taken.

        ``on_step(loss)`` is called after each step with :meth:`step`'s mean loss (a
        trainer's batch callbacks hang there).

        Shape:
            x (N, F), y (N, 1).
        """
        n, bs, steps = int(x.shape[0]), self.batch_size, 0
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            self.accumulate(x[start:stop], y[start:stop])  # (B, F), (B, 1)
            if stop - start == bs:  # the point (i + 1) % batch_size == 0 ends a batch
                loss = self.step()
                steps += 1
                if on_step is not None:
                    on_step(loss)
        return steps


@torch.no_grad()
def playground_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """TensorFlow Playground's shown loss: the mean of ``0.5 · (output − target)²`` (``nan`` if empty).

    Shape:
        x (N, F), y (N, 1).
    """
    if x.shape[0] == 0:
        return float("nan")
    return float(0.5 * ((model(x) - y) ** 2).sum() / x.shape[0])


@torch.no_grad()
def load_weights(model: nn.Module, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """Copy ``(weight (out, in), bias (out,))`` pairs, one per linear layer, into ``model``."""
    layers = _linear_layers(model)
    if len(layers) != len(weights):
        raise ValueError(f"{len(weights)} layers of weights for a model of {len(layers)} linear layers")
    for layer, (w, b) in zip(layers, weights):
        layer.weight.copy_(torch.as_tensor(np.asarray(w), dtype=layer.weight.dtype))
        layer.bias.copy_(torch.as_tensor(np.asarray(b), dtype=layer.bias.dtype))


def read_weights(model: nn.Module) -> list[dict[str, list]]:
    """The model's layers as ``{"weight": [[...]], "bias": [...]}``, TensorFlow Playground's layout."""
    return [
        {"weight": layer.weight.detach().cpu().double().tolist(), "bias": layer.bias.detach().cpu().double().tolist()}
        for layer in _linear_layers(model)
    ]


def trainer_epoch(trainer: Any, loop: PlaygroundLoop) -> dict[str, Any] | None:
    """One epoch of :class:`~torchground.train.trainer.Trainer` under ``training_loop = "tf-playground"``.

    Trains with ``loop`` and builds the history row TensorFlow Playground's way: every
    set's loss (and accuracy, or RMSE and R²) from the whole set after the epoch. A
    non-finite training loss ends the run as "diverged" with the epoch's starting weights
    put back (TensorFlow Playground would carry on with NaN). Returns the row, or ``None``.
    """
    start_params = [p.detach().clone() for p in trainer._params]
    start_opt = trainer._optimizer_snapshot()
    x, y = trainer.sets["train"]  # (N, F), (N, 1), in the stored order

    def on_step(loss: float) -> None:  # the trainer's batch callbacks (the server parks an epoch there)
        trainer.history.steps += 1
        for cb in trainer._batch_callbacks:
            cb.on_batch_end(trainer, trainer.history.steps, loss)

    loop.epoch(x, y, on_step)
    row: dict[str, Any] = {c: None for c in trainer.history.columns}
    row["epoch"] = trainer.epoch
    for name in ("train", "val", "test"):
        for key, value in trainer.valid_step(*trainer.sets[name]).items():
            if f"{name}_{key}" in row:
                row[f"{name}_{key}"] = value
    loss = row["train_loss"]
    if loss is not None and not math.isfinite(loss):
        trainer._diverged(loss, start_params, start_opt, [])
        return None
    row["lr"] = loop.lr
    return row
