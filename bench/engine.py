"""The stacked engine's speed, side by side with the eager ways, in one run.

Parts (``--part``, default ``one,many``):

* ``one``  — one model, the curriculum recipe (circle, 2-3-3-1 tanh, SGD lr 0.03 wd 0.03,
  MSE, batch 15, 250 training points): the engine, eager and compiled
  (``StackedGroup(..., compile=True)``: the fused C steps of
  :mod:`torchground.engine.kernels.native`, and Inductor's alone), against a plain ``DataLoader`` loop (the
  curriculum's, validation each epoch). Steps/s of each (training only, setup excluded
  for all), the ratios, and the largest per-epoch loss difference. Runs alternate;
  medians reported.
* ``many`` — M models 2-8-8-1, batch 10, on CPU (default M = 1024, distinct initial
  weights and learning rates): model-steps/s of the engine, eager and compiled
  (``compile=True``: the fused C steps, and Inductor's alone), once with one shared batch order and once
  with a distinct shuffle seed per model. Runs alternate; medians reported; validation
  on all models every epoch is included, as the trainer does it.
* ``default`` — what a user gets without flags (``train --engine fast``, plain ``sweep``:
  the fused C kernel where it covers the group, else the eager engine), side by side with
  the plain ``DataLoader`` loop, the engine with ``--no-fused`` and, with ``--tfpg FOLDER``
  (TF Playground's ``nn.js``, see ``bench/tfpg_node.py``), TF Playground's own engine in
  node: one model, the curriculum recipe (training only, as above); then ``run_sweep`` of
  M models 2-8-8-1 (default 1024, one batch order) over its whole run (grouping, data,
  the kernel's build, epochs, results; the specs made before the clock starts), each in
  a fresh process: on a cold kernel cache (an empty ``$TORCHGROUND_CACHE``), warm, and
  warm over ``--long-epochs`` (default 200), and with ``--no-fused``.
* ``gpu``  — M models (default 100 000) on ``--device`` (cuda): model-steps/s of the
  engine with and without CUDA graphs and compiled (the fused Triton kernels, unrolled
  and tiled, of :mod:`torchground.engine.kernels.triton_steps` — on the CPU the fused C steps —,
  and Inductor's alone unless ``--no-inductor``), against the eager trainer
  training one model on the same device (model-steps/s = its steps/s), and the largest
  loss difference of each to the eager engine. ``bench/gpu.sh`` runs this part.

    python bench/engine.py [--part one,many,default,gpu] [--epochs N] [--models M] [--repeats R] [--device cuda] [--no-inductor]
                           [--tfpg FOLDER] [--long-epochs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

from torchground import Spec
from torchground.engine import StackedGroup
from torchground.engine.kernels.dispatch import CompiledEpoch
from torchground.train import Trainer

from seed_recipe import plain_loop  # the same plain DataLoader loop both benches compare with


def engine_one(spec: Spec, compile: bool = False, fused: bool = True) -> tuple[float, int, list[tuple[float, float]]]:
    """The engine on one model, timed like the plain loop: training only (data and weights made before).
    ``fused=False``: compiled by Inductor alone (without the fused C steps)."""
    group = StackedGroup([spec], compile=compile)
    if compile and not fused:
        group._compiled = CompiledEpoch("cpu", fused=False)
    start = time.perf_counter()
    result = group.run()[0]
    wall = time.perf_counter() - start
    return wall, result.steps, [(r["train_loss"], r["val_loss"]) for r in result.history().rows]


def part_one(epochs: int, repeats: int) -> None:
    spec = Spec(epochs=epochs)
    plain_loop(spec.replace(epochs=2)), engine_one(spec.replace(epochs=2))  # warm-up
    start = time.perf_counter()
    engine_one(spec.replace(epochs=2), compile=True)  # builds the fused steps (cached on disk for later runs)
    compile_s = time.perf_counter() - start
    engine_one(spec.replace(epochs=2), compile=True, fused=False)  # compiles with Inductor (cached on disk)
    rates: dict[str, list[float]] = {"plain": [], "eager": [], "compiled": [], "inductor": []}
    worst = 0.0
    for _ in range(repeats):  # alternate, so that all see the same machine load
        wp, sp, lp = plain_loop(spec)
        rates["plain"].append(sp / wp)
        for name, compiled, fused in (("eager", False, True), ("compiled", True, True), ("inductor", True, False)):
            wf, sf, lf = engine_one(spec, compile=compiled, fused=fused)
            assert sp == sf
            rates[name].append(sf / wf)
            worst = max(worst, max(abs(a - b) for pa, pf in zip(lp, lf) for a, b in zip(pa, pf)))
    p, e, c, i = (statistics.median(rates[k]) for k in ("plain", "eager", "compiled", "inductor"))
    print(f"[one] curriculum recipe, 1 model, {epochs} epochs ({sp} steps), torch {torch.__version__}, medians of {repeats}")
    print(f"  plain DataLoader loop              : {p:10.0f} steps/s")
    print(f"  stacked engine, eager (M = 1)      : {e:10.0f} steps/s  {e / p:6.1f}x the plain loop")
    print(f"  compiled, fused C steps (M = 1)    : {c:10.0f} steps/s  {c / p:6.1f}x the plain loop (target 40x;"
          f" first build took {compile_s:.1f} s)")
    print(f"  compiled, Inductor only (M = 1)    : {i:10.0f} steps/s  {i / p:6.1f}x the plain loop")
    print(f"  largest per-epoch loss difference to the plain loop: {worst:.2g}")


def many_specs(models: int, epochs: int, distinct_orders: bool, device: str = "cpu") -> list[Spec]:
    base = Spec(hidden=(8, 8), batch_size=10, epochs=epochs, device=device)
    return [base.replace(init_seed=i, lr=0.003 * (1 + i % 10), shuffle_seed=i if distinct_orders else 0) for i in range(models)]


def timed_group(specs: list[Spec], cuda_graph: bool = True, compile: bool = False, fused: bool = True) -> tuple[float, float, int]:
    """(setup seconds, training seconds, model-steps); ``fused=False``: compiled by Inductor alone."""
    start = time.perf_counter()
    group = StackedGroup(specs, cuda_graph=cuda_graph, compile=compile)
    if compile and not fused:
        group._compiled = CompiledEpoch(group.device.type, fused=False)
    setup = time.perf_counter() - start
    if group.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    results = group.run()
    if group.device.type == "cuda":
        torch.cuda.synchronize()
    return setup, time.perf_counter() - start, sum(r.steps for r in results)


def part_many(models: int, epochs: int, repeats: int) -> None:
    print(f"[many] {models} models 2-8-8-1, batch 10, 250 points, {epochs} epochs, CPU, {torch.get_num_threads()} threads, medians of {repeats}")
    timed_group(many_specs(models, 1, False))  # warm-up
    start = time.perf_counter()
    for distinct in (False, True):
        timed_group(many_specs(models, 2, distinct), compile=True)  # builds and compiles (cached on disk)
    compile_s = time.perf_counter() - start
    for distinct in (False, True):
        timed_group(many_specs(models, 2, distinct), compile=True, fused=False)  # Inductor's steps (cached on disk)
    for distinct in (False, True):
        rates: dict[str, list[float]] = {"eager": [], "compiled": [], "inductor": []}
        for _ in range(repeats):  # alternate, so that all see the same machine load
            for name in rates:
                _, wall, steps = timed_group(many_specs(models, epochs, distinct), compile=name != "eager", fused=name == "compiled")
                rates[name].append(steps / wall)
        e, c, i = (statistics.median(rates[k]) for k in ("eager", "compiled", "inductor"))
        label = "distinct shuffle seeds" if distinct else "one shared batch order"
        print(f"  {label:24s}: eager {e:9.3g}  compiled, fused C steps {c:9.3g}  compiled, Inductor only {i:9.3g}"
              f" model-steps/s  (fused: {c / e:.1f}x eager, {c / i:.2f}x Inductor; target 2e6)")
    print(f"  first build and compilations (both orders) took {compile_s:.0f} s")


def part_gpu(models: int, epochs: int, device: str, inductor: bool = True) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --device cpu (or bench/gpu.sh --cpu-smoke)")
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"[gpu] {models} models 2-8-8-1, batch 10, {epochs} epochs on {device} ({name}), torch {torch.__version__}", flush=True)
    spec = Spec(hidden=(8, 8), batch_size=10, epochs=epochs, device=device)
    trainer = Trainer(spec.replace(epochs=1))
    trainer.fit()  # warm-up
    trainer = Trainer(spec)
    start = time.perf_counter()
    history = trainer.fit()
    if device == "cuda":
        torch.cuda.synchronize()
    eager = history.steps / (time.perf_counter() - start)
    print(f"  eager trainer, 1 model          : {eager:14.0f} model-steps/s", flush=True)
    specs = many_specs(models, epochs, distinct_orders=False, device=device)
    timed_group(specs[: min(models, 64)], cuda_graph=True)  # warm-up (kernels, graph capture path)
    compile_s = {}
    kernel = "fused Triton steps" if device == "cuda" else "fused C steps"
    for fused in (True, False) if inductor else (True,):  # compiles this shape: two epochs are enough
        start = time.perf_counter()
        warm = StackedGroup(specs, compile=True)
        warm.epochs = 2  # (and making 10⁵ specs again takes seconds)
        warm._compiled = CompiledEpoch(device, fused=fused)
        warm.run()
        compile_s[kernel if fused else "Inductor"] = time.perf_counter() - start
        del warm
    variants = [("stacked engine, CUDA graph", True, None), ("stacked engine, eager", False, None),
                (f"compiled, {kernel}", False, True), ("compiled, Inductor only", False, False)]
    if device == "cuda":  # the tiled Triton kernels too (the default for nets too big for the unrolled ones)
        variants.insert(3, ("compiled, tiled Triton kernels", False, "tiled"))
    losses = {}
    if not inductor:  # --no-inductor: its first compilation of 10⁵ models took 110 s on an H100
        variants.pop()
    for label, graph, fused in (variants if device == "cuda" else variants[1:]):
        group = StackedGroup(specs, cuda_graph=graph, compile=fused is not None)
        if fused is not None:
            group._compiled = CompiledEpoch(device, fused=bool(fused))
        if fused == "tiled":
            from torchground.engine.kernels import triton_unrolled as fused_triton_unrolled

            fused_triton_unrolled.MAX_PARAMS = 0  # every net to the tiled kernels from here on
        if device == "cuda":
            torch.cuda.synchronize()
        ends: list[float] = []  # after each epoch (the host has waited for the device's table)
        start = time.perf_counter()
        results = group.run(progress=lambda e, n: ends.append(time.perf_counter()))
        if device == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
        steps = sum(r.steps for r in results)
        losses[label] = [r.history().rows for r in results[:: max(1, models // 200)]]  # 200 models' histories
        steady = steps * (len(ends) - 1) / len(ends) / (ends[-1] - ends[0]) if len(ends) > 1 else float("nan")
        print(f"  {label:32s}: {steps / wall:14.0f} model-steps/s  ({steps / wall / eager:.0f}x eager; {wall:.2f} s;"
              f" epochs 2-{len(ends)} alone: {steady:.3g}; first epoch {ends[0] - start:.2f} s, results"
              f" {wall - (ends[-1] - start):.2f} s; target 3e8 on an H100)", flush=True)
        if fused:
            which = {True: "unrolled ", False: "tiled ", None: ""}[getattr(group._compiled._kernel or None, "unrolled", None)]
            print(f"  {'':32s}  ({which}{kernel} in {group._compiled.fused_epochs} of {len(ends)} epochs: the first one is"
                  " checked against 8 models' eager steps)", flush=True)
        del group, results
    print("  first compilation of this shape (a 2-epoch run): " + ", ".join(f"{k} {v:.0f} s" for k, v in compile_s.items()))
    reference = losses.pop("stacked engine, eager")
    for label, rows in losses.items():
        worst = max(abs(a[k] - b[k]) for ra, rb in zip(reference, rows) for a, b in zip(ra, rb) for k in ("train_loss", "val_loss"))
        print(f"  largest per-epoch loss difference, {label} vs eager (200 models): {worst:.2g}")


def default_one(spec: Spec, fused: bool = True) -> tuple[float, int, list[tuple[float, float]]]:
    """``train --engine fast`` (``fused=False``: with ``--no-fused``), timed like the plain loop."""
    group = StackedGroup([spec], fused=fused)
    start = time.perf_counter()
    result = group.run()[0]
    wall = time.perf_counter() - start
    assert group.path == ("fused" if fused else "eager"), group.path
    return wall, result.steps, [(r["train_loss"], r["val_loss"]) for r in result.history().rows]


# A plain sweep in a fresh process: run_sweep's whole run; prints {"rate", "wall", "path"}.
SWEEP = r"""
import json, sys
from torchground import Spec
from torchground.engine import run_sweep
models, epochs, fused = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
base = Spec(hidden=(8, 8), batch_size=10, epochs=epochs)
specs = [base.replace(init_seed=i, lr=0.003 * (1 + i % 10)) for i in range(models)]
result = run_sweep(specs, fused=fused)
print(json.dumps({"rate": result.model_steps / result.wall_s, "wall": result.wall_s, "path": result.path}))
"""


def sweep_process(models: int, epochs: int, fused: bool, cache: str) -> dict:
    import json
    import os

    env = {**os.environ, "TORCHGROUND_CACHE": cache}
    out = subprocess.run([sys.executable, "-c", SWEEP, str(models), str(epochs), str(int(fused))], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_default(models: int, epochs: int, long_epochs: int, repeats: int, tfpg: str | None) -> None:
    import os
    import shutil
    import tempfile

    spec = Spec(epochs=100)
    ways = {"plain loop": lambda: plain_loop(spec), "fast --no-fused": lambda: default_one(spec, fused=False),
            "fast (default)": lambda: default_one(spec)}
    if tfpg:
        from pathlib import Path

        from tfpg_node import tfpg_node

        ways["TF Playground, node"] = lambda: tfpg_node(Path(tfpg), spec)
    for way in ways.values():  # warm-up: imports, the kernel build, node's JIT
        way()
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):  # alternate, so that all see the same machine load
        for name, way in ways.items():
            seconds, steps, _ = way()
            rates[name].append(steps / seconds)
    med = {name: statistics.median(r) for name, r in rates.items()}
    print(f"[default] one model, curriculum recipe, 100 epochs, torch {torch.__version__}, medians of {repeats};"
          f" load average {os.getloadavg()[0]:.1f}")
    for name, rate in med.items():
        tf = f"  {rate / med['TF Playground, node']:5.2f}x TF Playground (target 2x)" if tfpg else ""
        print(f"  {name:22s}: {rate:10.0f} steps/s  {rate / med['plain loop']:6.1f}x the plain loop (target 40x){tf}")
    warm = tempfile.mkdtemp(prefix="tg-bench-warm-")
    sweep_process(16, 2, True, warm)  # builds this shape's kernel into the warm cache
    rows: dict[str, list[float]] = {"cold cache, %d epochs" % epochs: [], "warm cache, %d epochs" % epochs: [],
                                    "warm cache, %d epochs" % long_epochs: [], "--no-fused, %d epochs" % epochs: []}
    for _ in range(repeats):
        cold = tempfile.mkdtemp(prefix="tg-bench-cold-")
        try:
            got = [sweep_process(models, epochs, True, cold), sweep_process(models, epochs, True, warm),
                   sweep_process(models, long_epochs, True, warm), sweep_process(models, epochs, False, warm)]
        finally:
            shutil.rmtree(cold, ignore_errors=True)
        assert [g["path"] for g in got] == ["fused", "fused", "fused", "eager"], got
        for row, g in zip(rows.values(), got):
            row.append(g["rate"])
    shutil.rmtree(warm, ignore_errors=True)
    print(f"[default] run_sweep of {models} models 2-8-8-1, batch 10, one batch order, whole run, each in a fresh process,"
          f" medians of {repeats}; load average {os.getloadavg()[0]:.1f}")
    targets = {0: "1.5e6", 2: "8e6"}
    for k, (name, row) in enumerate(rows.items()):
        target = f"  (target {targets[k]})" if k in targets else ""
        print(f"  {name:24s}: {statistics.median(row):10.3g} model-steps/s{target}   [{', '.join(f'{r:.3g}' for r in row)}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="one,many")
    parser.add_argument("--epochs", type=int, default=None, help="default: 100 (one), 20 (many), 20 (gpu)")
    parser.add_argument("--models", type=int, default=None, help="default: 1024 (many), 100000 (gpu)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda", help="device of the gpu part")
    parser.add_argument("--no-inductor", action="store_true", help="gpu part: leave out Inductor alone (its first compilation is slow)")
    parser.add_argument("--tfpg", default=None, help="default part: a folder holding TF Playground's nn.js (bench/tfpg_node.py)")
    parser.add_argument("--long-epochs", type=int, default=200, help="default part: epochs of the long warm sweep")
    args = parser.parse_args()
    parts = args.part.split(",")
    if len(parts) > 1:  # each part in its own process: compiled code's OpenMP threads must not slow the next part
        for part in parts:
            subprocess.run([sys.executable, __file__, "--part", part, *_without_part(sys.argv[1:])], check=True)
        return
    if "one" in parts:
        part_one(args.epochs or 100, args.repeats)
    if "many" in parts:
        part_many(args.models or 1024, args.epochs or 20, args.repeats)
    if "default" in parts:
        part_default(args.models or 1024, args.epochs or 20, args.long_epochs, args.repeats, args.tfpg)
    if "gpu" in parts:
        part_gpu(args.models or 100_000, args.epochs or 20, args.device, inductor=not args.no_inductor)


def _without_part(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--part":
            skip = True
        elif not a.startswith("--part="):
            out.append(a)
    return out


if __name__ == "__main__":
    main()
