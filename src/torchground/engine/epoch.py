"""One epoch of a group as pure tensor functions: gather the batches, step, measure.

Split from the bookkeeping in :mod:`~torchground.engine.stacked` so the same code runs
eagerly, under ``torch.compile`` (:mod:`~torchground.engine.compiled`) or, for the steps,
in a CUDA graph (:mod:`~torchground.engine.cuda`). Everything an epoch produces for the
host comes back as one (M, S + K) float64 table — each step's batch loss, then the
epoch's metrics (:func:`stat_names`) — so the host waits on the device once per epoch.

Metric definitions are the trainer's: training loss = size-weighted mean of the batch
losses, training accuracy / RMSE / R² from the outputs each batch had before its step;
validation and test metrics on the whole set after the epoch.
"""

from __future__ import annotations

from typing import Sequence

import torch

from torchground.engine.net import StackedNet
from torchground.model import discretize

__all__ = ["gather", "split_steps", "run_steps", "epoch_stats", "train_epoch", "stat_names", "step_shapes"]

Tensor = torch.Tensor
EvalSet = tuple[str, Tensor, Tensor, Tensor]  # name, x (D, N, F), y (D, N, 1), sst (D,)


def step_shapes(m: int, n: int, batch: int) -> list[tuple[int, int]]:
    """(M, B) of each step of an epoch over ``n`` points: full batches, then the rest."""
    full = n // batch
    return [(m, batch)] * full + ([(m, n - full * batch)] if n % batch else [])


def gather(x: Tensor, y: Tensor, order: Tensor, batch: int) -> tuple[Tensor, Tensor]:
    """The epoch's batches, step-major, in one index_select each.

    Shape:
        x (D, N, F), y (D, N, 1) with D = 1 (shared data) or M; order (M, N) →
        (N·M, F), (N·M, 1): step 0's (M, B) rows first.
    """
    M, N = order.shape
    if x.shape[0] != 1:
        order = order + torch.arange(M, device=order.device).unsqueeze(1) * N  # rows of each model's own data
    S, full = N // batch, (N // batch) * batch
    idx = order[:, :full].reshape(M, S, batch).transpose(0, 1).reshape(-1)
    if full < N:
        idx = torch.cat([idx, order[:, full:].reshape(-1)])
    return x.reshape(-1, x.shape[2]).index_select(0, idx), y.reshape(-1, 1).index_select(0, idx)


def split_steps(gx: Tensor, gy: Tensor, shapes: Sequence[tuple[int, int]]) -> tuple[list[Tensor], list[Tensor]]:
    """Per-step views (M, B, F) and (M, B, 1) of :func:`gather`'s buffers."""
    (m, b), S = shapes[0], len(shapes)
    if shapes[-1] != shapes[0]:
        S -= 1
    xs = list(gx[: S * m * b].view(S, m, b, -1).unbind(0))
    ys = list(gy[: S * m * b].view(S, m, b, 1).unbind(0))
    if S < len(shapes):
        xs.append(gx[S * m * b :].view(m, shapes[-1][1], -1))
        ys.append(gy[S * m * b :].view(m, shapes[-1][1], 1))
    return xs, ys


def run_steps(net: StackedNet, xs: Sequence[Tensor], ys: Sequence[Tensor], count: bool) -> list[Tensor]:
    """One step on each batch in turn. ``count=False``: ``train_step``, for captured or compiled
    code, which must not touch Python counters (the caller advances the optimiser after)."""
    step = net.step if count else net.train_step
    return [step(x, y) for x, y in zip(xs, ys)]


def stat_names(problem: str, sets: Sequence[str]) -> list[str]:
    """Names of :func:`epoch_stats`' metric columns, after the step losses."""
    per_set = ("loss", "acc") if problem == "classification" else ("loss", "rmse", "r2")
    return [f"{name}_{m}" for name in ("train", *sets) for m in per_set]


def epoch_stats(
    net: StackedNet, preds: Sequence[Tensor], ys: Sequence[Tensor], evals: Sequence[EvalSet], train_sst: Tensor, classify: bool
) -> Tensor:
    """Each step's batch loss and the epoch's metrics. → (M, S + K) float64 (:func:`stat_names`)."""
    pred, y = torch.cat(list(preds), dim=1), torch.cat(list(ys), dim=1)  # (M, N, 1) as trained
    M, N = pred.shape[0], pred.shape[1]
    B = preds[0].shape[1]
    elements = net.loss.elements(pred, y)  # (M, N, 1)
    full = (N // B) * B
    step_loss = elements[:, :full].reshape(M, N // B, B).mean(dim=2)
    if full < N:
        step_loss = torch.cat([step_loss, elements[:, full:].mean(dim=1)], dim=1)
    step_loss = (step_loss * net.loss.scale).to(torch.float64)  # (M, S): each batch's loss as the trainer reads it
    sizes = torch.full((step_loss.shape[1],), float(B), dtype=torch.float64, device=pred.device)
    if full < N:
        sizes[-1] = N - full
    columns = [step_loss, (step_loss * sizes).sum(dim=1, keepdim=True) / N]  # train_loss: size-weighted mean
    columns += _quality(pred, y, train_sst, classify, trained=True)
    for _, x, yy, sst in evals:
        p = net.forward(x)  # (M, Nv, 1)
        yy = yy.expand(M, -1, -1) if yy.shape[0] != M else yy
        columns.append((net.loss.elements(p, yy).mean(dim=(1, 2)) * net.loss.scale).to(torch.float64).unsqueeze(1))
        columns += _quality(p, yy, sst, classify, trained=False)
    return torch.cat(columns, dim=1)


def _quality(p: Tensor, y: Tensor, sst: Tensor, classify: bool, trained: bool) -> list[Tensor]:
    """Accuracy, or RMSE and R², per model, as (M, 1) float64 columns, computed as the trainer computes them."""
    n = p.shape[1]
    if classify:
        return [((discretize(p) == y).sum(dim=(1, 2)).to(torch.float64) / n).unsqueeze(1)]
    sse = ((p - y) ** 2).sum(dim=(1, 2))  # (M,) summed in the model dtype
    if trained:  # Trainer._row: Python floats from the dtype sums
        sse, sst = sse.to(torch.float64), sst.to(torch.float64)
        rmse = torch.sqrt(sse / n)
    else:  # Trainer.valid_step / metrics.r2: tensors in the model dtype
        rmse = torch.sqrt(sse / n)
        sst = sst.to(p.dtype)
    r2 = torch.where(sst > 0, 1 - sse / sst, torch.full_like(sse, float("nan")))
    return [rmse.to(torch.float64).unsqueeze(1), r2.to(torch.float64).unsqueeze(1)]


def train_epoch(
    net: StackedNet, x: Tensor, y: Tensor, order: Tensor, batch: int, evals: Sequence[EvalSet], train_sst: Tensor, classify: bool,
    count: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gather, step and measure one epoch (what ``torch.compile`` compiles). → (gx, gy, stats)."""
    gx, gy = gather(x, y, order, batch)
    xs, ys = split_steps(gx, gy, step_shapes(order.shape[0], order.shape[1], batch))
    preds = run_steps(net, xs, ys, count)
    return gx, gy, epoch_stats(net, preds, ys, evals, train_sst, classify)
