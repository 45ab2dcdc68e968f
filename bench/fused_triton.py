"""The fused Triton steps of the engine (:mod:`torchground.engine.fused_triton`), checked and timed,
and a prototype of a fused validation kernel.

``--check`` runs each branch of the fused epoch kernel (:data:`CHECKS`: activations,
losses, optimisers, padded widths, a short last batch) against the engine's eager steps on
two twins of one net, and the validation kernel against the engine's forward. The speed
run times the kernel (each block size and warp count with ``--sweep``) against Inductor's
compiled steps, and the validation kernel against the compiled metrics (5 ms per epoch
for 10⁵ models on an H100), for SGD and for Adam.

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
from torchground.engine.epoch import gather, gather_last, split_steps, step_shapes, steps_last
from torchground.engine.fused import ACTS
from torchground.engine.fused_triton import TritonSteps, _act, layer_table
from torchground.engine.net import StackedNet


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


def fused_valid(params: torch.Tensor, twin: StackedNet, vx: torch.Tensor, vy: torch.Tensor, block: int = 32,
                warps: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE (not halved) and accuracy (M,) of every model (``params`` (P, M), ``twin``'s
    shape and activations) on shared points vx (1, NV, F), vy (1, NV, 1)."""
    P, M = params.shape
    meta = layer_table(twin)
    loss, acc = torch.empty(M, device=params.device), torch.empty(M, device=params.device)
    _valid_kernel[(triton.cdiv(M, block),)](
        params, vx[0].t().contiguous(), vy.reshape(-1).contiguous(), loss, acc, meta, M, NV=vx.shape[1],
        F=twin.sizes[0], L=len(twin.sizes) - 1, W=triton.next_power_of_2(max(twin.sizes)), BLOCK=block,
        HID=ACTS[twin.activation], OUT=ACTS[twin.output_activation], num_warps=warps,
    )
    return loss, acc


def _setup(specs: list[Spec]):
    """The group of ``specs``, its models-last twin and one epoch's batches (one shared order)."""
    group = StackedGroup(specs)
    twin = group.net.models_last()
    x, y = group.data.sets["train"]
    order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(0)).to(group.device).expand(len(specs), -1)
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
    ("tanh, AdamW, batch 16", {"optimizer": "adamw", "lr": 0.05, "weight_decay": 0.05, "batch_size": 16}),
]


def check(device: str, models: int = 13, epochs: int = 2) -> None:
    """The engine's fused steps (:class:`~torchground.engine.fused_triton.TritonSteps`) and this
    file's validation kernel against the engine's own eager steps and forward, on two twins
    of one net and the same batches, for each of :data:`CHECKS`."""
    for name, fields in CHECKS:
        group, _, gx, gy = _setup(bench_specs(models, device, **fields))
        net = group.net
        if net.opt.kind == "sgd" and net.opt.flags[1]:  # SGD's momentum buffer starts with an eager, counted epoch
            x, y = group.data.sets["train"]
            order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(1)).to(group.device).expand(models, -1)
            for xb, yb in zip(*split_steps(*gather(x, y, order, group.batch), step_shapes(models, x.shape[1], group.batch))):
                net.step(xb, yb)
        ref, twin = net.models_last(), net.models_last()
        ref.opt.t = ref.opt.t.clone()  # the twins share the step count with the net: give each its own
        fused = TritonSteps(twin, block=16)
        shapes = step_shapes(models, gx.shape[1] // models, group.batch)
        worst_p = worst_o = 0.0
        for _ in range(epochs):
            preds = steps_last(ref, gx, gy, shapes)  # the engine, eagerly
            ref_out = torch.cat([p[:, 0, :].reshape(-1) for p in preds])
            out = fused.epoch((gx, gy), gx.shape[1] // models, group.batch, shared=False)[0].reshape(-1)
            worst_o = max(worst_o, (out - ref_out).abs().max().item())
            worst_p = max(worst_p, (twin.params - ref.params).abs().max().item())
        _, vx, vy, _ = group.evals[0]
        outputs = ref.outputs(vx)  # (NV, M), the engine's forward
        labels = vy[0, :, 0].unsqueeze(1)
        ref_loss = ((outputs - labels) ** 2).mean(dim=0)
        ref_acc = (torch.where(outputs >= 0, 1.0, -1.0) == labels).float().mean(dim=0)
        loss, acc = fused_valid(ref.params, ref, vx, vy, block=16)
        worst_v = max((loss - ref_loss).abs().max().item(), (acc - ref_acc).abs().max().item())
        print(f"[check] {device}, {name}: {models} models {net.sizes}, {epochs} epochs; largest differences: outputs"
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
        compiled, fused = CompiledEpoch(device), TritonSteps(group.net.models_last())
        print(f"[fused] {label}: {models} models {group.net.sizes}, batch {group.batch}, {len(shapes)} steps per epoch,"
              f" {name}, torch {torch.__version__}, triton {triton.__version__}; best of {repeats}")
        def run_fused(block: int, warps: int) -> torch.Tensor:
            fused.block, fused.warps = block, warps
            return fused.epoch((gx, gy), gx.shape[1] // models, group.batch, shared=False)[0]

        runs = [(f"fused kernel, BLOCK {b:3d}, {w} warps", (lambda b=b, w=w: run_fused(b, w))) for b, w in configs]
        runs.append(("engine, compiled steps (Inductor)", lambda: compiled._steps(twin, gx, gy, shapes)))
        _, vx, vy, _ = group.evals[0]
        runs.append(("fused validation, BLOCK  32, 4 warps", lambda: fused_valid(twin.params, twin, vx, vy)))
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
