"""CUDA, with ``compile=True``: an epoch's steps and training metrics in one Triton kernel,
every step fused, and each evaluation set's metrics in one more
(:mod:`~torchground.engine.kernels.fused_steps` has the scope and the tables they read).

Two layouts of the same arithmetic. Nets of up to
:data:`~torchground.engine.kernels.triton_unrolled.MAX_PARAMS` parameters (every two-input
Playground net of at most two hidden layers) get the *unrolled* kernels of
:mod:`~torchground.engine.kernels.triton_unrolled`, a thread per model, which call the
helpers of :mod:`~torchground.engine.kernels.triton_rules`. Bigger nets get the *tiled* kernels
of :mod:`~torchground.engine.kernels.triton_tiled`.

Why our own kernels: the steps that TorchInductor generates from the models-last step
(:mod:`~torchground.engine.kernels.dispatch`) are memory-bound, inside a CUDA graph too,
since each layer's activations and each product's partial sums go through memory. Ours
take a block of models through the whole epoch, every step fused, with parameters and
state read once and written once; the epoch's table (step losses, then the metrics) is
written by the kernels too. Figures: ``bench/RESULTS.md``.

Tested on CPU through Triton's interpreter (``TRITON_INTERPRET=1``) and on a GPU
(``bench/fused_triton.py --check``, ``bench/gpu.sh``).
"""

from __future__ import annotations

import torch
import triton

from torchground.engine.kernels import triton_tiled as tiled
from torchground.engine.kernels.fused_steps import OPTS, FusedSteps, Metrics
from torchground.engine.net import StackedNet, param_count

__all__ = ["TritonSteps"]

Tensor = torch.Tensor


class TritonSteps(FusedSteps):
    """:class:`~torchground.engine.kernels.fused_steps.FusedSteps` by an epoch kernel, with the training
    metrics, and an evaluation kernel for each evaluation set: the epoch's table.

    The kernels are the unrolled ones (:mod:`~torchground.engine.kernels.triton_unrolled`,
    a thread per model) for nets of at most
    :data:`~torchground.engine.kernels.triton_unrolled.MAX_PARAMS` parameters, else the tiled
    :func:`~torchground.engine.kernels.triton_tiled.epoch_kernel` and
    :func:`~torchground.engine.kernels.triton_tiled.eval_kernel`.

    Args:
        twin: the models-last twin (see the base class).
        block, warps: models per program, warps per program (None: the kernels' defaults,
            chosen with ``bench/fused_triton.py --sweep``).
        unrolled: force the unrolled (True) or tiled (False) kernels.
    """

    #: (block, warps) by default: the unrolled kernels, the tiled ones.
    DEFAULTS = {True: (128, 4), False: (32, 2)}

    def __init__(self, twin: StackedNet, block: int | None = None, warps: int | None = None, unrolled: bool | None = None) -> None:
        super().__init__(twin)
        from torchground.engine.kernels.triton_unrolled import MAX_PARAMS

        self.unrolled = param_count(tuple(twin.sizes)) <= MAX_PARAMS if unrolled is None else unrolled
        default_block, default_warps = self.DEFAULTS[self.unrolled]
        self.block, self.warps = block or default_block, warps or default_warps
        self.meta = tiled.layer_table(twin)
        # The unrolled kernels' rows: 1.0 for a weight, 0.0 for a bias (the penalties and L1's rule are for weights).
        rows = [[1.0] * (i * o) + [0.0] * o for i, o in zip(twin.sizes[:-1], twin.sizes[1:])]
        self.weight_rows = torch.tensor([v for r in rows for v in r], dtype=torch.float32, device=twin.params.device)
        self._blocks: tuple[Tensor, Tensor] | None = None

    def _blocked(self, M: int) -> tuple[Tensor, Tensor]:
        """The unrolled kernel's parameters and gradients, (⌈M / BLOCK⌉, P, BLOCK) each: a
        block's parameter j is BLOCK floats at a constant offset, so each of the kernel's
        named loads takes one address register for all (with (P, M) rows, j·M + m, the
        compiler held an address per parameter and ran out of registers)."""
        shape = (triton.cdiv(M, self.block), self.twin.params.shape[0], self.block)
        if self._blocks is None or self._blocks[0].shape != shape:
            self._blocks = tuple(torch.zeros(shape, device=self.twin.params.device) for _ in range(2))  # type: ignore[assignment]
        assert self._blocks is not None
        return self._blocks

    def _to_blocks(self, rows: Tensor, blocks: Tensor) -> None:
        """(P, M) → (⌈M / BLOCK⌉, P, BLOCK), the last block's missing models left as they were."""
        P, M = rows.shape
        full = M // self.block
        view = blocks.transpose(0, 1)  # (P, blocks, BLOCK)
        view[:, :full].copy_(rows[:, : full * self.block].view(P, full, self.block))
        if full * self.block < M:
            view[:, full, : M - full * self.block].copy_(rows[:, full * self.block :])

    def _from_blocks(self, blocks: Tensor, rows: Tensor) -> None:
        """The inverse of :meth:`_to_blocks`."""
        P, M = rows.shape
        full = M // self.block
        view = blocks.transpose(0, 1)
        rows[:, : full * self.block].view(P, full, self.block).copy_(view[:, :full])
        if full * self.block < M:
            rows[:, full * self.block :].copy_(view[:, full, : M - full * self.block])

    def _launch(
        self, data: tuple[Tensor, ...], pred: Tensor, sk: Tensor, n: int, batch: int, shared: bool, metrics: Metrics | None
    ) -> Tensor:
        gx, gy = (t.contiguous() for t in data)
        twin = self.twin
        M, sizes, device = twin.params.shape[1], twin.sizes, twin.params.device
        L, W = len(sizes) - 1, triton.next_power_of_2(max(sizes))
        evals, train_sst, classify = metrics if metrics is not None else ((), torch.zeros(1, dtype=torch.float64, device=device), False)
        S = -(-n // batch)
        T = S + (1 + len(evals)) * (2 if classify else 3)
        stats = torch.empty(M, T, dtype=torch.float64, device=device)
        train_sst = train_sst.to(torch.float64).contiguous()
        xj, xm = (1, 0) if shared else (M, 1)
        grid = (triton.cdiv(M, self.block),)
        dead = self.dead if self.dead is not None else self.hp
        flags = dict(BLOCK=self.block, HID=self.hid, OUT=self.out, HALF=self.half, num_warps=self.warps)
        steps = dict(N=n, B=batch, OPT=OPTS[self.kind], MOMENTUM=self.momentum, NESTEROV=self.nesterov, DECOUPLED=self.decoupled,
                     L2=twin.l2 is not None, L1=self.l1, T=T, CLASSIFY=classify, SST_PER_MODEL=int(train_sst.shape[0] > 1))
        if self.unrolled:
            from torchground.engine.kernels.triton_unrolled import kernels

            generated = kernels(tuple(sizes))
            pb, gb = self._blocked(M)
            self._to_blocks(twin.params, pb)
            generated.epoch_kernel[grid](
                pb, gb, self.weight_rows, self.s1, self.s2, dead, gx, gy, pred, self.hp, sk, stats, train_sst, M, gx.shape[1], xj, xm,
                **steps, **flags,
            )
            self._from_blocks(pb, twin.params)
        else:
            bmax = triton.next_power_of_2(batch)
            act = torch.empty(L + 1, bmax, W, M, device=device)
            sig = torch.empty(2, bmax, W, M, device=device)
            tiled.epoch_kernel[grid](
                twin.params, self.s1, self.s2, dead, gx, gy, pred, act, sig, self.meta, self.hp, sk, stats, train_sst, M, gx.shape[1],
                xj, xm, F=sizes[0], L=L, W=W, BMAX=bmax, **steps, **flags,
            )
        for i, (_, x, y, sst) in enumerate(evals):
            col = S + (1 + i) * (2 if classify else 3)
            args = (twin.params, x.contiguous(), y.contiguous(), sst.to(torch.float32).contiguous(), stats)
            per_model = int(x.shape[0] > 1)
            if self.unrolled:
                generated.eval_kernel[grid](*args, M, T, col, NV=x.shape[1], CLASSIFY=classify, PER_MODEL=per_model, **flags)
            else:
                tiled.eval_kernel[grid](*args, self.meta, M, T, col, NV=x.shape[1], F=sizes[0], L=L, W=W, CLASSIFY=classify,
                                   PER_MODEL=per_model, **flags)
        return stats
