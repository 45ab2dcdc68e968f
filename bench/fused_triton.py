"""Prototype: one Triton kernel per epoch trains M models, every step fused — a ceiling to
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

Scope, the bench recipe only: tanh layers (hidden and output), MSE, SGD with weight decay
(no momentum, no L1/L2 penalty), models-last parameters (P, M) as
:meth:`~torchground.engine.net.StackedNet.models_last` lays them out, batches from
:func:`~torchground.engine.epoch.gather_last`. Anything else is out of scope for the
prototype.

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
from torchground.engine.epoch import gather_last, step_shapes, steps_last


@triton.jit
def _tanh(z):
    e = tl.exp(-2.0 * tl.abs(z))  # tanh(|z|) = (1 - e) / (1 + e), no overflow
    t = (1.0 - e) / (1.0 + e)
    return tl.where(z < 0, -t, t)


@triton.jit
def _epoch_kernel(
    p_ptr, gx_ptr, gy_ptr, pred_ptr, act_ptr, sig_ptr, meta_ptr, neg_lr_ptr, wd_ptr,
    M, N: tl.constexpr, B: tl.constexpr,
    F: tl.constexpr, L: tl.constexpr, W: tl.constexpr, BMAX: tl.constexpr, BLOCK: tl.constexpr,
):
    """One epoch of SGD steps for models [pid·BLOCK, (pid+1)·BLOCK).

    p (P, M) parameters, updated in place; gx (F, N·M), gy (N·M,) the epoch's points in
    order (column j·M + m: model m's j-th point); pred (N·M,) each point's output before its
    step; act (L + 1, BMAX, W, M) and sig (2, BMAX, W, M) scratch; meta (L, 3) int32 per
    layer (in, out, weight offset; the bias follows the weight); neg_lr, wd (M,).
    """
    m = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mm = m < M
    r = tl.arange(0, W)
    neg_lr = tl.load(neg_lr_ptr + m, mask=mm, other=0.0)
    wd = tl.load(wd_ptr + m, mask=mm, other=0.0)
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
                tl.store(act_ptr + (l + 1) * plane + k * W * M + tile, tl.where(bmask, _tanh(z), 0.0), mask=mm[None, :])
            tl.debug_barrier()
        # -- the loss gradient of MSE, mean over the batch, and each point's output
        for k in range(0, B):
            here = mm & (k < n)
            out = tl.load(act_ptr + L * plane + k * W * M + m, mask=here, other=0.0)
            y = tl.load(gy_ptr + (start + k) * M + m, mask=here, other=0.0)
            tl.store(pred_ptr + (start + k) * M + m, out, mask=here)
            g = tl.where(here, (out - y) * (2.0 / n.to(tl.float32)), 0.0)
            tl.store(sig_ptr + (L % 2) * plane + k * W * M + tile, tl.where(r[:, None] == 0, g[None, :], 0.0), mask=mm[None, :])
        tl.debug_barrier()
        # -- backward, last layer first; each layer updated once its weights are used
        for j in tl.static_range(L):
            l = L - 1 - j
            i_n = tl.load(meta_ptr + 3 * l)
            o_n = tl.load(meta_ptr + 3 * l + 1)
            off = tl.load(meta_ptr + 3 * l + 2)
            wmask = (r[:, None, None] < o_n) & (r[None, :, None] < i_n) & mm[None, None, :]
            w_at = p_ptr + (off + r[:, None, None] * i_n + r[None, :, None]) * M + m[None, None, :]
            w = tl.load(w_at, mask=wmask, other=0.0)
            bmask = (r[:, None] < o_n) & mm[None, :]
            b_at = p_ptr + (off + o_n * i_n + r[:, None]) * M + m[None, :]
            b = tl.load(b_at, mask=bmask, other=0.0)
            gw = tl.zeros((W, W, BLOCK), tl.float32)
            gb = tl.zeros((W, BLOCK), tl.float32)
            for k in range(0, B):  # a missing point's signal is 0: it adds nothing
                g = tl.load(sig_ptr + ((l + 1) % 2) * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                a = tl.load(act_ptr + (l + 1) * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                delta = g * (1.0 - a * a)  # tanh_backward
                if l == 0:
                    x = tl.load(gx_ptr + r[:, None] * (N * M) + (start + k) * M + m[None, :], mask=(r[:, None] < F) & mm[None, :] & (k < n), other=0.0)
                else:
                    x = tl.load(act_ptr + l * plane + k * W * M + tile, mask=mm[None, :], other=0.0)
                gw += delta[:, None, :] * x[None, :, :]
                gb += delta
                if l > 0:
                    below = tl.sum(delta[:, None, :] * w, axis=0)  # (W, BLOCK): d loss / d inputs
                    tl.store(sig_ptr + (l % 2) * plane + k * W * M + tile, below, mask=mm[None, :])
            # SGD with weight decay, as torch.optim: g += wd·p; p += -lr·g
            tl.store(w_at, w + (gw + w * wd[None, None, :]) * neg_lr[None, None, :], mask=wmask)
            tl.store(b_at, b + (gb + b * wd[None, :]) * neg_lr[None, :], mask=bmask)
            tl.debug_barrier()


@triton.jit
def _valid_kernel(
    p_ptr, vx_ptr, vy_ptr, loss_ptr, acc_ptr, meta_ptr, M,
    NV: tl.constexpr, F: tl.constexpr, L: tl.constexpr, W: tl.constexpr, BLOCK: tl.constexpr,
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
            a = _tanh(b + tl.sum(w * a[None, :, :], axis=1))
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


def fused_valid(params: torch.Tensor, vx: torch.Tensor, vy: torch.Tensor, sizes: tuple[int, ...], block: int = 32,
                warps: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE and accuracy (M,) of every model on shared points vx (1, NV, F), vy (1, NV, 1)."""
    P, M = params.shape
    meta_t, count = _layout(sizes, params.device)
    assert count == P
    NV = vx.shape[1]
    loss, acc = torch.empty(M, device=params.device), torch.empty(M, device=params.device)
    _valid_kernel[(triton.cdiv(M, block),)](params, vx[0].t().contiguous(), vy.reshape(-1).contiguous(), loss, acc, meta_t, M,
                                            NV=NV, F=sizes[0], L=len(sizes) - 1, W=triton.next_power_of_2(max(sizes)),
                                            BLOCK=block, num_warps=warps)
    return loss, acc


def fused_epoch(params: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor, sizes: tuple[int, ...], batch: int,
                neg_lr: torch.Tensor, wd: torch.Tensor, block: int = 32, warps: int = 4) -> torch.Tensor:
    """Train ``params`` (P, M) in place for one epoch on ``gather_last``'s batches. → each point's output (N·M,)."""
    P, M = params.shape
    N = gy.shape[1] // M
    L, W = len(sizes) - 1, triton.next_power_of_2(max(sizes))
    meta_t, count = _layout(sizes, params.device)
    assert count == P
    bmax = triton.next_power_of_2(batch)
    act = torch.zeros(L + 1, bmax, W, M, device=params.device)
    sig = torch.zeros(2, bmax, W, M, device=params.device)
    pred = torch.empty(N * M, device=params.device)
    grid = (triton.cdiv(M, block),)
    _epoch_kernel[grid](params, gx, gy.reshape(-1), pred, act, sig, meta_t, neg_lr.reshape(-1).contiguous(),
                        wd.reshape(-1).contiguous(), M, N=N, B=batch, F=sizes[0], L=L, W=W, BMAX=bmax, BLOCK=block,
                        num_warps=warps)
    return pred


def _setup(models: int, device: str, hidden: tuple[int, ...] = (8, 8), batch: int = 10):
    specs = [Spec(hidden=hidden, batch_size=batch, device=device, init_seed=i, lr=0.003 * (1 + i % 10)) for i in range(models)]
    group = StackedGroup(specs)
    twin = group.net.models_last()
    x, y = group.data.sets["train"]
    order = torch.randperm(x.shape[1]).to(device).expand(models, -1)
    gx, gy = gather_last(x, y, order, group.batch)
    return group, twin, gx, gy


def check(device: str, models: int = 37, epochs: int = 2) -> None:
    """The kernel against the engine's own (eager) steps on the same twin and batches: the
    bench's 2-8-8-1 with batch 10, and the curriculum's 2-3-3-1 (widths padded to 4) with
    batch 15 (a last, shorter batch of 10)."""
    for hidden, batch in (((8, 8), 10), ((3, 3), 15)):
        _check(device, models, epochs, hidden, batch)


def _check(device: str, models: int, epochs: int, hidden: tuple[int, ...], batch: int) -> None:
    group, twin, gx, gy = _setup(models, device, hidden, batch)
    mine = twin.params.clone()
    hp = twin.opt.hp
    shapes = step_shapes(models, gx.shape[1] // models, group.batch)
    worst_p = worst_o = 0.0
    for _ in range(epochs):
        preds = steps_last(twin, gx, gy, shapes)  # the engine, eagerly
        ref_out = torch.cat([p[:, 0, :].reshape(-1) for p in preds])
        out = fused_epoch(mine, gx, gy, group.net.sizes, group.batch, hp["neg_lr"], hp["wd"], block=16)
        if device == "cuda":
            torch.cuda.synchronize()
        worst_o = max(worst_o, (out - ref_out).abs().max().item())
        worst_p = max(worst_p, (mine - twin.params).abs().max().item())
    _, vx, vy, _ = group.evals[0]
    twin.params.copy_(mine)
    ref = twin.outputs(vx)  # (NV, M), the engine's forward
    labels = vy[0, :, 0].unsqueeze(1)
    ref_loss, ref_acc = ((ref - labels) ** 2).mean(dim=0), (torch.where(ref >= 0, 1.0, -1.0) == labels).float().mean(dim=0)
    loss, acc = fused_valid(mine, vx, vy, group.net.sizes, block=16)
    worst_v = max((loss - ref_loss).abs().max().item(), (acc - ref_acc).abs().max().item())
    print(f"[check] {device}, {models} models {group.net.sizes}, batch {batch}, {epochs} epochs: largest output difference"
          f" {worst_o:.2g}, parameter difference {worst_p:.2g}, validation difference {worst_v:.2g}")
    assert worst_o < 1e-5 and worst_p < 1e-5 and worst_v < 1e-5


def speed(models: int, repeats: int, sweep: bool, device: str = "cuda") -> None:
    """Epoch time of the kernel (each block size and warp count with ``sweep``) against the
    compiled engine's steps, and of the fused validation against the compiled metrics (which
    also hold the training metrics), on the same twin and batches."""
    group, twin, gx, gy = _setup(models, device)
    hp, shapes = twin.opt.hp, step_shapes(models, gx.shape[1] // models, group.batch)
    from torchground.engine.compiled import CompiledEpoch

    compiled = CompiledEpoch(device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU, Triton's interpreter"
    configs = [(b, w) for b in (16, 32, 64, 128) for w in (2, 4, 8)] if sweep else [(32, 4)]
    print(f"[fused] {models} models {group.net.sizes}, batch {group.batch}, {len(shapes)} steps per epoch,"
          f" {name}, torch {torch.__version__}, triton {triton.__version__}; best of {repeats}")
    runs = [(f"fused kernel, BLOCK {b:3d}, {w} warps", (lambda b=b, w=w: fused_epoch(twin.params, gx, gy, group.net.sizes, group.batch,
                                                                                       hp["neg_lr"], hp["wd"], block=b, warps=w)))
            for b, w in configs]
    runs.append(("engine, compiled steps (Inductor)", lambda: compiled._steps(twin, gx, gy, shapes)))
    _, vx, vy, _ = group.evals[0]
    runs.append(("fused validation, BLOCK  32, 4 warps", lambda: fused_valid(twin.params, vx, vy, group.net.sizes)))
    preds = compiled._steps(twin, gx, gy, shapes)
    runs.append(("engine, compiled metrics (Inductor)", lambda: compiled._stats(twin, preds, gy, shapes, group.evals, group.data.train_sst, True)))
    timings = {}
    for name, fn in runs:
        try:
            fn()
            sync()
        except Exception as exc:  # a configuration that does not compile (registers, shared memory)
            print(f"  {name:38s}: failed: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            best = min(best, time.perf_counter() - start)
        timings[name] = best
        rate = f", {models * len(shapes) / best:.3g} model-steps/s (steps only)" if "steps" in name or "kernel" in name else ""
        print(f"  {name:38s}: {best * 1e3:8.2f} ms per epoch{rate}", flush=True)
    fused = {k: v for k, v in timings.items() if k.startswith("fused kernel")}
    if fused and "engine, compiled steps (Inductor)" in timings:
        best_name = min(fused, key=fused.get)
        print(f"  best: {best_name}, {timings['engine, compiled steps (Inductor)'] / fused[best_name]:.1f}x the compiled engine's steps")


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
