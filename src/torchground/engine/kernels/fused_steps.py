"""With ``compile=True``: an epoch's steps in one kernel of our own, every step fused.

Two kernels implement the same epoch: in Triton for CUDA
(:mod:`~torchground.engine.kernels.triton_steps`) and in C for the CPU
(:mod:`~torchground.engine.kernels.native`). Each takes a block of models through the whole
epoch — forward, loss gradient, backward and the optimiser update of every step — with
parameters and state read once and written once. This module holds what both share: the
scope and the per-model tables the kernels read. The formulas are the engine's
(:mod:`~torchground.engine.ops`, :mod:`~torchground.engine.optim`), op for op where the
order of float operations is not a sum's.

Scope (:meth:`FusedSteps.covers`; other groups compile with Inductor): float32; identity,
tanh, sigmoid and relu; MSE and half MSE; SGD (momentum, nesterov, dampening), Adam and
AdamW without amsgrad or maximize; weight decay, the L1 penalty (with the Playground's
dead-weight rule) and the L2 penalty; widths up to 8.

:class:`~torchground.engine.kernels.dispatch.CompiledEpoch` checks the first fused epoch of a group
against the engine's eager steps and falls back to Inductor, with a warning, if they
disagree or the kernel cannot be built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import torch

from torchground.engine.kernels.rule_text import TORCH as RULE
from torchground.engine.kernels.rules import ACTS
from torchground.engine.net import StackedNet

__all__ = ["FusedSteps", "Metrics", "ACTS", "OPTS", "HP_ROWS"]

Tensor = torch.Tensor
#: What an epoch's metrics need: the evaluation sets (name, x (D, N, F), y (D, N, 1), sst
#: (D,)), the training labels' sum of squares (D,), and whether the problem is classification.
Metrics = tuple[Sequence[tuple[str, Tensor, Tensor, Tensor]], Tensor, bool]

#: Optimisers: SGD (momentum and nesterov as flags), Adam and AdamW (no amsgrad, no maximize).
OPTS = {"sgd": 0, "adam": 1, "adamw": 1}
#: Rows of the per-model hyper-parameter table the kernels read (the rules' names:
#: :data:`~torchground.engine.kernels.rules.HYPER`).
HP_ROWS = ("neg_lr", "wd", "momentum", "one_minus_damp", "one_minus_beta1", "beta2", "one_minus_beta2", "eps", "decay", "l2", "l1")
#: The largest layer width the kernels take.
MAX_WIDTH = 8


class FusedSteps(ABC):
    """An epoch's steps of a models-last twin (:meth:`~torchground.engine.net.StackedNet.models_last`)
    in one kernel call; trains the twin's own tensors in place. Subclasses launch a kernel
    (:meth:`_launch`).

    Args:
        twin: the twin; :meth:`covers` must hold. SGD with momentum must have taken its
            first step (its buffer starts as a copy of the gradient), as for every compiled
            epoch (:attr:`~torchground.engine.optim.StackedOptimizer.steady`).
    """

    def __init__(self, twin: StackedNet) -> None:
        assert self.covers(twin)
        opt = twin.opt
        self.twin = twin
        self.kind, self.flags = opt.kind, opt.flags
        self.hid, self.out, self.half = ACTS[twin.activation], ACTS[twin.output_activation], twin.loss_name == "half_mse"
        self.momentum = self.kind == "sgd" and bool(self.flags[1])
        self.nesterov = self.momentum and bool(self.flags[2])
        self.decoupled = self.kind != "sgd" and bool(self.flags[3])
        M, device = twin.params.shape[1], twin.params.device
        st = opt.state
        spare = torch.zeros_like(twin.params) if len(st) < 2 else None  # state the kernels may touch but no optimiser keeps
        self.s1 = st["buf"] if "buf" in st else st.get("exp_avg", spare)
        self.s2 = st.get("exp_avg_sq", spare)
        rows = [opt.hp[k].reshape(-1) if k in opt.hp else torch.zeros(M, device=device) for k in HP_ROWS[:-2]]
        rows += [rate.reshape(-1) if rate is not None else torch.zeros(M, device=device) for rate in (twin.l2, twin.l1)]
        self.hp = torch.stack([r.to(torch.float32) for r in rows]).contiguous()  # (len(HP_ROWS), M)
        # The Playground's L1 rule: a weight of a model with l1 > 0 that crosses 0 is set to
        # 0 and stays dead; the kernels read and update the twin's (P, M) mask in place.
        self.l1 = twin.l1 is not None
        self.dead = twin.dead.view(torch.uint8) if self.l1 else None
        self._buffers: tuple[Tensor, Tensor] | None = None  # Adam's per-step scalars and the outputs, reused

    @staticmethod
    def covers(twin: StackedNet) -> bool:
        """Whether the kernels implement this twin's step (see the module docstring)."""
        opt = twin.opt
        kind, flags = opt.kind, opt.flags
        if not (twin.last and twin.params.dtype == torch.float32 and twin.activation in ACTS and twin.output_activation in ACTS):
            return False
        if twin.loss_name not in ("mse", "half_mse") or kind not in OPTS or max(twin.sizes) > MAX_WIDTH:
            return False
        return not flags[3] if kind == "sgd" else not (flags[1] or flags[2])  # maximize; amsgrad, maximize

    #: Whether the kernel reads the training data and the epoch's order and gathers each
    #: point itself (else it reads :func:`~torchground.engine.epoch.gather`'s models-last batches).
    gathers = False

    def epoch(
        self, data: tuple[Tensor, ...], n: int, batch: int, shared: bool, metrics: Metrics | None = None
    ) -> tuple[Tensor, Tensor]:
        """One epoch of ``n`` points per model. ``data``: where the kernel :attr:`gathers`, the
        training data x (D, N, F), y (D, N, 1) and the epoch's order (M, N); else
        :func:`~torchground.engine.epoch.gather`'s models-last batches (F, ·), (1, ·). ``shared``:
        one order on shared data (the batches gathered once for all models).

        Returns:
            Each point's output before its step, (1, N·M) in the per-model column order
            (:func:`~torchground.engine.epoch.split_steps` splits it), and the epoch's
            table (M, S + K) float64 as :func:`~torchground.engine.epoch.epoch_stats` gives
            it for ``metrics`` (evaluation sets, training labels' sum of squares,
            classification; None: measured as a regression without evaluation sets, R² NaN).
        """
        twin = self.twin
        M, device = twin.params.shape[1], twin.params.device
        S = -(-n // batch)
        if self._buffers is None or self._buffers[0].shape != (S, 2, M) or self._buffers[1].shape != (1, n * M):
            # Made once per shape, not every epoch: SGD's scalars stay zero, Adam's are all written below,
            # and the outputs are read before the next epoch overwrites them.
            self._buffers = (torch.zeros(S, 2, M, device=device), torch.empty(1, n * M, device=device))
        sk, pred = self._buffers
        if self.kind != "sgd":  # Adam's per-step scalars, computed as the engine computes them (float64, then cast)
            hp, t = twin.opt.hp, twin.opt.t
            ts = t + torch.arange(1, S + 1, dtype=torch.float64, device=device).unsqueeze(1)  # (S, 1)
            step_size, bc2_sqrt = RULE.adam_bias(hp["lr64"], hp["beta1_64"], hp["beta2_64"], ts)  # (S, M) float64
            sk[:, 0], sk[:, 1] = step_size.to(torch.float32), bc2_sqrt.to(torch.float32)
            t.add_(S)
        stats = self._launch(data, pred, sk, n, batch, shared, metrics)
        return pred, stats

    @abstractmethod
    def _launch(
        self, data: tuple[Tensor, ...], pred: Tensor, sk: Tensor, n: int, batch: int, shared: bool, metrics: Metrics | None
    ) -> Tensor:
        """Run the kernel on ``data`` (see :meth:`epoch`); fill ``pred`` (1, N·M); ``sk``
        (S, 2, M) Adam's step size and √(bias correction 2) of each step. → the epoch's table."""
