"""Train a group of M models at once: the epoch loop, metrics, divergence, early stopping.

A *group* is a set of specs that differ only in seeds (data, weights, batch order),
scalar hyper-parameters (lr, weight decay, L1/L2, momentum, betas, eps, …), early
stopping settings and data of the same size (:func:`group_key`). The group's models
train in lockstep as one :class:`~torchground.engine.net.StackedNet`; every epoch each
gets the history row the eager :class:`~torchground.train.trainer.Trainer` would write (same
columns, same definitions: size-weighted training loss over the batches as they were
trained, validation and test metrics on the whole set).

Per-step losses are not read back during the epoch (that would stop the pipeline each
step): the epoch's outputs are kept and every model's batch losses are computed at the
end of the epoch. A model whose loss went non-finite at some step is then put back to
the state before that step (replaying the epoch's finished steps from the epoch's start,
for that model only), marked diverged with the trainer's message, and leaves the group;
the others go on. Models that stop early leave the same way, with their best weights
restored if asked.

One difference from the trainer, by design: the trainer skips (without stopping) a step
whose loss *with the L1/L2 penalty* is non-finite while the data loss is finite (weights
beyond ~1e19); the engine only looks at the data loss.

Example:
    >>> from torchground.spec import Spec
    >>> results = StackedGroup([Spec(epochs=2, lr=lr) for lr in (0.01, 0.1)]).run()
    >>> [r.status for r in results], [r.history().epochs for r in results]
    (['completed', 'completed'], [2, 2])
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from torchground.engine.batch_orders import BatchOrders
from torchground.engine.data import GroupData, data_key, initial_params
from torchground.engine.epoch import (
    epoch_stats,
    gather,
    split_steps,
    stat_names,
    step_shapes,
    train_epoch,
)
from torchground.engine.net import StackedNet, layer_sizes, param_count
from torchground.engine.ops import ACTIVATION_OPS, LOSS_OPS
from torchground.engine.optim import OPTIMIZER_KINDS, check_optimizer, structure
from torchground.engine.results import ModelResult, split_sizes
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train.history import metric_columns
from torchground.schedules import LRBank
from torchground.train.run import divergence_message, intra_op_threads, resolve_device
from torchground.train.threads import threads_for

__all__ = ["ModelResult", "StackedGroup", "group_key", "check_supported", "SUPPORTED", "Pruner"]

#: ``prune(epoch, ids, rows) -> stop``: see :meth:`StackedGroup.run`.
Pruner = Callable[[int, np.ndarray, np.ndarray], "np.ndarray | None"]

Tensor = torch.Tensor

#: What the engine trains: registry names per kind.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "activation": tuple(ACTIVATION_OPS),
    "loss": tuple(LOSS_OPS),
    "optimizer": tuple(OPTIMIZER_KINDS),
}


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (back to its former state after)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def check_supported(spec: Spec) -> None:
    """Refuse, naming what the engine supports, a spec the engine cannot train."""
    if spec.training_loop != "pytorch":  # TensorFlow Playground's loop: the eager trainer only
        raise TorchgroundError("engine.unsupported", field="training_loop", value=spec.training_loop, allowed="pytorch")
    for field, kind in (("activation", "activation"), ("output_activation", "activation"), ("loss", "loss")):
        value = getattr(spec, field)
        if value not in SUPPORTED[kind]:
            raise TorchgroundError("engine.unsupported", field=field, value=value, allowed=", ".join(SUPPORTED[kind]))
    check_optimizer(spec)


def _batch(spec: Spec) -> int:
    return spec.n_train if spec.batch_size == "full" else int(spec.batch_size)


def group_key(spec: Spec) -> tuple[Any, ...]:
    """Specs with equal keys train together in one group."""
    device = resolve_device(spec.device)
    return (
        spec.problem, layer_sizes(spec), spec.activation, spec.output_activation, spec.loss, structure(spec),
        _batch(spec), split_sizes(spec), spec.epochs, spec.dtype, str(device),
    )


class StackedGroup:
    """Train the models of ``specs`` (one :func:`group_key`) together. See the module docstring.

    Args:
        specs: the models' specs.
        cuda_graph: on CUDA, capture each epoch's steps in a CUDA graph (default True).
        compile: compile each epoch: our fused kernels where they cover the group, else
            ``torch.compile`` (default False; see :mod:`torchground.engine.kernels.dispatch`;
            on CUDA used instead of the CUDA graph; measured speed: ``bench/RESULTS.md``).
        fused: our fused kernels where they cover the group (first epoch checked). None (the
            default): as ``compile``. ``fused=True`` without ``compile``: the CPU's fused C
            kernel, and where it does not cover the group, cannot be built or disagrees, the
            eager engine (never ``torch.compile``); its build starts in the background while
            the data are made. ``fused=False`` with ``compile``: ``torch.compile`` alone.
            The front ends (:func:`~torchground.engine.train_fast`, ``run_sweep``) pass True.

    :attr:`path` says which code trained the group's epochs.
    """

    def __init__(self, specs: Sequence[Spec], cuda_graph: bool = True, compile: bool = False, fused: bool | None = None) -> None:
        if not specs:
            raise ValueError("a group needs at least one spec")
        for spec in specs:
            check_supported(spec)
        key = group_key(specs[0])
        if any(group_key(s) != key for s in specs[1:]):
            raise ValueError("specs of one group must have equal group_key")
        self.specs = list(specs)
        s0 = specs[0]
        self.device = resolve_device(s0.device)
        self.dtype = getattr(torch, s0.dtype)
        self.problem = s0.problem or "classification"
        self.n_train, self.n_val, self.n_test = split_sizes(s0)
        self.batch = _batch(s0)
        self.epochs = s0.epochs
        self.fused = compile if fused is None else fused
        # fused kernels keep fixed rates: a schedule trains eagerly. K classes (K outputs): the
        # fused kernels and the compiled models-last layout have one output; such a group
        # trains on the eager engine (the same numbers, only slower). On CUDA, fused without
        # compile keeps the eager engine's CUDA graph.
        kernels = not any(s.scheduler for s in specs) and layer_sizes(s0)[-1] == 1
        self.compile = (compile or (self.fused and self.device.type == "cpu")) and kernels
        self.inductor = compile  # the fallback: torch.compile (compile) or the eager engine
        # The net first, its weights after: the kernel's build needs only its shape and starts
        # at once, while the initial weights and the data are made.
        zeros = torch.zeros(len(specs), param_count(layer_sizes(s0)), dtype=self.dtype)
        self.net = StackedNet.build(specs, zeros, self.dtype, self.device)
        self._prebuild = self._start_build(specs) if self.compile and self.fused and self.device.type == "cpu" else None
        cache: dict[tuple[Any, ...], Tensor] = {}
        rows = []
        for s in specs:  # identical initial weights are made once
            k = (s.init_seed, s.init, s.dtype)
            if k not in cache:
                cache[k] = initial_params(s)
            rows.append(cache[k])
        self.net.params.copy_(torch.stack(rows))
        self.data = GroupData.build(specs, self.dtype, self.device)  # while the kernel builds
        self.orders = BatchOrders(specs, self.n_train, native=self.compile)  # compiled groups draw many orders in C
        self.use_graph = cuda_graph and self.device.type == "cuda"
        self._graph: Any = None
        self._compiled: Any = None
        self._pinned: Tensor | None = None  # host buffer of the epoch's table (CUDA)
        self._finite = np.ones(0, dtype=bool)
        self._which: Tensor | None = None  # per model, its batch order among the distinct ones (on the device)
        self._snap: Any = None  # the state at the start of the epoch (for diverged models)
        self._all_ok = np.ones(0, dtype=bool)
        M = len(specs)
        # Per active model (NumPy, host side): original index, bookkeeping of best epochs.
        self.ids = np.arange(M)
        self.hist_best = np.full(M, np.nan)  # history.best_epoch's rule: the first epoch counts
        self.hist_best_epoch = np.zeros(M, dtype=np.int64)
        self.es_best = np.full(M, np.inf)  # EarlyStopping's rule
        self.es_best_epoch = np.zeros(M, dtype=np.int64)
        self.wait = np.zeros(M, dtype=np.int64)
        self.min_delta = np.array([s.min_delta for s in specs], dtype=np.float64)
        self.patience = np.array([s.patience if s.patience is not None else -1 for s in specs], dtype=np.int64)
        self.restore_best = np.array([s.patience is not None and s.restore_best for s in specs])
        self.watching = bool((self.patience >= 0).any())
        self.best_params = self.net.params.clone() if self.restore_best.any() else None
        self.lrs = np.array([s.lr for s in specs], dtype=np.float64)
        self.schedule = LRBank(specs) if any(s.scheduler for s in specs) else None  # per-model rates, epoch by epoch
        if self.schedule is not None:
            self._wds = [float(s.weight_decay or 0.0) for s in specs]
            self.lrs = np.array([self.schedule.lr(j) for j in range(M)], dtype=np.float64)
            self.net.opt.set_lr(self.lrs.tolist(), self._wds)
        self.steps = 0
        self.classes = s0.classes or 2  # K classes: per-class precision and recall columns too
        self.columns = metric_columns(self.problem, self.classes)
        self.metrics = np.full((self.epochs, M, len(self.columns)), np.nan)
        self._set_evals()
        self._stat_cols = np.array([self.columns.index(n) for n in stat_names(self.problem, [e[0] for e in self.evals], self.classes)])
        self._lr_col = self.columns.index("lr")  # not the last column with K classes (per-class columns follow)
        self.results: list[ModelResult | None] = [None] * M

    # -- the loop ---------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int], None] | None = None, prune: Pruner | None = None) -> list[ModelResult]:
        """Train every model for ``epochs`` epochs (fewer if it diverges or stops early).

        Args:
            progress: called as ``progress(epoch, epochs)`` after each epoch.
            prune: called after each epoch as ``prune(epoch, ids, rows)`` with the models
                still training (``ids``: their indices in ``specs``, shape (A,)) and this
                epoch's metric rows (A, C) in :attr:`columns` order; returns a (A,) bool
                array of the models to stop now (status ``pruned``), or None.

        Returns:
            One :class:`ModelResult` per spec, in order.
        """
        with intra_op_threads(self._thread_count()):
            try:
                for epoch in range(1, self.epochs + 1):
                    if not len(self.ids):
                        break
                    self._epoch(epoch)
                    if prune is not None and len(self.ids):
                        self._prune(epoch, prune(epoch, self.ids.copy(), self.metrics[epoch - 1, self.ids]))
                    if progress is not None:
                        progress(epoch, self.epochs)
            except KeyboardInterrupt:
                self._finish(np.arange(len(self.ids)), "interrupted")
        self._finish(np.arange(len(self.ids)), "completed")
        return [r for r in self.results if r is not None]

    @property
    def path(self) -> str:
        """Which code trained the group's epochs: "fused" (our fused kernel, its first epoch
        checked), "inductor" (``torch.compile``), "cuda_graph" or "eager" (the eager engine:
        asked for, or the fused kernel out of scope, not built or refused)."""
        c = self._compiled
        if c is None or c.epochs == 0:
            return "cuda_graph" if self._graph is not None else "eager"
        return "fused" if c.fused_epochs and c.path.value in ("check", "fused") else c.path.value

    def _start_build(self, specs: Sequence[Spec]) -> Any:
        """Start building the group's fused kernel in the background (see
        :mod:`~torchground.engine.kernels.prebuild`); its record, or None."""
        from torchground.engine.kernels.prebuild import start_build

        shared = len({data_key(s) for s in specs}) == 1 and len({(s.shuffle_seed, s.shuffle) for s in specs}) == 1
        sets = int(self.n_val > 0) + int(self.n_test > 0)
        return start_build(self.net, self.n_train, self.batch, shared, sets, self.problem == "classification")

    def _thread_count(self) -> int | None:
        """The intra-op threads (:func:`~torchground.train.threads.threads_for` of a step's operation; the fused kernel sets its own)."""
        return threads_for(len(self.specs) * self.batch * max(self.net.sizes), self.device.type)

    def _epoch(self, epoch: int) -> None:
        M, N, B = len(self.ids), self.n_train, self.batch
        perms, which = self.orders.next_epoch()
        if self._which is None:
            self._which = which.to(self.device)
        if len(perms) == 1:  # one order for all (a sweep over anything but shuffle seeds)
            order = perms.to(self.device).expand(M, N)
        else:
            order = perms.to(self.device).index_select(0, self._which)  # (M, N)
        x, y = self.data.sets["train"]
        shapes = step_shapes(M, N, B)
        snap = self._snap = self.net.snapshot(into=self._snap)
        args = (self.evals, self.data.train_sst, self.problem == "classification")
        steady = self.net.opt.steady  # CUDA graphs and compilation start when the step's code no longer changes
        batches = None  # each step's (M, B, F) inputs and (M, B, 1) labels, when at hand
        if self.use_graph and steady and not self.compile:
            from torchground.engine.kernels.cuda_graph import EpochGraph  # CUDA only

            gx, gy = gather(x, y, order, B)
            if self._graph is None or not self._graph.matches(self.net, shapes):
                self._graph = EpochGraph(self.net, gx, gy, shapes)
            preds = self._graph.replay(gx, gy)
            batches = split_steps(gx, gy, shapes)
            stats = epoch_stats(self.net, preds, batches[1], *args)
        elif self.compile and steady and (self._compiled is None or self._compiled.path.value != "eager"):
            from torchground.engine.kernels.dispatch import (
                CompiledEpoch,  # imports TorchInductor: only when asked
            )

            if self._compiled is None:
                fallback = "inductor" if self.inductor else "eager"
                self._compiled = CompiledEpoch(self.device.type, fused=None if self.fused else False, fallback=fallback)
            stats = self._compiled.run(self.net, x, y, order, B, *args)
        else:
            gx, gy, stats = train_epoch(self.net, x, y, order, B, *args, count=True)
            batches = split_steps(gx, gy, shapes)
        S = len(shapes)
        finite, values = self._to_host(stats, S)  # the one wait on the device per epoch
        ok: np.ndarray | None = None  # which models trained on (None: all, the usual case, kept short)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            step_loss = stats[torch.as_tensor(bad, device=stats.device), :S].cpu().numpy()  # (len(bad), S)
            if batches is None:
                batches = split_steps(*gather(x, y, order, B), shapes)
            self._diverged(epoch, bad, step_loss, snap, batches)
            ok = finite
        self.steps += S
        if ok is not None and not ok.any():
            self._compact(ok)
            return
        whole = ok is None and M == len(self.specs)  # every model still here: write the rows in place
        row = self.metrics[epoch - 1] if whole else np.full((M, len(self.columns)), np.nan)
        row[:, 0] = epoch
        row[:, self._stat_cols] = values
        row[:, self._lr_col] = self.lrs if whole else self.lrs[self.ids]
        diverged = ok is not None
        if ok is None:
            if not whole:
                self.metrics[epoch - 1, self.ids] = row
            ok = self._all_ok if len(self._all_ok) == M else np.ones(M, dtype=bool)
            self._all_ok = ok
        else:
            self.metrics[epoch - 1, self.ids[ok]] = row[ok]
        if self.schedule is not None:  # the next epoch's rates (the row keeps this one's)
            self.lrs[self.ids] = self.schedule.step(self.ids.tolist(), row[:, 1 + (self.n_val > 0)].tolist())
        still = self._early_stopping(epoch, row[:, 1 + (self.n_val > 0)], ok)
        if diverged or still is not ok:  # some models leave the group
            self._compact(ok & still)
        if self.schedule is not None and len(self.ids):
            self.net.opt.set_lr(self.lrs[self.ids].tolist(), [self._wds[i] for i in self.ids])

    def _to_host(self, stats: Tensor, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """From :func:`epoch_stats`' (M, S + K) table: which models' step losses were all
        finite (M,) and the metrics (M, K), on the host.

        On a GPU the step losses stay on the device (a fifth of 10⁵ models' table crosses
        over) and the rest is copied through a reused page-locked buffer: a plain copy took
        longer than the epoch's steps.
        """
        if stats.device.type == "cpu":
            table = stats.numpy()
            losses = table[:, :steps]
            if math.isfinite(losses.sum()):  # losses are ≥ 0: a NaN or an inf anywhere makes the sum one; one op
                return self._all_finite(len(table)), table[:, steps:]
            return np.isfinite(losses).all(axis=1), table[:, steps:]
        flags = torch.isfinite(stats[:, :steps]).all(dim=1, keepdim=True).to(stats.dtype)
        head = torch.cat([flags, stats[:, steps:]], dim=1)
        if self._pinned is None or self._pinned.shape != head.shape:
            self._pinned = torch.empty(head.shape, dtype=head.dtype, pin_memory=True)
        self._pinned.copy_(head, non_blocking=True)
        torch.cuda.current_stream(stats.device).synchronize()
        table = self._pinned.numpy()
        return table[:, 0] == 1.0, table[:, 1:]

    def _all_finite(self, m: int) -> np.ndarray:
        """(m,) True, kept (read-only) between epochs."""
        if len(self._finite) != m:
            self._finite = np.ones(m, dtype=bool)
            self._finite.flags.writeable = False
        return self._finite

    def _early_stopping(self, epoch: int, monitored: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """History's best epoch and per-model EarlyStopping, as the trainer's callback does it.

        Returns which models go on (False for those that stop now)."""
        everyone = ok is self._all_ok
        m = monitored if everyone else np.where(ok, monitored, np.nan)
        # Comparisons with NaN are False and warn of nothing. In place, few ops: for a few
        # models this runs every few hundred microseconds.
        better = (m < self.hist_best - self.min_delta) | (self.hist_best_epoch == 0)
        if not everyone:
            better &= ok
        np.copyto(self.hist_best, m, where=better)
        np.copyto(self.hist_best_epoch, epoch, where=better)
        if not self.watching:  # no model stops early: nothing more to track
            return ok
        improved = ok & (m < self.es_best - self.min_delta)
        watched = ok & (self.patience >= 0)
        self.es_best = np.where(improved, m, self.es_best)
        self.es_best_epoch = np.where(improved, epoch, self.es_best_epoch)
        self.wait = np.where(improved, 0, self.wait + 1)
        save = improved & self.restore_best
        if self.best_params is not None and save.any():
            idx = torch.as_tensor(np.flatnonzero(save), device=self.device)
            self.best_params.index_copy_(0, idx, self.net.params.index_select(0, idx))
        stop = watched & (self.wait >= self.patience)
        for j in np.flatnonzero(stop):
            spec = self.specs[self.ids[j]]
            best = int(self.es_best_epoch[j]) or None
            params = self.best_params[j] if (self.best_params is not None and self.restore_best[j] and best) else self.net.params[j]
            msg = ("train.early_stopped", {"epoch": epoch, "best": best, "patience": spec.patience})
            self._result(j, "early_stopped", self.steps, params, msg)
        return ~stop

    def _prune(self, epoch: int, stop: np.ndarray | None) -> None:
        """Stop the models where ``stop`` is True (a search pruned them) with their weights as they are."""
        if stop is None or not np.any(stop):
            return
        stop = np.asarray(stop, dtype=bool)
        for j in np.flatnonzero(stop):
            self._result(j, "pruned", self.steps, self.net.params[j], ("sweep.pruned", {"epoch": epoch}))
        self._compact(~stop)

    def _set_evals(self) -> None:
        """The validation and test sets that are not empty, with their labels' sum of squares (R²)."""
        self.evals = []
        for name in ("val", "test"):
            x, y = self.data.sets[name]
            if x.shape[1]:
                self.evals.append((name, x, y, ((y - y.mean(dim=1, keepdim=True)) ** 2).sum(dim=(1, 2))))

    # -- ends -------------------------------------------------------------------------------
    def _diverged(self, epoch: int, bad: np.ndarray, step_loss: np.ndarray, snap: Any, batches: tuple[list[Tensor], list[Tensor]]) -> None:
        """Put diverged models back to their last finite state before the failing step; record them.

        ``bad``: the diverged models' positions; ``step_loss``: their (len(bad), S) step losses."""
        xs, ys = batches
        first_bad = np.argmax(~np.isfinite(step_loss), axis=1)  # steps done before the first non-finite loss
        idx = torch.as_tensor(bad, device=self.device)
        sub = self.net.with_state(snap).select(idx)  # from the epoch's start, these models only
        kept, alive = sub.params.clone(), np.ones(len(bad), dtype=bool)
        for k in range(int(first_bad.max())):
            sub.step(xs[k].index_select(0, idx), ys[k].index_select(0, idx))
            fin = torch.isfinite(sub.params).all(dim=1).cpu().numpy()
            take = alive & (k < first_bad) & fin
            alive &= fin | (k >= first_bad)
            if take.any():
                t = torch.as_tensor(np.flatnonzero(take), device=self.device)
                kept.index_copy_(0, t, sub.params.index_select(0, t))
        for n, j in enumerate(bad):
            spec = self.specs[self.ids[j]]
            value = float(step_loss[n, first_bad[n]])  # nan or inf, as the trainer reports it
            steps = self.steps + int(first_bad[n])
            self._result(j, "diverged", steps, kept[n], divergence_message(spec, epoch, steps + 1, value))

    def _result(self, j: int, status: str, steps: int, params: Tensor, message: tuple[str, dict[str, Any]] | None) -> None:
        i = int(self.ids[j])
        rows = self.metrics[:, i]
        n_rows = int((~np.isnan(rows[:, 0])).sum())
        best = int(self.hist_best_epoch[j]) or None
        spec = self.specs[i]
        params = params.detach().cpu() if params.device.type != "cpu" else params.detach()
        self.results[i] = ModelResult(spec, status, steps, rows[:n_rows].copy(), message, best, params.clone(), self.data.splits[j])

    def _finish(self, positions: np.ndarray, status: str) -> None:
        """Results for the models at ``positions`` that have none yet, made for all at once:
        for 10⁵ models, one per model took seconds (a metrics copy and a parameter clone each)."""
        results = self.results
        todo = np.array([j for j, i in zip(positions.tolist(), self.ids[positions].tolist()) if results[i] is None], dtype=np.int64)
        if not len(todo):
            return
        params = self.net.params.detach()
        params = (params.cpu() if params.device.type != "cpu" else params.clone()).numpy()  # one copy for all; rows are views
        ids = self.ids[todo]
        metrics = np.ascontiguousarray(self.metrics[:, ids].transpose(1, 0, 2))  # (models, epochs, columns)
        n_rows = (~np.isnan(metrics[:, :, 0])).sum(axis=1).tolist()
        best = self.hist_best_epoch[todo].tolist()
        splits, specs = self.data.splits, self.specs
        with _gc_paused():  # 10⁵ new objects would start a dozen full collections: two thirds of the time
            for k, (j, i) in enumerate(zip(todo.tolist(), ids.tolist())):
                results[i] = ModelResult(specs[i], status, self.steps, metrics[k, : n_rows[k]], None, best[k] or None, params[j], splits[j])

    def _compact(self, keep: np.ndarray) -> None:
        """Drop finished models from every per-model tensor."""
        if keep.all():
            return
        idx = torch.as_tensor(np.flatnonzero(keep), device=self.device)
        self.net = self.net.select(idx)
        self.data = self.data.select(idx.cpu())
        self._set_evals()
        self.orders.select(np.flatnonzero(keep).tolist())
        if self.best_params is not None:
            self.best_params = self.best_params.index_select(0, idx)
        for name in ("ids", "hist_best", "hist_best_epoch", "es_best", "es_best_epoch", "wait", "min_delta", "patience", "restore_best"):
            setattr(self, name, getattr(self, name)[keep])
        self._graph = None
        self._which = None
