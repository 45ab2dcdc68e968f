"""CPU, opt-in: an epoch of training steps compiled by ``torch.compile`` into fused C++ loops.

For a few small models the eager step is bound by per-operator overhead (about 1–2 µs of
dispatch for each of ~25 tiny ops), not by arithmetic. ``torch.compile`` (TorchInductor)
traces one epoch's steps — the same :meth:`~torchground.engine.net.StackedNet.train_step`
code, unrolled — and generates C++ for them. With the net's ``fused`` flag set, the batched
matmuls are written as broadcast products and sums, which Inductor fuses with the
activations and the update instead of calling a GEMM per layer, so an epoch becomes a
handful of loops.

The price is compilation: tens of seconds for the curriculum's network (cached on disk by
Inductor for later runs), and a C++ compiler on the machine. Results agree with the eager
engine to float rounding (sums in another order). Compilation starts after the first
(eager) epoch, as SGD's first step differs; the step counter is advanced outside.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch

from torchground.engine.epoch import EvalSet, step_shapes, train_epoch
from torchground.engine.net import StackedNet

__all__ = ["CompiledEpoch"]

Tensor = torch.Tensor


class CompiledEpoch:
    """``run(...)``: :func:`~torchground.engine.epoch.train_epoch`, compiled on first use (eager if that fails)."""

    def __init__(self) -> None:
        self._fn: Any = torch.compile(train_epoch, dynamic=None, options={"cpp_wrapper": True})
        self.failed: str | None = None
        self.ok = False

    def run(
        self, net: StackedNet, x: Tensor, y: Tensor, order: Tensor, batch: int, evals: Sequence[EvalSet], train_sst: Tensor, classify: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        steps = len(step_shapes(order.shape[0], order.shape[1], batch))
        if self.failed is None:
            net.fused = True
            snap = net.snapshot() if not self.ok else None  # only until compilation has worked once
            try:
                out = self._fn(net, x, y, order, batch, evals, train_sst, classify, False)
            except Exception as exc:  # no C++ compiler, an unsupported op, …: train on, eagerly
                if snap is None:
                    raise
                self.failed = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"torch.compile failed, the engine runs eagerly: {self.failed}", RuntimeWarning, stacklevel=2)
                net.restore(snap)
            else:
                self.ok = True
                net.opt.advance(steps)
                return out
        net.fused = False
        return train_epoch(net, x, y, order, batch, evals, train_sst, classify, True)
