"""The fused Triton steps and metrics of the engine (:mod:`torchground.engine.kernels.triton_steps`),
checked and timed.

``--check`` runs each branch of the fused kernels (:data:`CHECKS`: activations, losses,
optimisers, padded widths, a short last batch) against the engine's eager steps and
metrics on two twins of one net, for both kinds of kernels (``--kernels`` to pick one):
the unrolled ones (a thread per model, :mod:`torchground.engine.kernels.triton_unrolled`)
and the tiled ones. The speed run times an epoch of the kernels (each block size and warp
count with ``--sweep``), with and without the metrics, against Inductor's compiled steps
and metrics (5 ms per epoch for 10⁵ models on an H100), for SGD and for Adam.

    TRITON_INTERPRET=1 python bench/fused_triton.py --check     # CPU: agreement with the engine's steps
    python bench/fused_triton.py --check                        # GPU: the same, compiled
    python bench/fused_triton.py --models 100000 --sweep        # GPU: epoch time against the compiled engine
    python bench/fused_triton.py --sweep --no-inductor          # GPU: the kernels alone (no slow first compilation)

Needs ``triton`` (in the test extra; it comes with CUDA builds of torch). The points per epoch and per batch are compile-time
constants: Triton 3.6's interpreter cannot loop over a run-time count with NumPy ≥ 2.4.
"""

from __future__ import annotations

import argparse
import time

import torch
import triton

from torchground import Spec
from torchground.engine import StackedGroup
from torchground.engine.epoch import epoch_steps, gather, split_steps, step_shapes, steps_stats
from torchground.engine.kernels.triton_steps import TritonSteps


def _setup(specs: list[Spec]):
    """The group of ``specs``, its models-last twin and one epoch's batches (one shared order)."""
    group = StackedGroup(specs)
    twin = group.net.models_last()
    x, y = group.data.sets["train"]
    order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(0)).to(group.device).expand(len(specs), -1)
    gx, gy = gather(x, y, order, group.batch, last=True)
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
    ("tanh, SGD, L1 (the dead-weight rule) and L2", {"l1": 0.01, "l2": 0.001, "lr": 0.1}),
]


def check(device: str, models: int = 13, epochs: int = 2, unrolled: bool | None = None) -> None:
    """The engine's fused steps and metrics (:class:`~torchground.engine.kernels.triton_steps.TritonSteps`,
    the unrolled and the tiled kernels, or the one ``unrolled`` names) against the engine's own
    eager steps and metrics, on two twins of one net and the same batches, for each of :data:`CHECKS`."""
    for (name, fields), kernels in ((c, k) for k in ((True, False) if unrolled is None else (unrolled,)) for c in CHECKS):
        group, _, gx, gy = _setup(bench_specs(models, device, **fields))
        net = group.net
        if net.opt.kind == "sgd" and net.opt.flags[1]:  # SGD's momentum buffer starts with an eager, counted epoch
            x, y = group.data.sets["train"]
            order = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(1)).to(group.device).expand(models, -1)
            for xb, yb in zip(*split_steps(*gather(x, y, order, group.batch), step_shapes(models, x.shape[1], group.batch))):
                net.step(xb, yb)
        ref, twin = net.models_last(), net.models_last()
        ref.opt.t = ref.opt.t.clone()  # the twins share the step count with the net: give each its own
        fused = TritonSteps(twin, block=16 if not kernels else 32, warps=1 if kernels else 2, unrolled=kernels)
        shapes = step_shapes(models, gx.shape[1] // models, group.batch)
        metrics = (group.evals, group.data.train_sst, group.problem == "classification")
        worst_p = worst_o = worst_m = 0.0
        for _ in range(epochs):
            preds = epoch_steps(ref, gx, gy, shapes)  # the engine, eagerly
            ref_out = torch.cat([p[:, 0, :].reshape(-1) for p in preds])
            ref_stats = steps_stats(ref, preds, gy, shapes, *metrics)
            out, stats = fused.epoch((gx, gy), gx.shape[1] // models, group.batch, False, metrics)
            worst_o = max(worst_o, (out.reshape(-1) - ref_out).abs().max().item())
            worst_p = max(worst_p, (twin.params - ref.params).abs().max().item())
            worst_m = max(worst_m, (stats - ref_stats).abs().max().item())
        print(f"[check] {device}, {'unrolled' if kernels else 'tiled'} kernels, {name}: {models} models {net.sizes}, {epochs} epochs; largest differences: outputs"
              f" {worst_o:.2g}, parameters {worst_p:.2g}, metrics {worst_m:.2g}", flush=True)
        assert worst_o < 1e-5 and worst_p < 1e-5 and worst_m < 1e-5, name


def speed(models: int, repeats: int, sweep: bool, device: str = "cuda", inductor: bool = True) -> None:
    """Epoch time of the kernels (each block size and warp count with ``sweep``), with and
    without the metrics, against the compiled engine's steps and metrics, on the same twin
    and batches: the bench recipe (SGD), then with Adam."""
    from torchground.engine.kernels.dispatch import CompiledEpoch

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU, Triton's interpreter"
    # (kernels, block, warps): the unrolled kernels run a model per thread (BLOCK = 32 × warps;
    # twice that: two per thread), the tiled ones a model per lane of a warp's tile.
    defaults = [(unrolled, *TritonSteps.DEFAULTS[unrolled]) for unrolled in (True, False)]
    configs = ([(True, b, w) for b, w in ((32, 1), (64, 1), (64, 2), (128, 4))]
               + [(False, b, w) for b, w in ((32, 2), (64, 2))]) if sweep else defaults
    for label, fields in (("SGD", {}), ("Adam", {"optimizer": "adam", "lr": 0.01})):
        group, twin, gx, gy = _setup(bench_specs(models, device, **fields))
        shapes = step_shapes(models, gx.shape[1] // models, group.batch)
        compiled = CompiledEpoch(device)
        fused = {u: TritonSteps(group.net.models_last(), unrolled=u) for u in (True, False)}  # each on its own twin
        print(f"[fused] {label}: {models} models {group.net.sizes}, batch {group.batch}, {len(shapes)} steps per epoch,"
              f" {name}, torch {torch.__version__}, triton {triton.__version__}; best of {repeats}")
        metrics = (group.evals, group.data.train_sst, group.problem == "classification")

        def run_fused(unrolled: bool, block: int, warps: int, measure: bool = False) -> torch.Tensor:
            kernel = fused[unrolled]
            kernel.block, kernel.warps = block, warps
            return kernel.epoch((gx, gy), gx.shape[1] // models, group.batch, False, metrics if measure else None)[0]

        kind = {True: "unrolled", False: "tiled"}
        runs = [(f"fused kernel, {kind[u]:8s} BLOCK {b:3d}, {w} warps", (lambda u=u, b=b, w=w: run_fused(u, b, w))) for u, b, w in configs]
        runs += [(f"fused steps and metrics, {kind[u]:8s} BLOCK {b:3d}, {w} warps", (lambda u=u, b=b, w=w: run_fused(u, b, w, True)))
                 for u, b, w in defaults]
        if inductor:
            runs.append(("engine, compiled steps (Inductor)", lambda: compiled._steps(twin, gx, gy, shapes)))
            preds = compiled._steps(twin, gx, gy, shapes)
            runs.append(("engine, compiled metrics (Inductor)",
                         lambda: compiled._stats(twin, preds, gy, shapes, group.evals, group.data.train_sst, True)))
        timings = {}
        for run_name, fn in runs:
            try:
                fn()
                sync()
            except Exception as exc:  # a configuration that does not compile (registers, shared memory)
                print(f"  {run_name:58s}: failed: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                sync()
                best = min(best, time.perf_counter() - start)
            timings[run_name] = best
            rate = f", {models * len(shapes) / best:.3g} model-steps/s (steps only)" if "steps" in run_name or "kernel" in run_name else ""
            print(f"  {run_name:58s}: {best * 1e3:8.2f} ms per epoch{rate}", flush=True)
        best = {}
        for k in kind.values():
            mine = {n: v for n, v in timings.items() if n.startswith(f"fused kernel, {k}")}
            if mine:
                best[k] = min(mine, key=mine.get)
                print(f"  best {k}: {best[k]}, {timings[best[k]] * 1e3:.2f} ms")
        if len(best) == 2:
            print(f"  unrolled / tiled: {timings[best['tiled']] / timings[best['unrolled']]:.2f}x the speed")
        if best and "engine, compiled steps (Inductor)" in timings:
            fastest = min(best.values(), key=timings.get)
            print(f"  best: {fastest}, {timings['engine, compiled steps (Inductor)'] / timings[fastest]:.1f}x the compiled engine's steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="agreement with the engine (on CPU: TRITON_INTERPRET=1)")
    parser.add_argument("--kernels", choices=("both", "unrolled", "tiled"), default="both", help="which kernels --check runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sweep", action="store_true", help="time every block size and warp count")
    parser.add_argument("--no-inductor", action="store_true", help="leave out Inductor's steps and metrics (their first compilation is slow)")
    args = parser.parse_args()
    if args.check:
        check(args.device, unrolled={"both": None, "unrolled": True, "tiled": False}[args.kernels])
    else:
        speed(args.models, args.repeats, args.sweep, args.device, inductor=not args.no_inductor)


if __name__ == "__main__":
    main()
