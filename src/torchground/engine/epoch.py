"""One epoch of a group as pure tensor functions: gather the batches, step, measure.

Split from the bookkeeping in :mod:`~torchground.engine.stacked` so the same code runs
eagerly, under ``torch.compile`` (:mod:`~torchground.engine.kernels.dispatch`) or, for the steps,
in a CUDA graph (:mod:`~torchground.engine.kernels.cuda_graph`). Everything an epoch produces for the
host comes back as one (M, S + K) float64 table — each step's batch loss, then the
epoch's metrics (:func:`stat_names`) — so the host waits on the device once per epoch.
Every function serves both parameter layouts: a models-first net (batches (M, B, F)) and
its models-last twin (batches (B, F, M), see
:meth:`~torchground.engine.net.StackedNet.models_last`), which compiled code trains; the
net says which (``net.last``), the gather and split functions take ``last``.

Metric definitions are the trainer's: training loss = size-weighted mean of the batch
losses, training accuracy / RMSE / R² from the outputs each batch had before its step;
validation and test metrics on the whole set after the epoch.
"""

from __future__ import annotations

from typing import Sequence

import torch

from torchground.engine.net import StackedNet
from torchground.engine.kernels.rule_text import TORCH as RULE

__all__ = ["gather", "split_steps", "run_steps", "epoch_stats", "train_epoch", "epoch_steps", "steps_stats", "stat_names", "step_shapes"]

Tensor = torch.Tensor
EvalSet = tuple[str, Tensor, Tensor, Tensor]  # name, x (D, N, F), y (D, N, 1), sst (D,)


def step_shapes(m: int, n: int, batch: int) -> list[tuple[int, int]]:
    """(M, B) of each step of an epoch over ``n`` points: full batches, then the rest."""
    full = n // batch
    return [(m, batch)] * full + ([(m, n - full * batch)] if n % batch else [])


def gather(x: Tensor, y: Tensor, order: Tensor, batch: int, last: bool = False) -> tuple[Tensor, Tensor]:
    """The epoch's batches, step-major, in one index_select each, in either layout.

    Shape:
        x (D, N, F), y (D, N, 1) with D = 1 (shared data) or M; order (M, N) →
        models first, (N·M, F), (N·M, 1): step 0's (M, B) rows first;
        models last (``last``), (F, N·M), (1, N·M): column (s·B + b)·M + m is model m's
        point b of step s (the last, shorter step: (S·B + b)·M + m).
    """
    M, N = order.shape
    if x.shape[0] != 1:
        order = order + torch.arange(M, device=order.device).unsqueeze(1) * N  # rows of each model's own data
    S, full = N // batch, (N // batch) * batch
    head, tail = order[:, :full], order[:, full:]
    if last:  # point-major within a step: (S, B, M)
        idx = head.reshape(M, S * batch).t().reshape(-1)
        tail = tail.t()
    else:  # model-major within a step: (S, M, B)
        idx = head.reshape(M, S, batch).transpose(0, 1).reshape(-1)
    if full < N:
        idx = torch.cat([idx, tail.reshape(-1)])
    if last:
        return x.reshape(-1, x.shape[2]).t().index_select(1, idx), y.reshape(1, -1).index_select(1, idx)
    return x.reshape(-1, x.shape[2]).index_select(0, idx), y.reshape(-1, 1).index_select(0, idx)


def split_steps(
    gx: Tensor | None, gy: Tensor, shapes: Sequence[tuple[int, int]], last: bool = False
) -> tuple[list[Tensor], list[Tensor]]:
    """Per-step views of :func:`gather`'s buffers: (M, B, F) and (M, B, 1), models last
    (``last``) (B, F, M) and (B, 1, M). No inputs when ``gx`` is None."""
    xs, ys, start = [], [], 0
    for m, b in shapes:
        n = m * b
        if last:
            if gx is not None:
                xs.append(gx[:, start : start + n].view(-1, b, m).permute(1, 0, 2))
            ys.append(gy[:, start : start + n].view(1, b, m).permute(1, 0, 2))
        else:
            if gx is not None:
                xs.append(gx[start : start + n].view(m, b, -1))
            ys.append(gy[start : start + n].view(m, b, 1))
        start += n
    return xs, ys


def run_steps(net: StackedNet, xs: Sequence[Tensor], ys: Sequence[Tensor], count: bool) -> list[Tensor]:
    """One step on each batch in turn. ``count=False``: ``train_step``, for captured or compiled
    code, which must not touch Python counters (the caller advances the optimiser after)."""
    step = net.step if count else net.train_step
    return [step(x, y) for x, y in zip(xs, ys)]


def stat_names(problem: str, sets: Sequence[str], classes: int = 2) -> list[str]:
    """Names of :func:`epoch_stats`' metric columns, after the step losses (K classes: each
    set's per-class precision and recall after its accuracy, as the trainer's history has them)."""
    per_set = ["loss", "acc"] if problem == "classification" else ["loss", "rmse", "r2"]
    if problem == "classification" and classes > 2:
        per_set += [f"{m}_{k}" for m in ("precision", "recall") for k in range(classes)]
    return [f"{name}_{m}" for name in ("train", *sets) for m in per_set]


def epoch_stats(
    net: StackedNet, preds: Sequence[Tensor], ys: Sequence[Tensor], evals: Sequence[EvalSet], train_sst: Tensor, classify: bool
) -> Tensor:
    """Each step's batch loss and the epoch's metrics. → (M, S + K) float64 (:func:`stat_names`).

    ``preds``, ``ys``: each step's outputs and labels, (M, B, 1), or (B, 1, M) for a
    models-last net; the sums run over points in the net's own layout (no transposes in
    compiled code).
    """
    last = net.last
    ax = 0 if last else 1  # the points' axis of the 2-D tables: (N, M) models last, (M, N) models first
    table = (lambda t: t[:, 0, :]) if last else (lambda t: t[..., 0])  # noqa: E731
    outputs = table if preds[0].shape[-1] == 1 or last else (lambda t: t)  # noqa: E731  K classes: (M, B, K) kept
    pred, y = torch.cat([outputs(p) for p in preds], dim=ax), torch.cat([table(t) for t in ys], dim=ax)  # as trained
    N, B = pred.shape[ax], preds[0].shape[0 if last else 1]
    elements = net.loss.elements(pred, y)
    full = (N // B) * B
    if last:
        step_loss = elements[:full].reshape(N // B, B, -1).mean(dim=1).t()
        rest = elements[full:].mean(dim=0).unsqueeze(1)
    else:
        step_loss = elements[:, :full].reshape(-1, N // B, B).mean(dim=2)
        rest = elements[:, full:].mean(dim=1, keepdim=True)
    if full < N:
        step_loss = torch.cat([step_loss, rest], dim=1)
    step_loss = (step_loss * net.loss.scale).to(torch.float64)  # (M, S): each batch's loss as the trainer reads it
    sizes = torch.full((step_loss.shape[1],), float(B), dtype=torch.float64, device=pred.device)
    if full < N:
        sizes[-1] = N - full
    columns = [step_loss, (step_loss * sizes).sum(dim=1, keepdim=True) / N]  # train_loss: size-weighted mean
    columns += _quality(pred, y, ax, train_sst, classify, trained=True)
    for _, x, yy, sst in evals:
        p = net.outputs(x)  # (M, Nv) | (Nv, M)
        yy = yy[..., 0].t() if last else yy[..., 0]  # (Nv, D) | (D, Nv), D = 1 or M
        yy = yy.expand(p.shape[:2])
        columns.append((net.loss.elements(p, yy).mean(dim=ax) * net.loss.scale).to(torch.float64).unsqueeze(1))
        columns += _quality(p, yy, ax, sst, classify, trained=False)
    return torch.cat(columns, dim=1)


def _quality(p: Tensor, y: Tensor, ax: int, sst: Tensor, classify: bool, trained: bool) -> list[Tensor]:
    """Accuracy, or RMSE and R², per model, as (M, 1) float64 columns, computed as the trainer computes them.

    ``p``, ``y``: 2-D outputs and labels, points along ``ax``."""
    n = p.shape[ax]
    if classify and p.ndim == 3:  # K classes: the argmax of (M, N, K) against the (M, N) class indices
        return [((p.argmax(dim=-1) == y).sum(dim=ax, dtype=torch.float64) / n).unsqueeze(1), *_per_class(p, y, ax)]
    if classify:
        # hits of the ±1 classes (rules.py's hit: +1 where the output is ≥ 0), element-wise over
        # the table of every model's points (not model.discretize, which reads a 2-D table as K-class rows)
        return [(RULE.hit(p, y).sum(dim=ax, dtype=torch.float64) / n).unsqueeze(1)]
    sse = ((p - y) ** 2).sum(dim=ax)  # (M,) summed in the model dtype
    if trained:  # Trainer._row: Python floats from the dtype sums
        sse, sst = sse.to(torch.float64), sst.to(torch.float64)
        rmse = torch.sqrt(sse / n)
    else:  # Trainer.valid_step / metrics.r2: tensors in the model dtype
        rmse = torch.sqrt(sse / n)
        sst = sst.to(p.dtype)
    r2 = torch.where(sst > 0, 1 - sse / sst, torch.full_like(sse, float("nan")))
    return [rmse.to(torch.float64).unsqueeze(1), r2.to(torch.float64).unsqueeze(1)]


def _per_class(p: Tensor, y: Tensor, ax: int) -> list[Tensor]:
    """Per-class precision and recall of K-class outputs (M, N, K) against (M, N) class indices,
    as :func:`torchground.train.metrics.precision_recall` has them (NaN where a class has no
    prediction / no point): two (M, K) float64 columns."""
    ks = torch.arange(p.shape[-1], device=p.device)
    predicted = p.argmax(dim=-1).unsqueeze(-1) == ks  # (M, N, K)
    actual = y.long().unsqueeze(-1) == ks
    hits = (predicted & actual).sum(dim=ax, dtype=torch.float64)  # (M, K)
    n_pred, n_true = predicted.sum(dim=ax, dtype=torch.float64), actual.sum(dim=ax, dtype=torch.float64)
    nan = torch.full_like(hits, float("nan"))
    return [torch.where(n_pred > 0, hits / n_pred, nan), torch.where(n_true > 0, hits / n_true, nan)]


def train_epoch(
    net: StackedNet, x: Tensor, y: Tensor, order: Tensor, batch: int, evals: Sequence[EvalSet], train_sst: Tensor, classify: bool,
    count: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gather, step and measure one epoch, in the net's layout (what ``torch.compile``
    compiles for a few models). ``count=False`` leaves the step counter to the caller.
    → (gx, gy, stats as :func:`epoch_stats`)."""
    gx, gy = gather(x, y, order, batch, net.last)
    shapes = step_shapes(order.shape[0], order.shape[1], batch)
    xs, ys = split_steps(gx, gy, shapes, net.last)
    preds = run_steps(net, xs, ys, count)
    return gx, gy, epoch_stats(net, preds, ys, evals, train_sst, classify)


def epoch_steps(net: StackedNet, gx: Tensor, gy: Tensor, shapes: Sequence[tuple[int, int]]) -> list[Tensor]:
    """An epoch's steps on :func:`gather`'s batches, uncounted. → each step's outputs in the net's layout."""
    xs, ys = split_steps(gx, gy, shapes, net.last)
    return run_steps(net, xs, ys, count=False)


def steps_stats(
    net: StackedNet, preds: Sequence[Tensor], gy: Tensor, shapes: Sequence[tuple[int, int]], evals: Sequence[EvalSet],
    train_sst: Tensor, classify: bool,
) -> Tensor:
    """:func:`epoch_stats` of :func:`epoch_steps`' outputs, with the labels of :func:`gather`'s buffer ``gy``."""
    return epoch_stats(net, preds, split_steps(None, gy, shapes, net.last)[1], evals, train_sst, classify)
