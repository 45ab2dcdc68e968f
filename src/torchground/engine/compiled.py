"""Opt-in: an epoch of training steps compiled by ``torch.compile`` into fused C++ loops
(CPU) or Triton kernels (CUDA).

For small models the eager step is bound by per-operator overhead (about 1–2 µs of
dispatch for each of ~25 tiny ops) and, for many models, by batched matrix products of
tiny matrices. ``torch.compile`` (TorchInductor) traces one epoch — the same
:meth:`~torchground.engine.net.StackedNet.train_step` code, unrolled, then the epoch's
metrics — and generates C++ for it. It runs on the net's *models-last* twin
(:meth:`~torchground.engine.net.StackedNet.models_last`): matrix products written as
broadcast products and sums, element-wise across models, so Inductor fuses each layer with
its activation and the update and vectorises the loops over the models.

For 16 models or more the batches are gathered eagerly (one ``index_select`` each, see
:func:`~torchground.engine.epoch.gather_last`): inside the compiled code an indexed load
in every inner loop defeats the vectorisation over models. And the steps and the metrics
are compiled as two calls (as one graph the epoch ran up to 2× slower for M = 1024). For
fewer models there is nothing to vectorise and the whole epoch, gather included, is one
compiled call, saving a dozen eager calls and a second call's overhead each epoch; with
Inductor's memory planning (one arena instead of a hundred allocations a call), which
saves a fifth of a one-model epoch but made the steps of 1024 models 2.7× slower. The
twin's state is copied in before and out after each epoch (for M = 1 the two layouts
share memory and nothing is copied).

Each shape (models, steps per epoch, widths) compiles as its own static graph
(``dynamic=False``): with automatic dynamic shapes, the third or fourth shape compiled in
one process failed (RecursionError in Inductor) and ran eagerly. After Dynamo's limit of
recompilations per function (8 by default) further shapes run eagerly, still correct.

On CUDA the same two calls compile to Triton kernels with Inductor's defaults (none of
the C++ tuning above), and replace the CUDA graph of :mod:`~torchground.engine.cuda`: for
10⁵ models 2-8-8-1 an epoch's 25 steps took 21 ms against 49 ms for the CUDA graph of
batched matrix products (an H100; ``bench/gpu.sh``). Captured in a CUDA graph, the
compiled steps took the same 21 ms: the kernels, not their launches, set that pace, being
memory-bound. So where it covers the group, the steps run in one fused Triton kernel of
our own instead (:mod:`~torchground.engine.fused`); its first epoch is checked against the
eager steps, and on any disagreement Inductor's steps take over, with a warning. The
metrics stay Inductor's.

The price is compilation: seconds to a minute, depending on the steps per epoch and the
number of models (cached on disk by Inductor for later runs), and a C++ compiler on the
machine; without one the engine trains on eagerly, with a warning. Results agree with the
eager engine to float rounding (sums in another order). Compiled epochs start with the
first, except for SGD with momentum, whose first step differs (one eager epoch first:
:attr:`~torchground.engine.optim.StackedOptimizer.steady`); the step counter is advanced
outside.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch

from torchground.engine.epoch import (
    EvalSet, gather_last, split_steps_last, stats_last, step_shapes, steps_last, train_epoch, train_epoch_last,
)
from torchground.engine.net import StackedNet
from torchground.i18n import t

__all__ = ["CompiledEpoch"]

Tensor = torch.Tensor


class CompiledEpoch:
    """``run(...)``: :func:`~torchground.engine.epoch.train_epoch_last` compiled on first use
    (:func:`~torchground.engine.epoch.train_epoch`, eagerly, if that fails)."""

    def __init__(self, device_type: str = "cpu", fused: bool | None = None) -> None:
        self._fn: Any = None  # the whole epoch in one call (CPU, few models)
        # The steps in one Triton kernel (:mod:`~torchground.engine.fused`) where it covers
        # the group: on CUDA by default; ``fused=True`` on CPU runs it through Triton's
        # interpreter (tests only: TRITON_INTERPRET=1).
        self.use_fused = device_type == "cuda" if fused is None else fused
        self._kernel: Any = None  # FusedSteps of the current twin (None: not made yet; False: not for this group)
        self._kernel_checked = False  # whether a first fused epoch matched the eager steps
        self._kernel_refused = False  # whether it did not (or failed): never again in this group
        self.fused_epochs = 0
        if device_type == "cuda":
            # Triton kernels with Inductor's defaults (the tuning below is for its C++). Always
            # two calls: a GPU has thousands of models to spread over, not a dozen ops to save.
            self._steps: Any = torch.compile(steps_last, dynamic=False)
            self._stats: Any = torch.compile(stats_last, dynamic=False)
        else:
            # Few models: one call, buffers planned in one arena (a fifth faster). Many models:
            # two calls, buffers allocated one by one (the arena made the steps 2.7× slower), and
            # the steps store every value read twice or more instead of recomputing it in each
            # reader (realize_reads_threshold=1: 12–20 % faster steps of 1024 models; slower for
            # the metrics and for one model, which keep the default).
            self._fn = torch.compile(train_epoch_last, dynamic=False, options={"cpp_wrapper": True, "memory_planning": True})
            self._steps = torch.compile(steps_last, dynamic=False, options={"cpp_wrapper": True, "realize_reads_threshold": 1})
            self._stats = torch.compile(stats_last, dynamic=False, options={"cpp_wrapper": True})
        self.failed: str | None = None
        self.shared = False  # whether the last epoch's batches were gathered once for all models
        self.ok = False
        self._net: StackedNet | None = None  # the net self._twin mirrors
        self._twin: StackedNet | None = None

    def twin(self, net: StackedNet) -> StackedNet:
        """``net``'s models-last twin (made once per net), with ``net``'s current state."""
        if self._net is not net or self._twin is None:
            self._net, self._twin = net, net.models_last()
            self._kernel = False if self._kernel_refused else None  # fused steps are made per twin
        else:
            self._twin.load_from(net)
        return self._twin

    def run(
        self, net: StackedNet, x: Tensor, y: Tensor, order: Tensor, batch: int, evals: Sequence[EvalSet], train_sst: Tensor, classify: bool
    ) -> Tensor:
        """One epoch of ``net`` (models first, trained in place). → the epoch's stats (see
        :func:`~torchground.engine.epoch.epoch_stats`)."""
        shapes = step_shapes(order.shape[0], order.shape[1], batch)
        if self.failed is None:
            twin = self.twin(net)
            try:
                if self.use_fused or self._fn is None or order.shape[0] >= 16:
                    # One order on shared data (a sweep over anything but data and shuffle
                    # seeds): every model's batch is the same, gathered once and broadcast
                    # over the models — (B, F, 1) inputs — instead of M copies.
                    self.shared = x.shape[0] == 1 and order.stride(0) == 0
                    steps = step_shapes(1, order.shape[1], batch) if self.shared else shapes
                    gx, gy = gather_last(x, y, order[:1] if self.shared else order, batch)
                    preds = self._fused_epoch(twin, gx, gy, batch, shapes, steps)
                    if preds is None:
                        preds = self._steps(twin, gx, gy, steps)
                    stats = self._stats(twin, preds, gy, steps, evals, train_sst, classify)
                else:
                    stats = self._fn(twin, x, y, order, batch, evals, train_sst, classify)
            except Exception as exc:  # no C++ compiler, an unsupported op, …: train on, eagerly
                if self.ok:  # it compiled and ran before: a real error
                    raise
                # ``net`` itself is untouched (only a successful epoch is copied back).
                self.failed = f"{type(exc).__name__}: {exc}"
                warnings.warn(t("engine.compile_failed", error=self.failed), RuntimeWarning, stacklevel=2)
                self._net = self._twin = None
            else:
                self.ok = True
                net.load_from(twin)
                net.opt.advance(len(shapes))
                return stats
        return train_epoch(net, x, y, order, batch, evals, train_sst, classify, True)[2]

    def _fused_epoch(
        self, twin: StackedNet, gx: Tensor, gy: Tensor, batch: int, shapes: list[tuple[int, int]], steps: list[tuple[int, int]]
    ) -> list[Tensor] | None:
        """The epoch's steps by the fused kernel → each step's outputs (B, 1, M); None where it
        does not apply (then Inductor's steps run).

        The first fused epoch is checked: its parameters and outputs against the engine's
        eager steps from the same state. On a disagreement (or an error) the group goes on
        with Inductor, after a warning; the checked epoch keeps the eager result.
        """
        if not self.use_fused or self._kernel is False:
            return None
        if self._kernel is None:
            try:
                from torchground.engine.fused import FusedSteps  # imports Triton
            except ImportError:
                self._kernel = False
                return None
            self._kernel = FusedSteps(twin) if FusedSteps.covers(twin) else False
            if self._kernel is False:
                return None
        if self._kernel_checked:
            self.fused_epochs += 1
            pred = self._kernel.epoch(gx, gy, batch, self.shared)
            return [p.clone() for p in split_steps_last(None, pred, shapes)[1]]  # apart: Inductor's metrics take unaliased inputs
        snap = twin.snapshot()
        try:
            pred = self._kernel.epoch(gx, gy, batch, self.shared)
            got, problem = twin.params.clone(), None
        except Exception as exc:  # a Triton that cannot compile the kernel, …
            got, problem = None, f"{type(exc).__name__}: {exc}"
        twin.restore(snap)
        preds = steps_last(twin, gx, gy, steps)  # the reference, eagerly (the twin keeps this result)
        if got is not None:
            mine = split_steps_last(None, pred, shapes)[1]
            close = all(torch.allclose(a, b, rtol=1e-3, atol=1e-4, equal_nan=True) for a, b in zip(mine, preds))
            if not (close and torch.allclose(got, twin.params, rtol=1e-3, atol=1e-4, equal_nan=True)):
                problem = t("engine.fused_differs")
        if problem is not None:
            self._kernel, self._kernel_refused = False, True
            warnings.warn(t("engine.fused_refused", reason=problem), RuntimeWarning, stacklevel=3)
        else:
            self._kernel_checked = True
        return preds
