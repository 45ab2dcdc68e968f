"""An epoch of training steps compiled — into one fused kernel of our own where it covers
the group, else (opt-in) by ``torch.compile`` into fused C++ loops (CPU) or Triton kernels
(CUDA), or trained on by the eager engine; :class:`CompiledEpoch` chooses, and :class:`Path`
is its one state. The front ends use the fused kernel with the eager fallback by default
(``fallback="eager"``: ``torch.compile``'s long first compilation stays opt-in).

For small models the eager step is bound by per-operator overhead and, for many models,
by batched matrix products of tiny matrices. Compiled code runs on the net's
*models-last* twin (:meth:`~torchground.engine.net.StackedNet.models_last`): parameters
(P, M), so that every operation is element-wise across the models and vectorises over them.

**Our fused kernels** (:mod:`~torchground.engine.kernels.fused_steps`; scope: float32, identity,
tanh, sigmoid or relu, MSE or half MSE, SGD, Adam or AdamW, L1 and L2, widths up to 8) take
a block of models through the whole epoch in one call, every step fused, and measure the
epoch: in C on the CPU (:mod:`~torchground.engine.kernels.native`) and in Triton on CUDA
(:mod:`~torchground.engine.kernels.triton_steps`); their element-wise rules are
:mod:`~torchground.engine.kernels.rules`'. The first fused epoch of a group is checked
(:attr:`Path.CHECK`): up to :data:`CHECKED_MODELS` models spread over the group also step
eagerly, and the kernel's parameters, outputs and metrics must agree with theirs;
otherwise (or without a C compiler, or if a build fails) the group goes on with Inductor
(:attr:`Path.INDUCTOR`), or with the eager engine (:attr:`Path.EAGER`) when that is the
fallback, after a warning.

**Inductor** (``torch.compile``) traces one epoch — the same
:meth:`~torchground.engine.net.StackedNet.train_step` code, unrolled, then the epoch's
metrics — with matrix products written as broadcast products and sums, so it fuses each
layer with its activation and the update. For 16 models or more the batches are gathered
eagerly (one ``index_select`` each, see :func:`~torchground.engine.epoch.gather`):
inside the compiled code an indexed load in every inner loop defeats the vectorisation
over models; and the steps and the metrics are compiled as two calls. For fewer models
there is nothing to vectorise and the whole epoch, gather included, is one compiled call,
with Inductor's memory planning. When every model has the same batch order on the same
data, each batch is gathered once and broadcast over the models. The twin's state is
copied in before and out after each epoch (for M = 1 the two layouts share memory and
nothing is copied). On CUDA the same two calls compile to Triton kernels with Inductor's
defaults and replace the CUDA graph of :mod:`~torchground.engine.kernels.cuda_graph`.
Measured figures behind these choices: ``bench/RESULTS.md``.

Each shape (models, steps per epoch, widths) compiles as its own static graph
(``dynamic=False``): with automatic dynamic shapes, the third or fourth shape compiled in
one process failed (RecursionError in Inductor) and ran eagerly. After Dynamo's limit of
recompilations per function (8 by default) further shapes run eagerly, still correct.

The price is compilation, once per group configuration (cached on disk for later runs),
and a C/C++ compiler on the machine; without one the engine trains on eagerly, with a
warning (:attr:`Path.EAGER`). Results agree with the eager engine to float rounding (sums
in another order). Compiled epochs start with the first, except for SGD with momentum,
whose first step differs (one eager epoch first:
:attr:`~torchground.engine.optim.StackedOptimizer.steady`); the step counter is advanced
outside.
"""

from __future__ import annotations

import enum
import functools
import warnings
from typing import Any, Sequence

import torch

from torchground.engine.epoch import (
    EvalSet,
    epoch_steps,
    gather,
    split_steps,
    step_shapes,
    steps_stats,
    train_epoch,
)
from torchground.engine.kernels.build_cache import reason
from torchground.engine.kernels.fused_steps import Metrics
from torchground.engine.net import StackedNet
from torchground.engine.optim import StackedOptimizer
from torchground.i18n import t

__all__ = ["CompiledEpoch", "Path"]

Tensor = torch.Tensor

#: Models whose first fused epoch is also run eagerly, as a check of the kernel.
CHECKED_MODELS = 8
#: A checked model whose eager steps grow its largest weight more than this many times in
#: the epoch is diverging: rounding differences grow without bound, so it is not compared.
EXPLODING = 1000.0
#: A chaotic model (a high learning rate) amplifies rounding differences: its eager steps are
#: also run from starts moved by this relative amount, to measure how far rounding can go.
NUDGE = 1e-4
#: How many such moved starts (each in its own random direction); the farthest counts.
NUDGES = 3
#: A chaotic or ill-conditioned model's kernel may end this many times as far from its eager
#: steps as a moved start does, or as far from the float64 steps as the float32 eager steps.
CHAOS_MARGIN = 10.0
#: The first steps of a chaotic model, before rounding is amplified, must agree as a stable one's.
EARLY_STEPS = 2


def _epoch_table(
    twin: StackedNet, x: Tensor, y: Tensor, order: Tensor, batch: int, evals: Sequence[EvalSet], train_sst: Tensor, classify: bool
) -> Tensor:
    """A models-last twin's whole epoch, uncounted (:func:`~torchground.engine.epoch.train_epoch`) → its stats."""
    return train_epoch(twin, x, y, order, batch, evals, train_sst, classify, False)[2]


@functools.cache
def _compiled(device_type: str, name: str) -> Any:
    """``torch.compile`` of one of the epoch's functions, with its options for ``device_type``."""
    fn = {"epoch": _epoch_table, "steps": epoch_steps, "stats": steps_stats}[name]
    if device_type == "cuda":
        # Triton kernels with Inductor's defaults (the tuning below is for its C++). Always two
        # calls: a GPU has thousands of models to spread over, not a dozen ops to save.
        return torch.compile(fn, dynamic=False)
    # Few models: one call, buffers planned in one arena. Many models: two calls, buffers
    # allocated one by one, and the steps store every value read twice or more instead of
    # recomputing it in each reader (realize_reads_threshold=1; the metrics and one model
    # keep the default). Why, in figures: bench/RESULTS.md.
    options = {"epoch": {"memory_planning": True}, "steps": {"realize_reads_threshold": 1}}.get(name, {})
    return torch.compile(fn, dynamic=False, options={"cpp_wrapper": True, **options})


class Path(enum.Enum):
    """Which code trains a compiled group's next epoch (:attr:`CompiledEpoch.path`).

    ``CHOOSE`` → ``CHECK`` (our fused kernel covers the group) → ``FUSED`` once its first
    epoch agreed with the eager steps; ``CHOOSE`` → ``INDUCTOR`` where no fused kernel
    covers the group, and ``CHECK`` → ``INDUCTOR`` where it disagreed or failed (never
    tried again in this group); ``EAGER`` instead of ``INDUCTOR`` with ``fallback="eager"``.
    Any path → ``EAGER`` when compiling fails before a first compiled epoch ran
    (:attr:`CompiledEpoch.failed` says why).
    """

    CHOOSE = "choose"
    CHECK = "check"
    FUSED = "fused"
    INDUCTOR = "inductor"
    EAGER = "eager"


class CompiledEpoch:
    """``run(...)``: one epoch of a group on the path :attr:`path` says (see :class:`Path`).

    Args:
        device_type: "cpu" or "cuda".
        fused: our fused kernel where it covers the group: "triton" (the default on CUDA),
            "native" (C, the default on the CPU), False for Inductor's alone. "triton" on
            the CPU runs through Triton's interpreter (tests only: TRITON_INTERPRET=1).
        fallback: where the fused kernel does not cover the group, cannot be built or
            disagrees: "inductor" (``torch.compile``, the default) or "eager" (the eager
            engine: no compilation at all).
    """

    def __init__(self, device_type: str = "cpu", fused: str | bool | None = None, fallback: str = "inductor") -> None:
        if fused is None or fused is True:
            fused = "triton" if device_type == "cuda" else "native"
        assert fused in ("triton", "native", False), fused
        assert fallback in ("inductor", "eager"), fallback
        self.fused = fused
        self.device_type = device_type
        self.fallback = Path.INDUCTOR if fallback == "inductor" else Path.EAGER
        self.path = Path.CHOOSE if fused else self.fallback
        self.failed: str | None = None  # why the path is EAGER
        self.epochs = 0  # compiled epochs run (fused or Inductor's)
        self.fused_epochs = 0  # of which by our fused kernel
        self.shared = False  # whether the last epoch's batches were gathered once for all models
        self._kernel: Any = None  # the FusedSteps of the current twin (CHECK, FUSED), made on first use
        self._net: StackedNet | None = None  # the net self._twin mirrors
        self._twin: StackedNet | None = None
        self._synced: tuple[int, ...] | None = None  # the net's tensor versions when the twin was copied into it

    @property
    def ok(self) -> bool:
        """Whether a compiled epoch has run (after that, an error is a real one, not a fallback)."""
        return self.epochs > 0

    # The compiled functions, shared by every CompiledEpoch of the process (made on first use:
    # each torch.compile wrapper has a cost of its own, noticeable in a short one-model run).
    @property
    def _fn(self) -> Any:
        """The whole epoch in one call (CPU only: few models without a fused kernel)."""
        return None if self.device_type == "cuda" else _compiled(self.device_type, "epoch")

    @property
    def _steps(self) -> Any:
        return _compiled(self.device_type, "steps")

    @property
    def _stats(self) -> Any:
        return _compiled(self.device_type, "stats")

    def twin(self, net: StackedNet) -> StackedNet:
        """``net``'s models-last twin (made once per net), with ``net``'s current state."""
        if self._net is not net or self._twin is None:
            self._net, self._twin = net, net.models_last()
            self._kernel = None  # fused steps are made per twin
        elif self._synced != _versions(net):  # changed since the last epoch was copied out: copy it in
            self._twin.load_from(net)
        return self._twin

    def run(
        self, net: StackedNet, x: Tensor, y: Tensor, order: Tensor, batch: int, evals: Sequence[EvalSet], train_sst: Tensor, classify: bool
    ) -> Tensor:
        """One epoch of ``net`` (models first, trained in place). → the epoch's stats (see
        :func:`~torchground.engine.epoch.epoch_stats`)."""
        shapes = step_shapes(order.shape[0], order.shape[1], batch)
        if self.path is not Path.EAGER:
            twin = self.twin(net)
            try:
                kernel = self._fused_kernel(twin)
                if self.path is Path.EAGER:  # out of the fused kernel's scope, with the eager fallback
                    return train_epoch(net, x, y, order, batch, evals, train_sst, classify, True)[2]
                # One order on shared data (a sweep over anything but data and shuffle seeds):
                # every model's batch is the same, gathered once and broadcast over the models —
                # (B, F, 1) inputs — instead of M copies.
                self.shared = x.shape[0] == 1 and (order.stride(0) == 0 or order.shape[0] == 1)
                steps = step_shapes(1, order.shape[1], batch) if self.shared else shapes
                if kernel is not None:
                    data = (x, y, order) if kernel.gathers else self._gather(x, y, order, batch)
                    fused = self._fused_epoch(kernel, twin, data, x, y, order, batch, shapes, steps, (evals, train_sst, classify))
                    if isinstance(fused, tuple):  # the kernel's outputs (1, N·M) and its table of the epoch
                        stats = fused[1]
                    else:  # refused: the eager steps' outputs (measured eagerly with the eager fallback)
                        measure = steps_stats if self.path is Path.EAGER else self._stats
                        stats = measure(twin, fused, self._gather(x, y, order, batch)[1], steps, evals, train_sst, classify)
                elif self._fn is None or order.shape[0] >= 16:
                    gx, gy = self._gather(x, y, order, batch)
                    preds = self._steps(twin, gx, gy, steps)
                    stats = self._stats(twin, preds, gy, steps, evals, train_sst, classify)
                else:
                    stats = self._fn(twin, x, y, order, batch, evals, train_sst, classify)
            except Exception as exc:  # no C++ compiler, an unsupported op, …: train on, eagerly
                if self.ok:  # it compiled and ran before: a real error
                    raise
                # ``net`` itself is untouched (only a successful epoch is copied back).
                self.path, self.failed = Path.EAGER, reason(exc)
                key = "engine.compile_failed" if self.fallback is Path.INDUCTOR else "fastpath.failed"
                warnings.warn(t(key, error=self.failed), RuntimeWarning, stacklevel=2)
                self._net = self._twin = self._kernel = None
            else:
                self.epochs += 1
                net.load_from(twin)
                net.opt.advance(len(shapes))
                self._synced = _versions(net)  # the twin holds this state: nothing to copy in next epoch
                return stats
        return train_epoch(net, x, y, order, batch, evals, train_sst, classify, True)[2]

    def _gather(self, x: Tensor, y: Tensor, order: Tensor, batch: int) -> tuple[Tensor, Tensor]:
        """The epoch's batches, models last (:func:`gather`): once for all where :attr:`shared`."""
        return gather(x, y, order[:1] if self.shared else order, batch, last=True)

    def _fused_kernel(self, twin: StackedNet) -> Any:
        """The fused steps of ``twin`` (made on first use) on the paths CHECK and FUSED, else
        None; on CHOOSE, the choice: CHECK where a fused kernel covers the group, else INDUCTOR."""
        if self.path is Path.CHOOSE:
            self.path = self.fallback
            try:  # imports Triton for "triton"
                from torchground.engine.kernels.fused_steps import FusedSteps

                if FusedSteps.covers(twin):
                    self._kernel, self.path = self._make_kernel(twin), Path.CHECK
            except ImportError:
                pass
        elif self._kernel is None and self.path in (Path.CHECK, Path.FUSED):
            self._kernel = self._make_kernel(twin)
        return self._kernel if self.path in (Path.CHECK, Path.FUSED) else None

    def _make_kernel(self, twin: StackedNet) -> Any:
        if self.fused == "triton":
            from torchground.engine.kernels.triton_steps import TritonSteps

            return TritonSteps(twin)
        from torchground.engine.kernels.native import NativeSteps

        return NativeSteps(twin)

    def _fused_epoch(
        self, kernel: Any, twin: StackedNet, data: tuple[Tensor, ...], x: Tensor, y: Tensor, order: Tensor, batch: int,
        shapes: list[tuple[int, int]], steps: list[tuple[int, int]], metrics: Metrics,
    ) -> tuple[Tensor, Tensor] | list[Tensor]:
        """The epoch's steps by the fused kernel (on ``data``, see
        :meth:`~torchground.engine.kernels.fused_steps.FusedSteps.epoch`) → its outputs (1, N·M) in
        :func:`gather`'s models-last column order and its table of the epoch; or, where the kernel
        was refused this epoch, the eager steps' outputs, (B, 1, M) each.

        The first fused epoch is checked: a few models spread over the group (the last one
        included) also take the epoch's steps eagerly, from the same state, and their
        parameters, outputs and metrics must agree with the kernel's (models that diverge
        in that epoch are left out of the comparison; if all do, the next epoch is checked).
        On a disagreement (or an error: no compiler, a build that fails) the group goes on
        with Inductor, after a warning, and this epoch's steps are redone eagerly.
        """
        M, N = order.shape
        if self.path is Path.FUSED:
            self.fused_epochs += 1
            return kernel.epoch(data, N, batch, self.shared, metrics)
        assert self._net is not None  # the models-first net, still in the epoch's starting state
        gx, gy = self._gather(x, y, order, batch)
        idx = torch.linspace(0, M - 1, min(M, CHECKED_MODELS), device=gx.device).round().long().unique()
        ref = self._net.select(idx).models_last()
        pick = lambda t: t.view(t.shape[0], N, M).index_select(2, idx).reshape(t.shape[0], -1)  # noqa: E731
        ref_steps = steps if self.shared else step_shapes(len(idx), N, batch)
        snap = twin.snapshot()
        try:
            (pred, stats), problem = kernel.epoch(data, N, batch, self.shared, metrics), None
        except Exception as exc:  # a compiler that cannot build the kernel, …
            pred, stats, problem = None, None, reason(exc)
        if pred is not None:
            ref_gy = gy if self.shared else pick(gy)
            scale = ref.params.abs().amax(dim=0).clamp_min(1.0)  # each model's largest weight before the epoch (at least 1)
            ref_gx = gx if self.shared else pick(gx)
            expected = epoch_steps(ref, ref_gx, ref_gy, ref_steps)
            mine = split_steps(None, pick(pred), step_shapes(len(idx), N, batch), last=True)[1]
            # A model that diverges amplifies rounding without bound: only the others are compared.
            # Diverging: a non-finite output or weight, or weights the eager steps themselves grew
            # more than EXPLODING-fold in the epoch (a learning rate far too high).
            fine = torch.stack([e.isfinite().all(dim=0).all(dim=0) for e in expected]).all(dim=0) & ref.params.isfinite().all(dim=0)
            fine &= ref.params.abs().amax(dim=0) <= EXPLODING * scale
            if not fine.any():  # nothing to compare this epoch: the next one is checked
                self.fused_epochs += 1
                return pred, stats
            mine_params = twin.params.index_select(1, idx)
            gap = _gap(mine, expected, mine_params, ref.params)  # per model: 1 = the tolerance
            exact = fine & (gap <= 1)
            chaotic = torch.zeros_like(fine)
            if (fine & ~exact).any():  # chaotic models amplify rounding: measure how much
                chaotic = self._chaotic(fine & ~exact, gap, mine, mine_params, expected, ref.params, (ref_gx, ref_gy, ref_steps), idx)
            close = bool((exact | chaotic)[fine].all())
            if close and exact.any():
                ref_stats = steps_stats(ref, expected, ref_gy, ref_steps, *_pick_metrics(metrics, idx))
                close = _same_stats(stats.index_select(0, idx)[exact], ref_stats[exact], len(shapes), metrics, N)
            if not close:
                problem = t("engine.fused_differs")
        if problem is None:
            self.path = Path.FUSED
            self.fused_epochs += 1
            return pred, stats
        self._kernel, self.path = None, self.fallback
        key = "engine.fused_refused" if self.fallback is Path.INDUCTOR else "fastpath.fused_refused"
        warnings.warn(t(key, reason=problem), RuntimeWarning, stacklevel=3)
        twin.restore(snap)
        return epoch_steps(twin, gx, gy, steps)  # the epoch again, eagerly

    def _chaotic(
        self, suspect: Tensor, gap: Tensor, mine: list[Tensor], mine_params: Tensor, expected: list[Tensor], params: Tensor,
        batches: tuple[Tensor, Tensor, list[tuple[int, int]]], idx: Tensor,
    ) -> Tensor:
        """Which ``suspect`` checked models (a mask over ``idx``; ``gap``: theirs) differ from
        their eager steps only as rounding can make them. Their first :data:`EARLY_STEPS` steps
        must agree, and either (chaos) the eager steps from a start moved by :data:`NUDGE`
        (far less than a kernel's mistake would move it), in one of :data:`NUDGES` directions,
        end at least a :data:`CHAOS_MARGIN`-th as far from them as the kernel (``mine``,
        ``mine_params``) does, or (ill-conditioning) the kernel ends within the tolerance of the
        same steps taken in float64, or no more than :data:`CHAOS_MARGIN` times as far from
        them as the float32 eager steps (``expected``, ending at ``params``)."""
        assert self._net is not None
        ok = suspect & (_gap(mine[:EARLY_STEPS], expected[:EARLY_STEPS]) <= 1)
        spread = torch.zeros_like(gap)
        for seed in range(NUDGES):
            nudged = self._net.select(idx).models_last()
            noise = torch.rand(nudged.params.shape, generator=torch.Generator().manual_seed(seed)).to(nudged.params.device)
            nudged.params.mul_(1 + NUDGE * (2 * noise - 1))
            spread = torch.maximum(spread, _gap(epoch_steps(nudged, *batches), expected, nudged.params, params).nan_to_num(0.0))
        chaotic = ok & (gap <= CHAOS_MARGIN * spread)
        if not (ok & ~chaotic).any():
            return chaotic
        gx, gy, shapes = batches
        exact = _in_double(self._net.select(idx)).models_last()
        truth = epoch_steps(exact, gx.double(), gy.double(), shapes)
        eager_off = _gap(expected, truth, params, exact.params).nan_to_num(0.0)
        kernel_off = _gap(mine, truth, mine_params, exact.params)
        return chaotic | ok & (kernel_off <= torch.clamp(CHAOS_MARGIN * eager_off, min=1.0))


def _versions(net: StackedNet) -> tuple[int, ...]:
    """The version counters of ``net``'s training state (torch bumps one on each in-place change)."""
    dead = () if net.dead is None else (net.dead._version,)
    return (net.params._version, *dead, *(v._version for v in net.opt.state.values()), net.opt.t._version)


def _in_double(net: StackedNet) -> StackedNet:
    """A float64 copy of ``net`` (models first): parameters, optimiser state and rates."""
    dbl = lambda t: None if t is None else t.double() if t.is_floating_point() else t.clone()  # noqa: E731
    o = net.opt
    opt = StackedOptimizer(o.kind, o.flags, {k: dbl(v) for k, v in o.hp.items()}, {k: dbl(v) for k, v in o.state.items()}, dbl(o.t), o.steps)
    return StackedNet(net.sizes, net.activation, net.output_activation, net.loss_name, dbl(net.params), opt, dbl(net.l1), dbl(net.l2), dbl(net.dead))


def _gap(mine: Sequence[Tensor], expected: Sequence[Tensor], *params: Tensor) -> Tensor:
    """Per model (the last dimension), the largest difference of ``mine`` from ``expected``
    (each step's outputs, then the parameters if given) in units of the check's tolerance
    (atol 1e-4 + rtol 1e-3): at most 1 where they agree; NaN where one is NaN."""
    pairs = [*zip(mine, expected), *([tuple(params)] if params else [])]
    gaps = [((a - b).abs() / (1e-4 + 1e-3 * b.abs())).flatten(0, -2).amax(dim=0) for a, b in pairs]
    worst = torch.stack(gaps).amax(dim=0)
    return worst.masked_fill(torch.stack(gaps).isnan().any(dim=0), float("nan"))


def _pick_metrics(metrics: Metrics, idx: Tensor) -> Metrics:
    """``metrics`` of the models ``idx`` only (per-model data selected; shared data kept)."""
    evals, train_sst, classify = metrics
    pick = lambda t: t if t.shape[0] == 1 else t.index_select(0, idx)  # noqa: E731
    return [(name, pick(x), pick(y), pick(sst)) for name, x, y, sst in evals], pick(train_sst), classify


def _same_stats(mine: Tensor, expected: Tensor, steps: int, metrics: Metrics, n: int) -> bool:
    """Whether two (M, S + K) epoch tables agree as the outputs must (rtol 1e-3, atol 1e-4),
    an accuracy to within one point (an output at 0 may fall on either side)."""
    evals, _, classify = metrics
    atol = torch.full((mine.shape[1],), 1e-4, dtype=torch.float64, device=mine.device)
    if classify:
        for i, size in enumerate([n, *(x.shape[1] for _, x, _, _ in evals)]):
            atol[steps + 2 * i + 1] = 1.01 / size
    return bool((((mine - expected).abs() <= atol + 1e-3 * expected.abs()) | (mine.isnan() & expected.isnan())).all())
