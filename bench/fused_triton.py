"""Prototype: one Triton kernel per epoch trains M models, every step fused: a ceiling to
measure before the engine grows such a path.

What it answers: ``bench/gpu.sh`` found the compiled engine's steps memory-bound on an H100
(21 ms for an epoch of 25 steps of 10⁵ models 2-8-8-1; the same inside a CUDA graph), since
Inductor writes each layer's activations and each product's partial sums to memory. Here
one program owns ``BLOCK`` models for the whole epoch: it reads their batches and
parameters, runs forward, loss gradient, backward and the update of every step, and
writes the parameters back; only per-point activations pass through a scratch buffer
that stays in the program's cache. A second kernel validates every model on the shared
validation points (MSE and accuracy), its activations in registers, against the compiled
metrics' 5 ms.

Scope (:class:`FusedNet`): float32; identity, tanh, sigmoid and relu; MSE and half MSE;
SGD (momentum, nesterov), Adam and AdamW; weight decay and the L2 penalty (no L1: its
dead-weight rule is not in the kernel); models-last parameters (P, M) as
:meth:`~torchground.engine.net.StackedNet.models_last` lays them out, batches from
:func:`~torchground.engine.epoch.gather_last`. ``--check`` runs each branch against the
engine (:data:`CHECKS`).

    TRITON_INTERPRET=1 python bench/fused_triton.py --check     # CPU: agreement with the engine's steps
    python bench/fused_triton.py --check                        # GPU: the same, compiled
    python bench/fused_triton.py --models 100000 --sweep        # GPU: epoch time against the compiled engine

Needs ``triton`` (not a dependency of the project: it comes with CUDA builds of torch; on a
CPU machine ``pip install triton``). The points per epoch and per batch are compile-time
constants: Triton 3.6's interpreter cannot loop over a run-time count with NumPy ≥ 2.4.
"""

from __future__ import annotations

import argparse
import time

import torch
import triton
import triton.language as tl

from torchground import Spec
from torchground.engine import StackedGroup
from torchground.engine.epoch import gather_last, run_steps, split_steps_last, step_shapes, steps_last
from torchground.engine.net import StackedNet


@triton.jit
def _tanh(z):
    e = tl.exp(-2.0 * tl.abs(z))  # tanh(|z|) = (1 - e) / (1 + e), no overflow
    t = (1.0 - e) / (1.0 + e)
    return tl.where(z < 0, -t, t)


#: Activations the kernels implement (constexpr ids), as the engine computes them.
ACTS = {"identity": 0, "tanh": 1, "sigmoid": 2, "relu": 3}
#: Optimisers: SGD (momentum and nesterov as flags), Adam and AdamW (no amsgrad, no maximize).
OPTS = {"sgd": 0, "adam": 1, "adamw": 1}
#: Rows of the per-model hyper-parameter table the epoch kernel reads.
HP_ROWS = ("neg_lr", "wd", "momentum", "one_minus_damp", "one_minus_beta1", "beta2", "one_minus_beta2", "eps", "decay", "l2")


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
        s1 = s1 + omb1 * (g - s1)  # lerp with a weight < 0.5
        s2 = s2 * b2 + (g * omb2) * g
        p = p + (s1 / (tl.sqrt(s2) / bc2_sqrt + eps)) * step_size
    return p, s1, s2


@triton.jit
def _epoch_kernel(
    p_ptr, s1_ptr, s2_ptr, gx_ptr, gy_ptr, pred_ptr, act_ptr, sig_ptr, meta_ptr, hp_ptr, sk_ptr,
    M, N: tl.constexpr, B: tl.constexpr,
    F: tl.constexpr, L: tl.constexpr, W: tl.constexpr, BMAX: tl.constexpr, BLOCK: tl.constexpr,
    HID: tl.constexpr, OUT: tl.constexpr, HALF: tl.constexpr, OPT: tl.constexpr, MOMENTUM: tl.constexpr,
    NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr, L2: tl.constexpr,
):
    """One epoch of steps for models [pid·BLOCK, (pid+1)·BLOCK).

    p (P, M) parameters and s1, s2 (P, M) optimiser state (momentum buffer; Adam's moments),
    updated in place; gx (F, N·M), gy (N·M,) the epoch's points in order (column j·M + m:
    model m's j-th point); pred (N·M,) each point's output before its step; act
    (L + 1, BMAX, W, M) and sig (2, BMAX, W, M) scratch; meta (L, 3) int32 per layer (in,
    out, weight offset; the bias follows the weight); hp (len(HP_ROWS), M) per-model
    hyper-parameters; sk (S, 2, M) Adam's step size and √(bias correction 2) per step.
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
    plane = BMAX * W * M  # one layer of the scratch buffers
    tile = r[:, None] * M + m[None, :]  # (W, BLOCK) offsets of one point's units
    for start in range(0, N, B):
        # Every loop runs to the compile-time B; the last, shorter batch masks its missing
        # points (Triton 3.6's interpreter cannot loop over a run-time count with NumPy ≥ 2.4).
        n = tl.minimum(N - start, B)
        # -- forward, layer by layer over the batch's points (activations to scratch)
        for l in tl.static_range(L):
            i_n = tl.load(meta_ptr + 3 * l)
            o_n = tl.load(meta_ptr + 3 * l + 1)
            off = tl.load(meta_ptr + 3 * l + 2)
            wmask = (r[:, None, None] < o_n) & (r[None, :, None] < i_n) & mm[None, None, :]
            w = tl.load(p_ptr + (off + r[:, None, None] * i_n + r[None, :, None]) * M + m[None, None, :], mask=wmask, other=0.0)
            bmask = (r[:, None] < o_n) & mm[None, :]
            b = tl.load(p_ptr + (off + o_n * i_n + r[:, None]) * M + m[None, :], mask=bmask, other=0.0)
            for k in range(0, B):
                if l == 0:
                    a = tl.load(gx_ptr + r[:, None] * (N * M) + (start + k) * M + m[None, :], mask=(r[:, None] < F) & mm[None, :] & (k < n), other=0.0)
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
        for k in range(0, B):
            here = mm & (k < n)
            out = tl.load(act_ptr + L * plane + k * W * M + m, mask=here, other=0.0)
            y = tl.load(gy_ptr + (start + k) * M + m, mask=here, other=0.0)
            tl.store(pred_ptr + (start + k) * M + m, out, mask=here)
            if HALF:
                g = (out - y) * 2.0 * (0.5 / n.to(tl.float32))
            else:
                g = (out - y) * (2.0 / n.to(tl.float32))
            g = tl.where(here, g, 0.0)
            tl.store(sig_ptr + (L % 2) * plane + k * W * M + tile, tl.where(r[:, None] == 0, g[None, :], 0.0), mask=mm[None, :])
        tl.debug_barrier()
        s = start // B
        step_size = tl.load(sk_ptr + (2 * s) * M + m, mask=mm, other=0.0)
        bc2_sqrt = tl.load(sk_ptr + (2 * s + 1) * M + m, mask=mm, other=1.0)
        # -- backward, last layer first; each layer updated once its weights are used
        for j in tl.static_range(L):
            l = L - 1 - j
            i_n = tl.load(meta_ptr + 3 * l)
            o_n = tl.load(meta_ptr + 3 * l + 1)
            off = tl.load(meta_ptr + 3 * l + 2)
            wmask = (r[:, None, None] < o_n) & (r[None, :, None] < i_n) & mm[None, None, :]
            w_off = (off + r[:, None, None] * i_n + r[None, :, None]) * M + m[None, None, :]
            w = tl.load(p_ptr + w_off, mask=wmask, other=0.0)
            bmask = (r[:, None] < o_n) & mm[None, :]
            b_off = (off + o_n * i_n + r[:, None]) * M + m[None, :]
            b = tl.load(p_ptr + b_off, mask=bmask, other=0.0)
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
                    x = tl.load(gx_ptr + r[:, None] * (N * M) + (start + k) * M + m[None, :], mask=(r[:, None] < F) & mm[None, :] & (k < n), other=0.0)
                else:
                    x = tl.load(act_ptr + l * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                gw += delta[:, None, :] * x[None, :, :]
                gb += delta
                if l > 0:
                    below = tl.sum(delta[:, None, :] * w, axis=0)  # (W, BLOCK): d loss / d inputs
                    tl.store(sig_ptr + (l % 2) * plane + k * W * M + tile, below, mask=mm[None, :])
            if L2:  # the Playground's L2 penalty, on weights only: g += l2·w
                gw = gw + w * l2[None, None, :]
            s1w = tl.load(s1_ptr + w_off, mask=wmask, other=0.0)
            s2w = tl.load(s2_ptr + w_off, mask=wmask, other=0.0)
            w, s1w, s2w = _update(w, gw, s1w, s2w, neg_lr[None, None, :], wd[None, None, :], mom[None, None, :], omd[None, None, :],
                                  omb1[None, None, :], b2[None, None, :], omb2[None, None, :], eps[None, None, :], decay[None, None, :],
                                  step_size[None, None, :], bc2_sqrt[None, None, :], OPT, MOMENTUM, NESTEROV, DECOUPLED)
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


@triton.jit
def _valid_kernel(
    p_ptr, vx_ptr, vy_ptr, loss_ptr, acc_ptr, meta_ptr, M,
    NV: tl.constexpr, F: tl.constexpr, L: tl.constexpr, W: tl.constexpr, BLOCK: tl.constexpr,
    HID: tl.constexpr, OUT: tl.constexpr,
):
    """Validation of models [pid·BLOCK, (pid+1)·BLOCK) on shared points: MSE and accuracy.

    p (P, M) parameters; vx (F, NV), vy (NV,) the points; loss, acc (M,) outputs.
    """
    m = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mm = m < M
    r = tl.arange(0, W)
    loss = tl.zeros((BLOCK,), tl.float32)
    hits = tl.zeros((BLOCK,), tl.float32)
    for k in range(0, NV):
        a = tl.load(vx_ptr + r * NV + k, mask=r < F, other=0.0)[:, None] + tl.zeros((W, BLOCK), tl.float32)
        for l in tl.static_range(L):  # activations stay in registers: nothing to keep for a backward
            i_n = tl.load(meta_ptr + 3 * l)
            o_n = tl.load(meta_ptr + 3 * l + 1)
            off = tl.load(meta_ptr + 3 * l + 2)
            wmask = (r[:, None, None] < o_n) & (r[None, :, None] < i_n) & mm[None, None, :]
            w = tl.load(p_ptr + (off + r[:, None, None] * i_n + r[None, :, None]) * M + m[None, None, :], mask=wmask, other=0.0)
            b = tl.load(p_ptr + (off + o_n * i_n + r[:, None]) * M + m[None, :], mask=(r[:, None] < o_n) & mm[None, :], other=0.0)
            z = b + tl.sum(w * a[None, :, :], axis=1)
            if l == L - 1:
                a = _act(z, OUT)
            else:
                a = tl.where(r[:, None] < o_n, _act(z, HID), 0.0)  # padded units stay 0 (sigmoid(0) is not)
        out = tl.sum(tl.where(r[:, None] == 0, a, 0.0), axis=0)  # unit 0 of the last layer
        y = tl.load(vy_ptr + k)
        loss += (out - y) * (out - y)
        hits += tl.where((out >= 0.0) == (y >= 0.0), 1.0, 0.0)  # discretize: ≥ 0 → +1, else −1; labels ±1
    tl.store(loss_ptr + m, loss / NV, mask=mm)
    tl.store(acc_ptr + m, hits / NV, mask=mm)


def _layout(sizes: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, int]:
    """Per layer (in, out, weight offset) as an int32 tensor, and the parameter count."""
    meta, off = [], 0
    for i, o in zip(sizes[:-1], sizes[1:]):
        meta += [i, o, off]
        off += o * i + o
    return torch.tensor(meta, dtype=torch.int32, device=device), off


class FusedNet:
    """What the kernels need of a models-last twin (:meth:`~torchground.engine.net.StackedNet.models_last`):
    copies of its parameters and optimiser state, and its hyper-parameters as one table.
    Training a ``FusedNet`` leaves the twin as it was.

    Scope (else ``ValueError``): float32; activations of :data:`ACTS`; MSE or half MSE; SGD
    (with or without momentum, nesterov), Adam or AdamW without amsgrad or maximize; an L2
    penalty but no L1 (the Playground's dead-weight rule). SGD with momentum must have taken
    its first step (the engine's first epoch is eager for it too).
    """

    def __init__(self, twin: StackedNet) -> None:
        opt = twin.opt
        kind, flags = opt.kind, opt.flags
        ok = (twin.last and twin.params.dtype == torch.float32 and twin.activation in ACTS and twin.output_activation in ACTS
              and twin.loss_name in ("mse", "half_mse") and kind in OPTS and twin.l1 is None and not flags[-1 if kind == "sgd" else 2]
              and not (kind != "sgd" and flags[1]) and (opt.started or not (kind == "sgd" and flags[1])))
        if not ok:
            raise ValueError(f"out of the prototype's scope: {twin.activation}/{twin.output_activation}, {twin.loss_name}, {flags}")
        self.sizes, self.kind, self.flags = twin.sizes, kind, flags
        self.hid, self.out, self.half = ACTS[twin.activation], ACTS[twin.output_activation], twin.loss_name == "half_mse"
        self.params = twin.params.clone()
        M, device = twin.params.shape[1], twin.params.device
        zeros = torch.zeros_like(self.params)
        st = opt.state
        self.s1 = (st["buf"] if "buf" in st else st.get("exp_avg", zeros)).clone()
        self.s2 = st.get("exp_avg_sq", zeros).clone()
        rows = [opt.hp[k].reshape(-1) if k in opt.hp else torch.zeros(M, device=device) for k in HP_ROWS[:-1]]
        rows.append(twin.l2.reshape(-1) if twin.l2 is not None else torch.zeros(M, device=device))
        self.hp = torch.stack([r.to(torch.float32) for r in rows]).contiguous()  # (len(HP_ROWS), M)
        self.l2 = twin.l2 is not None
        self.t = opt.t.clone()  # Adam's step count (float64)
        self.hp64 = {k: opt.hp[k] for k in ("lr64", "beta1_64", "beta2_64") if k in opt.hp}

    def epoch(self, gx: torch.Tensor, gy: torch.Tensor, batch: int, block: int = 32, warps: int = 4) -> torch.Tensor:
        """One epoch on :func:`~torchground.engine.epoch.gather_last`'s batches (one per model).
        → each point's output before its step, (N·M,)."""
        P, M = self.params.shape
        N = gy.shape[1] // M
        S = -(-N // batch)
        sizes, device = self.sizes, self.params.device
        L, W = len(sizes) - 1, triton.next_power_of_2(max(sizes))
        meta_t, count = _layout(sizes, device)
        assert count == P
        sk = torch.zeros(S, 2, M, device=device)
        if self.kind != "sgd":  # Adam's per-step scalars, computed as the engine computes them (float64, then cast)
            ts = self.t + torch.arange(1, S + 1, dtype=torch.float64, device=device).unsqueeze(1)  # (S, 1)
            h = self.hp64
            sk[:, 0] = (-(h["lr64"] / (1 - torch.pow(h["beta1_64"], ts)))).to(torch.float32)
            sk[:, 1] = ((1 - torch.pow(h["beta2_64"], ts)) ** 0.5).to(torch.float32)
            self.t += S
        bmax = triton.next_power_of_2(batch)
        act = torch.zeros(L + 1, bmax, W, M, device=device)
        sig = torch.zeros(2, bmax, W, M, device=device)
        pred = torch.empty(N * M, device=device)
        momentum = self.kind == "sgd" and bool(self.flags[1])
        _epoch_kernel[(triton.cdiv(M, block),)](
            self.params, self.s1, self.s2, gx, gy.reshape(-1), pred, act, sig, meta_t, self.hp, sk, M,
            N=N, B=batch, F=sizes[0], L=L, W=W, BMAX=bmax, BLOCK=block, HID=self.hid, OUT=self.out, HALF=self.half,
            OPT=OPTS[self.kind], MOMENTUM=momentum, NESTEROV=momentum and bool(self.flags[2]),
            DECOUPLED=self.kind != "sgd" and bool(self.flags[3]), L2=self.l2, num_warps=warps,
        )
        return pred

    def valid(self, vx: torch.Tensor, vy: torch.Tensor, block: int = 32, warps: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
        """MSE (not halved) and accuracy (M,) of every model on shared points vx (1, NV, F), vy (1, NV, 1)."""
        P, M = self.params.shape
        meta_t, _ = _layout(self.sizes, self.params.device)
        loss, acc = torch.empty(M, device=self.params.device), torch.empty(M, device=self.params.device)
        _valid_kernel[(triton.cdiv(M, block),)](
            self.params, vx[0].t().contiguous(), vy.reshape(-1).contiguous(), loss, acc, meta_t, M, NV=vx.shape[1],
            F=self.sizes[0], L=len(self.sizes) - 1, W=triton.next_power_of_2(max(self.sizes)), BLOCK=block,
            HID=self.hid, OUT=self.out, num_warps=warps,
        )
        return loss, acc


def _setup(specs: list[Spec]):
    """The group of ``specs``, its models-last twin and one epoch's batches (one shared order)."""
    group = StackedGroup(specs)
    twin = group.net.models_last()
    x, y = group.data.sets["train"]
    order = torch.randperm(x.shape[1]).to(group.device).expand(len(specs), -1)
    gx, gy = gather_last(x, y, order, group.batch)
    return group, twin, gx, gy


def bench_specs(models: int, device: str, **fields) -> list[Spec]:
    """The bench's models (2-8-8-1, batch 10, distinct weights and learning rates), with ``fields`` changed."""
    base = Spec(hidden=(8, 8), batch_size=10, device=device).replace(**fields)
    return [base.replace(init_seed=i, lr=base.lr * (1 + i % 10) / 10) for i in range(models)]


#: What ``--check`` runs: (name, fields). The curriculum's 2-3-3-1 pads its widths to 4 and
#: has a last, shorter batch; the others cover each activation, loss and optimiser branch.
CHECKS = [
    ("bench recipe: tanh, MSE, SGD + weight decay", {}),
    ("curriculum 2-3-3-1, batch 15", {"hidden": (3, 3), "batch_size": 15}),
    ("relu/tanh, SGD nesterov momentum, L2", {"hidden": (4, 4), "activation": "relu", "l2": 0.001,
                                              "optimizer_args": {"momentum": 0.9, "nesterov": True}}),
    ("sigmoid/identity, half MSE, Adam + weight decay, batch 8", {"hidden": (6,), "batch_size": 8, "activation": "sigmoid",
                                                                 "output_activation": "identity", "loss": "half_mse",
                                                                 "optimizer": "adam", "lr": 0.1, "weight_decay": 0.01}),
    ("tanh, AdamW, batch 16", {"optimizer": "adamw", "lr": 0.1, "weight_decay": 0.05, "batch_size": 16}),
]


def check(device: str, models: int = 13, epochs: int = 2) -> None:
    """The kernels against the engine's own (eager) steps and forward on the same twin and
    batches, for each of :data:`CHECKS`."""
    for name, fields in CHECKS:
        group, twin, gx, gy = _setup(bench_specs(models, device, **fields))
        shapes = step_shapes(models, gx.shape[1] // models, group.batch)
        if twin.opt.kind == "sgd" and twin.opt.flags[1]:  # SGD's momentum buffer starts with an eager, counted epoch
            xs, ys = split_steps_last(gx, gy, shapes)
            run_steps(twin, xs, ys, count=True)
        fused = FusedNet(twin)
        worst_p = worst_o = 0.0
        for _ in range(epochs):
            preds = steps_last(twin, gx, gy, shapes)  # the engine, eagerly
            ref_out = torch.cat([p[:, 0, :].reshape(-1) for p in preds])
            out = fused.epoch(gx, gy, group.batch, block=16)
            worst_o = max(worst_o, (out - ref_out).abs().max().item())
            worst_p = max(worst_p, (fused.params - twin.params).abs().max().item())
        _, vx, vy, _ = group.evals[0]
        ref = twin.outputs(vx)  # (NV, M), the engine's forward
        labels = vy[0, :, 0].unsqueeze(1)
        ref_loss, ref_acc = ((ref - labels) ** 2).mean(dim=0), (torch.where(ref >= 0, 1.0, -1.0) == labels).float().mean(dim=0)
        fused.params.copy_(twin.params)
        loss, acc = fused.valid(vx, vy, block=16)
        worst_v = max((loss - ref_loss).abs().max().item(), (acc - ref_acc).abs().max().item())
        print(f"[check] {device}, {name}: {models} models {group.net.sizes}, {epochs} epochs; largest differences: outputs"
              f" {worst_o:.2g}, parameters {worst_p:.2g}, validation {worst_v:.2g}", flush=True)
        assert worst_o < 1e-5 and worst_p < 1e-5 and worst_v < 1e-5, name


def speed(models: int, repeats: int, sweep: bool, device: str = "cuda") -> None:
    """Epoch time of the kernel (each block size and warp count with ``sweep``) against the
    compiled engine's steps, and of the fused validation against the compiled metrics (which
    also hold the training metrics), on the same twin and batches: the bench recipe (SGD),
    then with Adam."""
    from torchground.engine.compiled import CompiledEpoch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU, Triton's interpreter"
    configs = [(b, w) for b in (16, 32, 64, 128) for w in (2, 4, 8)] if sweep else [(32, 4)]
    for label, fields in (("SGD", {}), ("Adam", {"optimizer": "adam", "lr": 0.01})):
        group, twin, gx, gy = _setup(bench_specs(models, device, **fields))
        shapes = step_shapes(models, gx.shape[1] // models, group.batch)
        compiled, fused = CompiledEpoch(device), FusedNet(twin)
        print(f"[fused] {label}: {models} models {group.net.sizes}, batch {group.batch}, {len(shapes)} steps per epoch,"
              f" {name}, torch {torch.__version__}, triton {triton.__version__}; best of {repeats}")
        runs = [(f"fused kernel, BLOCK {b:3d}, {w} warps", (lambda b=b, w=w: fused.epoch(gx, gy, group.batch, block=b, warps=w)))
                for b, w in configs]
        runs.append(("engine, compiled steps (Inductor)", lambda: compiled._steps(twin, gx, gy, shapes)))
        _, vx, vy, _ = group.evals[0]
        runs.append(("fused validation, BLOCK  32, 4 warps", lambda: fused.valid(vx, vy)))
        preds = compiled._steps(twin, gx, gy, shapes)
        runs.append(("engine, compiled metrics (Inductor)",
                     lambda: compiled._stats(twin, preds, gy, shapes, group.evals, group.data.train_sst, True)))
        timings = {}
        for run_name, fn in runs:
            try:
                fn()
                sync()
            except Exception as exc:  # a configuration that does not compile (registers, shared memory)
                print(f"  {run_name:38s}: failed: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                sync()
                best = min(best, time.perf_counter() - start)
            timings[run_name] = best
            rate = f", {models * len(shapes) / best:.3g} model-steps/s (steps only)" if "steps" in run_name or "kernel" in run_name else ""
            print(f"  {run_name:38s}: {best * 1e3:8.2f} ms per epoch{rate}", flush=True)
        kernels = {k: v for k, v in timings.items() if k.startswith("fused kernel")}
        if kernels and "engine, compiled steps (Inductor)" in timings:
            best_name = min(kernels, key=kernels.get)
            print(f"  best: {best_name}, {timings['engine, compiled steps (Inductor)'] / kernels[best_name]:.1f}x the compiled engine's steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="agreement with the engine (on CPU: TRITON_INTERPRET=1)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sweep", action="store_true", help="time every block size and warp count")
    args = parser.parse_args()
    if args.check:
        check(args.device)
    else:
        speed(args.models, args.repeats, args.sweep, args.device)


if __name__ == "__main__":
    main()
