"""The tiled fused Triton kernels: an epoch of steps and training metrics for a block of
models per program, and an evaluation set's metrics (see
:mod:`~torchground.engine.kernels.triton_steps` for when they run).

One program owns ``BLOCK`` models for the whole epoch: it reads their batches and
parameters, runs forward, loss gradient, backward and the optimiser update of every step,
and writes parameters and state back; only per-point activations and backward signals pass
through a scratch buffer the program alone touches. Widths are padded to a power of two, at
most 8 × 8 weights per layer held at once (W, W, BLOCK tiles): any net of the fused scope,
slower than the unrolled kernels where those apply.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from torchground.engine.kernels.triton_rules import act, act_back, batch_loss, hit, l1_dead, loss_grad, penalize, update
from torchground.engine.net import StackedNet

__all__ = ["epoch_kernel", "eval_kernel", "layer_table"]

Tensor = torch.Tensor


@triton.jit
def layer(p_ptr, meta_ptr, l, r, m, mm, M):
    """Layer ``l`` of the block's models: its weights (W, W, BLOCK) and biases (W, BLOCK),
    padded with 0, their offsets in ``p`` (P, M) and masks, and its output width."""
    i_n = tl.load(meta_ptr + 3 * l)
    o_n = tl.load(meta_ptr + 3 * l + 1)
    off = tl.load(meta_ptr + 3 * l + 2)
    wmask = (r[:, None, None] < o_n) & (r[None, :, None] < i_n) & mm[None, None, :]
    w_off = (off + r[:, None, None] * i_n + r[None, :, None]) * M + m[None, None, :]
    bmask = (r[:, None] < o_n) & mm[None, :]
    b_off = (off + o_n * i_n + r[:, None]) * M + m[None, :]
    w = tl.load(p_ptr + w_off, mask=wmask, other=0.0)
    b = tl.load(p_ptr + b_off, mask=bmask, other=0.0)
    return w, b, w_off, b_off, wmask, bmask, o_n


@triton.jit
def epoch_kernel(
    p_ptr, s1_ptr, s2_ptr, dead_ptr, gx_ptr, gy_ptr, pred_ptr, act_ptr, sig_ptr, meta_ptr, hp_ptr, sk_ptr, stats_ptr, sst_ptr,
    M, XROW, XJ, XM, N: tl.constexpr, B: tl.constexpr,
    F: tl.constexpr, L: tl.constexpr, W: tl.constexpr, BMAX: tl.constexpr, BLOCK: tl.constexpr,
    HID: tl.constexpr, OUT: tl.constexpr, HALF: tl.constexpr, OPT: tl.constexpr, MOMENTUM: tl.constexpr,
    NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr, L2: tl.constexpr, L1: tl.constexpr, T: tl.constexpr,
    CLASSIFY: tl.constexpr, SST_PER_MODEL: tl.constexpr,
):
    """One epoch of steps for models [pid·BLOCK, (pid+1)·BLOCK).

    p (P, M) parameters and s1, s2 (P, M) optimiser state (momentum buffer; Adam's moments),
    updated in place; dead (P, M) uint8 L1's dead weights (``L1``), updated in place; gx (F, ·), gy (·) the epoch's points in order: model m's j-th point
    in column j·XJ + m·XM of rows XROW apart ((M, 1): a batch per model, (1, 0): one for
    all); pred (N·M,) each point's output before its step, column j·M + m; act
    (L + 1, BMAX, W, M) and sig (2, BMAX, W, M) scratch; meta (L, 3) int32 per layer (in,
    out, weight offset; the bias follows the weight); hp (len(HP_ROWS), M) per-model
    hyper-parameters; sk (S, 2, M) Adam's step size and √(bias correction 2) per step.
    stats (M, T) float64: each step's loss (the batch mean, in float), then the training
    loss, and accuracy or RMSE and R² (with sst (1 or M,) float64, the training labels' sum
    of squares), as :func:`~torchground.engine.epoch.epoch_stats` has them.
    """
    m = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mm = m < M
    r = tl.arange(0, W)
    neg_lr = tl.load(hp_ptr + 0 * M + m, mask=mm, other=0.0)
    wd = tl.load(hp_ptr + 1 * M + m, mask=mm, other=0.0)
    mom = tl.load(hp_ptr + 2 * M + m, mask=mm, other=0.0)
    omd = tl.load(hp_ptr + 3 * M + m, mask=mm, other=0.0)
    omb1 = tl.load(hp_ptr + 4 * M + m, mask=mm, other=0.0)
    b2 = tl.load(hp_ptr + 5 * M + m, mask=mm, other=0.0)
    omb2 = tl.load(hp_ptr + 6 * M + m, mask=mm, other=0.0)
    eps = tl.load(hp_ptr + 7 * M + m, mask=mm, other=1.0)
    decay = tl.load(hp_ptr + 8 * M + m, mask=mm, other=0.0)
    l2 = tl.load(hp_ptr + 9 * M + m, mask=mm, other=0.0)
    l1 = tl.load(hp_ptr + 10 * M + m, mask=mm, other=0.0)
    zero = tl.zeros((BLOCK,), tl.int32)
    plane = BMAX * W * M  # one layer of the scratch buffers
    tile = r[:, None] * M + m[None, :]  # (W, BLOCK) offsets of one point's units
    row = stats_ptr + m.to(tl.int64) * T  # each model's row of the epoch's table
    tr_sse = tl.zeros((BLOCK,), tl.float32)  # Σ (out − y)² over the epoch, in float as the trainer sums
    tr_hits = tl.zeros((BLOCK,), tl.float32)  # points classed right
    tr_loss = tl.zeros((BLOCK,), tl.float64)  # Σ step loss × step size
    for start in range(0, N, B):
        # Every loop runs to the compile-time B; the last, shorter batch masks its missing
        # points (Triton 3.6's interpreter cannot loop over a run-time count with NumPy ≥ 2.4).
        count = zero + tl.minimum(N - start, B)  # (BLOCK,) the batch's points, as a tensor in every Triton
        # -- forward, layer by layer over the batch's points (activations to scratch)
        for l in tl.static_range(L):
            w, b, _, _, _, bmask, _ = layer(p_ptr, meta_ptr, l, r, m, mm, M)
            for k in range(0, B):
                if l == 0:
                    a = tl.load(gx_ptr + r[:, None] * XROW + (start + k) * XJ + m[None, :] * XM, mask=(r[:, None] < F) & (mm & (zero + k < count))[None, :], other=0.0)
                else:
                    a = tl.load(act_ptr + l * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                z = b + tl.sum(w * a[None, :, :], axis=1)
                if l == L - 1:
                    a = act(z, OUT)
                else:
                    a = act(z, HID)
                tl.store(act_ptr + (l + 1) * plane + k * W * M + tile, tl.where(bmask, a, 0.0), mask=mm[None, :])
            tl.debug_barrier()
        # -- the loss gradient (MSE, or half of it), mean over the batch, and each point's output
        sq = tl.zeros((BLOCK,), tl.float32)
        for k in range(0, B):
            here = mm & (zero + k < count)
            out = tl.load(act_ptr + L * plane + k * W * M + m, mask=here, other=0.0)
            y = tl.load(gy_ptr + (start + k) * XJ + m * XM, mask=here, other=0.0)
            tl.store(pred_ptr + (start + k) * M + m, out, mask=here)
            d = tl.where(here, out - y, 0.0)
            sq += d * d
            if CLASSIFY:  # discretize: ≥ 0 → +1, else −1
                tr_hits += tl.where(here, hit(out, y), 0.0)
            g = tl.where(here, loss_grad(out, y, count.to(tl.float32), HALF), 0.0)
            tl.store(sig_ptr + (L % 2) * plane + k * W * M + tile, tl.where(r[:, None] == 0, g[None, :], 0.0), mask=mm[None, :])
        tl.debug_barrier()
        s = start // B
        loss = batch_loss(sq, count.to(tl.float32), HALF)  # the step's loss as the trainer reads it
        tl.store(row + s, loss.to(tl.float64), mask=mm)
        tr_sse += sq
        tr_loss += loss.to(tl.float64) * count.to(tl.float64)
        step_size = tl.load(sk_ptr + (2 * s) * M + m, mask=mm, other=0.0)
        bc2_sqrt = tl.load(sk_ptr + (2 * s + 1) * M + m, mask=mm, other=1.0)
        # -- backward, last layer first; each layer updated once its weights are used
        for j in tl.static_range(L):
            l = L - 1 - j
            w, b, w_off, b_off, wmask, bmask, _ = layer(p_ptr, meta_ptr, l, r, m, mm, M)
            gw = tl.zeros((W, W, BLOCK), tl.float32)
            gb = tl.zeros((W, BLOCK), tl.float32)
            for k in range(0, B):  # a missing point's signal is 0: it adds nothing
                g = tl.load(sig_ptr + ((l + 1) % 2) * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                a = tl.load(act_ptr + (l + 1) * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                if l == L - 1:
                    delta = act_back(g, a, OUT)
                else:
                    delta = act_back(g, a, HID)
                if l == 0:
                    x = tl.load(gx_ptr + r[:, None] * XROW + (start + k) * XJ + m[None, :] * XM, mask=(r[:, None] < F) & (mm & (zero + k < count))[None, :], other=0.0)
                else:
                    x = tl.load(act_ptr + l * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                gw += delta[:, None, :] * x[None, :, :]
                gb += delta
                if l > 0:
                    below = tl.sum(delta[:, None, :] * w, axis=0)  # (W, BLOCK): d loss / d inputs
                    tl.store(sig_ptr + (l % 2) * plane + k * W * M + tile, below, mask=mm[None, :])
            before = w
            gw = penalize(gw, w, l1[None, None, :], l2[None, None, :], L1, L2)  # the Playground's penalties, on weights only
            s1w = tl.load(s1_ptr + w_off, mask=wmask, other=0.0)
            s2w = tl.load(s2_ptr + w_off, mask=wmask, other=0.0)
            w, s1w, s2w = update(w, gw, s1w, s2w, neg_lr[None, None, :], wd[None, None, :], mom[None, None, :], omd[None, None, :],
                                  omb1[None, None, :], b2[None, None, :], omb2[None, None, :], eps[None, None, :], decay[None, None, :],
                                  step_size[None, None, :], bc2_sqrt[None, None, :], OPT, MOMENTUM, NESTEROV, DECOUPLED)
            if L1:  # L1's rule: a weight of a model with l1 > 0 that crosses 0 is set to 0 and stays dead
                w, dead = l1_dead(w, before, tl.load(dead_ptr + w_off, mask=wmask, other=0) != 0, l1[None, None, :])
                tl.store(dead_ptr + w_off, dead.to(tl.uint8), mask=wmask)
            tl.store(p_ptr + w_off, w, mask=wmask)
            tl.store(s1_ptr + w_off, s1w, mask=wmask)
            tl.store(s2_ptr + w_off, s2w, mask=wmask)
            s1b = tl.load(s1_ptr + b_off, mask=bmask, other=0.0)
            s2b = tl.load(s2_ptr + b_off, mask=bmask, other=0.0)
            b, s1b, s2b = update(b, gb, s1b, s2b, neg_lr[None, :], wd[None, :], mom[None, :], omd[None, :], omb1[None, :], b2[None, :],
                                  omb2[None, :], eps[None, :], decay[None, :], step_size[None, :], bc2_sqrt[None, :],
                                  OPT, MOMENTUM, NESTEROV, DECOUPLED)
            tl.store(p_ptr + b_off, b, mask=bmask)
            tl.store(s1_ptr + b_off, s1b, mask=bmask)
            tl.store(s2_ptr + b_off, s2b, mask=bmask)
            tl.debug_barrier()
    # -- the training metrics: the loss (size-weighted mean of the step losses), accuracy or RMSE and R²
    row = row + (N + B - 1) // B  # after the S step losses
    tl.store(row, tr_loss / N, mask=mm)
    if CLASSIFY:
        tl.store(row + 1, tr_hits.to(tl.float64) / N, mask=mm)
    else:
        sse = tr_sse.to(tl.float64)
        sst = tl.load(sst_ptr + m * SST_PER_MODEL, mask=mm, other=1.0)
        tl.store(row + 1, tl.sqrt(sse / N), mask=mm)
        tl.store(row + 2, tl.where(sst > 0, 1.0 - sse / sst, tl.full((BLOCK,), float("nan"), tl.float64)), mask=mm)


@triton.jit
def eval_kernel(
    p_ptr, x_ptr, y_ptr, sst_ptr, stats_ptr, meta_ptr, M, T, COL, NV: tl.constexpr, F: tl.constexpr, L: tl.constexpr,
    W: tl.constexpr, BLOCK: tl.constexpr, HID: tl.constexpr, OUT: tl.constexpr, HALF: tl.constexpr, CLASSIFY: tl.constexpr,
    PER_MODEL: tl.constexpr,
):
    """An evaluation set's metrics for models [pid·BLOCK, (pid+1)·BLOCK), after the epoch.

    p (P, M) parameters; x (D, NV, F), y (D, NV, 1) the set, D = M (``PER_MODEL``) or 1;
    sst (D,) float32 its labels' sum of squares. Writes the loss, then accuracy or RMSE and
    R², to columns COL… of stats (M, T) float64, computed in float as
    :func:`~torchground.engine.epoch.epoch_stats` computes them. Activations stay in
    registers: nothing is kept for a backward.
    """
    m = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mm = m < M
    r = tl.arange(0, W)
    sq = tl.zeros((BLOCK,), tl.float32)
    hits = tl.zeros((BLOCK,), tl.float32)
    for k in range(0, NV):
        if PER_MODEL:
            a = tl.load(x_ptr + (m[None, :] * NV + k) * F + r[:, None], mask=(r[:, None] < F) & mm[None, :], other=0.0)
            y = tl.load(y_ptr + m * NV + k, mask=mm, other=0.0)
        else:
            a = tl.load(x_ptr + k * F + r, mask=r < F, other=0.0)[:, None] + tl.zeros((W, BLOCK), tl.float32)
            y = tl.load(y_ptr + k) + tl.zeros((BLOCK,), tl.float32)
        for l in tl.static_range(L):
            w, b, _, _, _, _, o_n = layer(p_ptr, meta_ptr, l, r, m, mm, M)
            z = b + tl.sum(w * a[None, :, :], axis=1)
            if l == L - 1:
                a = act(z, OUT)
            else:
                a = tl.where(r[:, None] < o_n, act(z, HID), 0.0)  # padded units stay 0 (sigmoid(0) is not)
        out = tl.sum(tl.where(r[:, None] == 0, a, 0.0), axis=0)  # unit 0 of the last layer
        d = out - y
        sq += d * d
        if CLASSIFY:
            hits += hit(out, y)
    loss = batch_loss(sq, NV, HALF)
    row = stats_ptr + m.to(tl.int64) * T + COL
    tl.store(row, loss.to(tl.float64), mask=mm)
    if CLASSIFY:
        tl.store(row + 1, hits.to(tl.float64) / NV, mask=mm)
    else:
        sst = tl.load(sst_ptr + m * PER_MODEL, mask=mm, other=1.0)
        tl.store(row + 1, tl.sqrt(sq / NV).to(tl.float64), mask=mm)
        tl.store(row + 2, tl.where(sst > 0, 1.0 - sq / sst, tl.full((BLOCK,), float("nan"), tl.float32)).to(tl.float64), mask=mm)


def layer_table(net: StackedNet) -> Tensor:
    """Per layer (in, out, weight offset; the bias follows the weight) as an int32 (L·3,)
    tensor on the net's device: :meth:`~torchground.engine.net.StackedNet._layout` for the kernels."""
    rows = [(i, o, w_off) for w_off, o, i, _ in net._layout()]
    return torch.tensor([v for row in rows for v in row], dtype=torch.int32, device=net.params.device)
