"""CUDA, with ``compile=True``: an epoch's steps and training metrics in one Triton kernel,
every step fused, and each evaluation set's metrics in one more
(:mod:`~torchground.engine.fused` has the scope and the tables they read).

Two layouts of the same arithmetic. Nets of up to
:data:`~torchground.engine.fused_triton_unrolled.MAX_PARAMS` parameters (every Playground
net with two inputs) get the *unrolled* kernels of
:mod:`~torchground.engine.fused_triton_unrolled`, a thread per model, which call the
helpers here (:func:`_act`, :func:`_act_back`, :func:`_update`, :func:`_param_update`).
Bigger nets get the *tiled* kernels below.

Why our own kernels: for 10⁵ models 2-8-8-1 the steps that TorchInductor generates from
the models-last step (:mod:`~torchground.engine.compiled`) took 21 ms per epoch of 25 steps
on an H100, the same inside a CUDA graph: they are memory-bound, since each layer's
activations and each product's partial sums go through memory (about 1 GB per step).
In the tiled kernel one program owns ``BLOCK`` models for the whole epoch: it reads their
batches and parameters, runs forward, loss gradient, backward and the optimiser update of
every step, and writes parameters and state back; only per-point activations and backward
signals pass through a scratch buffer the program alone touches. Widths are padded to a
power of two, at most 8 × 8 weights per layer held at once: 8.8 ms per epoch on an H200
(the unrolled kernels: 2.5 ms). The epoch's table (step losses, then the metrics) is written
by the kernels too: Inductor's compiled metrics took 5 ms of an epoch for 10⁵ models on the
H100.

Tested on CPU through Triton's interpreter (``TRITON_INTERPRET=1``) and on an H200
(``bench/fused_triton.py --check``, ``bench/gpu.sh``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from torchground.engine.fused import OPTS, FusedSteps, Metrics
from torchground.engine.net import StackedNet

__all__ = ["TritonSteps", "layer_table"]

Tensor = torch.Tensor


@triton.jit
def _tanh(z):
    e = tl.exp(-2.0 * tl.abs(z))  # tanh(|z|) = (1 - e) / (1 + e), no overflow
    t = (1.0 - e) / (1.0 + e)
    return tl.where(z < 0, -t, t)


@triton.jit
def _sign(x):
    """torch.sign: −1, 0 or 1 (0 for NaN)."""
    return tl.where(x > 0.0, 1.0, tl.where(x < 0.0, -1.0, 0.0))


@triton.jit
def _act(z, KIND: tl.constexpr):
    a = z  # identity
    if KIND == 1:
        a = _tanh(z)
    if KIND == 2:
        a = 1.0 / (1.0 + tl.exp(-z))
    if KIND == 3:
        a = tl.maximum(z, 0.0)
    return a


@triton.jit
def _act_back(g, a, KIND: tl.constexpr):
    """The gradient at the input from the output ``a``: aten's tanh/sigmoid/threshold backward."""
    d = g
    if KIND == 1:
        d = g * (1.0 - a * a)
    if KIND == 2:
        d = g * (1.0 - a) * a
    if KIND == 3:
        d = tl.where(a <= 0.0, 0.0, g)
    return d


@triton.jit
def _update(p, g, s1, s2, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, step_size, bc2_sqrt,
            OPT: tl.constexpr, MOMENTUM: tl.constexpr, NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr):
    """One optimiser update, op for op as :class:`~torchground.engine.optim.StackedOptimizer`
    (steady state: SGD's momentum buffer exists). → (p, s1, s2)."""
    if OPT == 0:  # SGD: g += wd·p; buf = momentum·buf + (1 − dampening)·g; p += −lr·g
        g = g + p * wd
        if MOMENTUM:
            s1 = s1 * mom + g * omd
            if NESTEROV:
                g = g + s1 * mom
            else:
                g = s1
        p = p + g * neg_lr
    else:  # Adam, AdamW
        if DECOUPLED:
            p = p * decay
        else:
            g = g + p * wd
        s1 = tl.where(omb1 < 0.5, s1 + omb1 * (g - s1), g - (g - s1) * (1.0 - omb1))  # torch.lerp's two forms
        s2 = s2 * b2 + (g * omb2) * g
        p = p + (s1 / (tl.sqrt(s2) / bc2_sqrt + eps)) * step_size
    return p, s1, s2


@triton.jit
def _param_update(j, p_at, g_at, is_weight, s1_ptr, s2_ptr, dead_ptr, M, m, mm, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, l2, l1,
                  step_size, bc2_sqrt, OPT: tl.constexpr, MOMENTUM: tl.constexpr, NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr,
                  L2: tl.constexpr, L1: tl.constexpr):
    """Parameter ``j`` of one model per lane (its value at ``p_at``, its gradient at ``g_at``)
    updated in place: the penalties (``is_weight`` 1.0 for a weight, 0.0 for a bias:
    g += l1·sign(p), then g += l2·p), the optimiser (:func:`_update`; its state, row j of
    the (P, M) tensors, read and written back) and L1's dead-weight rule (weights only).
    For the unrolled kernels (:mod:`~torchground.engine.fused_triton_unrolled`)."""
    p = tl.load(p_at, mask=mm, other=0.0)
    g = tl.load(g_at, mask=mm, other=0.0)
    off = j * M + m
    before = p
    if L1:
        g = g + _sign(p) * (l1 * is_weight)
    if L2:
        g = g + p * (l2 * is_weight)
    s1 = tl.zeros_like(p)
    s2 = tl.zeros_like(p)
    if OPT == 1:
        s1 = tl.load(s1_ptr + off, mask=mm, other=0.0)
        s2 = tl.load(s2_ptr + off, mask=mm, other=0.0)
    if MOMENTUM:
        s1 = tl.load(s1_ptr + off, mask=mm, other=0.0)
    p, s1, s2 = _update(p, g, s1, s2, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, step_size, bc2_sqrt, OPT, MOMENTUM, NESTEROV, DECOUPLED)
    if OPT == 1:
        tl.store(s1_ptr + off, s1, mask=mm)
        tl.store(s2_ptr + off, s2, mask=mm)
    if MOMENTUM:
        tl.store(s1_ptr + off, s1, mask=mm)
    if L1:  # a weight of a model with l1 > 0 that crosses 0 is set to 0 and stays dead
        weights = mm & (l1 * is_weight > 0.0)  # the weights of models with l1 > 0 (others have none dead)
        crossed = (_sign(p) * _sign(before) < 0.0) & weights
        dead = (tl.load(dead_ptr + off, mask=weights, other=0) != 0) | crossed
        tl.store(dead_ptr + off, dead.to(tl.uint8), mask=weights)
        p = tl.where(dead, 0.0, p)
    tl.store(p_at, p, mask=mm)


@triton.jit
def _layer(p_ptr, meta_ptr, l, r, m, mm, M):
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
def _epoch_kernel(
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
            w, b, _, _, _, bmask, _ = _layer(p_ptr, meta_ptr, l, r, m, mm, M)
            for k in range(0, B):
                if l == 0:
                    a = tl.load(gx_ptr + r[:, None] * XROW + (start + k) * XJ + m[None, :] * XM, mask=(r[:, None] < F) & (mm & (zero + k < count))[None, :], other=0.0)
                else:
                    a = tl.load(act_ptr + l * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                z = b + tl.sum(w * a[None, :, :], axis=1)
                if l == L - 1:
                    a = _act(z, OUT)
                else:
                    a = _act(z, HID)
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
                tr_hits += tl.where(here & (tl.where(out >= 0.0, 1.0, -1.0) == y), 1.0, 0.0)
            if HALF:
                g = (out - y) * 2.0 * (0.5 / count.to(tl.float32))
            else:
                g = (out - y) * (2.0 / count.to(tl.float32))
            g = tl.where(here, g, 0.0)
            tl.store(sig_ptr + (L % 2) * plane + k * W * M + tile, tl.where(r[:, None] == 0, g[None, :], 0.0), mask=mm[None, :])
        tl.debug_barrier()
        s = start // B
        loss = sq / count.to(tl.float32)  # the step's loss as the trainer reads it
        if HALF:
            loss = loss * 0.5
        tl.store(row + s, loss.to(tl.float64), mask=mm)
        tr_sse += sq
        tr_loss += loss.to(tl.float64) * count.to(tl.float64)
        step_size = tl.load(sk_ptr + (2 * s) * M + m, mask=mm, other=0.0)
        bc2_sqrt = tl.load(sk_ptr + (2 * s + 1) * M + m, mask=mm, other=1.0)
        # -- backward, last layer first; each layer updated once its weights are used
        for j in tl.static_range(L):
            l = L - 1 - j
            w, b, w_off, b_off, wmask, bmask, _ = _layer(p_ptr, meta_ptr, l, r, m, mm, M)
            gw = tl.zeros((W, W, BLOCK), tl.float32)
            gb = tl.zeros((W, BLOCK), tl.float32)
            for k in range(0, B):  # a missing point's signal is 0: it adds nothing
                g = tl.load(sig_ptr + ((l + 1) % 2) * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                a = tl.load(act_ptr + (l + 1) * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                if l == L - 1:
                    delta = _act_back(g, a, OUT)
                else:
                    delta = _act_back(g, a, HID)
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
            if L1:  # the Playground's penalties, on weights only: g += l1·sign(w), then g += l2·w
                gw = gw + _sign(w) * l1[None, None, :]
            if L2:
                gw = gw + w * l2[None, None, :]
            s1w = tl.load(s1_ptr + w_off, mask=wmask, other=0.0)
            s2w = tl.load(s2_ptr + w_off, mask=wmask, other=0.0)
            w, s1w, s2w = _update(w, gw, s1w, s2w, neg_lr[None, None, :], wd[None, None, :], mom[None, None, :], omd[None, None, :],
                                  omb1[None, None, :], b2[None, None, :], omb2[None, None, :], eps[None, None, :], decay[None, None, :],
                                  step_size[None, None, :], bc2_sqrt[None, None, :], OPT, MOMENTUM, NESTEROV, DECOUPLED)
            if L1:  # L1's rule: a weight of a model with l1 > 0 that crosses 0 is set to 0 and stays dead
                crossed = (_sign(w) * _sign(before) < 0.0) & (l1[None, None, :] > 0.0)
                dead = (tl.load(dead_ptr + w_off, mask=wmask, other=0) != 0) | crossed
                tl.store(dead_ptr + w_off, dead.to(tl.uint8), mask=wmask)
                w = tl.where(dead, 0.0, w)
            tl.store(p_ptr + w_off, w, mask=wmask)
            tl.store(s1_ptr + w_off, s1w, mask=wmask)
            tl.store(s2_ptr + w_off, s2w, mask=wmask)
            s1b = tl.load(s1_ptr + b_off, mask=bmask, other=0.0)
            s2b = tl.load(s2_ptr + b_off, mask=bmask, other=0.0)
            b, s1b, s2b = _update(b, gb, s1b, s2b, neg_lr[None, :], wd[None, :], mom[None, :], omd[None, :], omb1[None, :], b2[None, :],
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
def _eval_kernel(
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
            w, b, _, _, _, _, o_n = _layer(p_ptr, meta_ptr, l, r, m, mm, M)
            z = b + tl.sum(w * a[None, :, :], axis=1)
            if l == L - 1:
                a = _act(z, OUT)
            else:
                a = tl.where(r[:, None] < o_n, _act(z, HID), 0.0)  # padded units stay 0 (sigmoid(0) is not)
        out = tl.sum(tl.where(r[:, None] == 0, a, 0.0), axis=0)  # unit 0 of the last layer
        d = out - y
        sq += d * d
        if CLASSIFY:
            hits += tl.where(tl.where(out >= 0.0, 1.0, -1.0) == y, 1.0, 0.0)
    loss = sq / NV
    if HALF:
        loss = loss * 0.5
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


class TritonSteps(FusedSteps):
    """:class:`~torchground.engine.fused.FusedSteps` by an epoch kernel, with the training
    metrics, and an evaluation kernel for each evaluation set: the epoch's table.

    The kernels are the unrolled ones (:mod:`~torchground.engine.fused_triton_unrolled`,
    a thread per model) for nets of at most
    :data:`~torchground.engine.fused_triton_unrolled.MAX_PARAMS` parameters, else the tiled
    :func:`_epoch_kernel` and :func:`_eval_kernel`.

    Args:
        twin: the models-last twin (see the base class).
        block, warps: models per program, warps per program (None: the kernels' defaults,
            the fastest on an H200 for 10⁵ models 2-8-8-1, ``bench/fused_triton.py --sweep``).
        unrolled: force the unrolled (True) or tiled (False) kernels.
    """

    #: (block, warps) by default: the unrolled kernels, the tiled ones.
    DEFAULTS = {True: (128, 4), False: (32, 2)}

    def __init__(self, twin: StackedNet, block: int | None = None, warps: int | None = None, unrolled: bool | None = None) -> None:
        super().__init__(twin)
        from torchground.engine.fused_triton_unrolled import MAX_PARAMS, param_count

        self.unrolled = param_count(tuple(twin.sizes)) <= MAX_PARAMS if unrolled is None else unrolled
        default_block, default_warps = self.DEFAULTS[self.unrolled]
        self.block, self.warps = block or default_block, warps or default_warps
        self.meta = layer_table(twin)
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
            from torchground.engine.fused_triton_unrolled import kernels

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
            _epoch_kernel[grid](
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
                _eval_kernel[grid](*args, self.meta, M, T, col, NV=x.shape[1], F=sizes[0], L=L, W=W, CLASSIFY=classify,
                                   PER_MODEL=per_model, **flags)
        return stats
