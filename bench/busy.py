"""`sweep` and `train` on a quiet and on a busy CPU, before and after the thread rule, side by side.

"Busy": one CPU-bound process (``python -c "while 1: pass"``) per core, each in a session
of its own (as another user's program would be), started before the timed run and killed
after it. Each case is timed quiet and busy, alternately, with
the intra-op threads chosen by ``torchground.train.threads`` ("after") and with the count
the code chose before issue 18 ("before", forced through ``TORCHGROUND_THREADS``):

=====================================  ==========================================================
case (what a user types)               run here
=====================================  ==========================================================
``sweep`` (no flags)                   ``run_sweep`` of M models 2-8-8-1, batch 10 (fused kernel)
``sweep --no-fused``                   the same on the stacked engine's eager steps
``train --engine fast``                ``train_fast`` of the curriculum recipe (fused kernel)
``train``                              the eager ``Trainer`` on the same recipe
=====================================  ==========================================================

The model behind the "fair" column: C cores, N hog processes, our run with T threads.
The scheduler shares the cores evenly among the T + N busy threads, so each of ours gets
min(1, C / (T + N)) of a core; quiet, the run had min(T, C) cores. A run that loses
nothing but that share takes min(T, C) / (T · min(1, C / (T + N))) times as long busy as
quiet: 2.0 with T = C = N = 2, 1.5 with one thread (T = 1) beside two hogs. (Where the
scheduler shares by session (Linux's autogroup), each of the N + 1 processes gets C / (N + 1)
cores: the same 1.5 for one thread, 3.0 for two.) The fused kernel of a large group takes
the cores no other process uses (``kernel_threads``): T = C quiet and T = 1 beside the hogs,
a fair ratio of C / min(1, C / (1 + N)) = 3.0 here. The issue's
bound, the share of the machine a process keeps beside N hogs, C / (C + N), allows
(C + N) / C: 2.0 here. Other processes already running on the machine are not in the
model: the load averages printed beside the table say how quiet "quiet" was.

Where the old and the new count are the same, the case runs once and its figures stand for
both.

    python bench/busy.py [--models 1024] [--epochs 20] [--fast-epochs 3000] [--train-epochs 300] [--repeats 3]
                         [--cases sweep,sweep-eager,fast,train,ops]

``ops`` (not in the default cases) times one operation of growing size with one and two
threads, quiet and busy: where splitting starts to pay (the rule's grain).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from torchground import Spec
from torchground.engine import run_sweep, train_fast
from torchground.engine.net import layer_sizes
from torchground.train import Trainer
from torchground.engine.kernels.native import MIN_MODELS_PER_THREAD
from torchground.train.threads import ENV, cores, threads_for

TORCH_DEFAULT = torch.get_num_threads()  # what "leave torch's default" meant before the rule


def old_threads(kind: str, models: int, spec: Spec) -> int:
    """The count the code chose before issue 18 (its rules, restated here to force them)."""
    widest = max(layer_sizes(spec))
    batch = spec.n_train if spec.batch_size == "full" else int(spec.batch_size)
    if kind == "train":  # Trainer._threads: the largest set's rows x widest layer
        return 1 if spec.n_train * widest < 1_000_000 else TORCH_DEFAULT
    if kind in ("sweep", "fast") and models >= 128:  # fused groups of 128 models or more kept torch's default
        return TORCH_DEFAULT
    return 1 if models * batch * widest < 20_000 else TORCH_DEFAULT


def new_threads(kind: str, models: int, spec: Spec) -> int | tuple[int, int]:
    """The count the rule chooses (the same sizes as the engines give it); for a fused group
    of 128 models or more (``sweep``), the kernel's: the free cores (``kernel_threads``),
    as ``(quiet, busy)`` — every core quiet, one beside the hogs. The group's own operations
    take the per-operation count."""
    widest = max(layer_sizes(spec))
    batch = spec.n_train if spec.batch_size == "full" else int(spec.batch_size)
    if kind == "train":
        return threads_for(batch * widest) or 1
    if kind == "sweep" and models >= 2 * MIN_MODELS_PER_THREAD:
        return (cores(), 1)
    return threads_for(models * (spec.n_train if kind in ("sweep", "fast") else batch) * widest) or 1


@contextmanager
def hogs(n: int) -> Iterator[None]:
    """``n`` CPU-bound processes for the block (killed after it, whatever happens)."""
    # Each in a session of its own, like another user's program: where Linux groups the
    # scheduler's shares by session (autogroup), children of this script would share its group.
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"], start_new_session=True) for _ in range(n)]
    try:
        time.sleep(0.5)  # let them start spinning
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@contextmanager
def forced_threads(n: int | None) -> Iterator[None]:
    before = os.environ.get(ENV)
    if n is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = str(n)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def cases(models: int, epochs: int, fast_epochs: int, train_epochs: int) -> dict[str, tuple[str, int, Spec, Callable[[], object]]]:
    base = Spec(hidden=(8, 8), batch_size=10, epochs=epochs)
    specs = [base.replace(init_seed=i, lr=0.003 * (1 + i % 10)) for i in range(models)]
    fast, recipe = Spec(epochs=fast_epochs), Spec(epochs=train_epochs)
    return {
        "sweep": (f"sweep, {models} models 2-8-8-1, {epochs} epochs", models, base, lambda: run_sweep(specs)),
        "sweep-eager": ("sweep --no-fused, the same", models, base, lambda: run_sweep(specs, fused=False)),
        "fast": (f"train --engine fast, recipe, {fast_epochs} epochs", 1, fast, lambda: train_fast(fast)),
        "train": (f"train (eager), recipe, {train_epochs} epochs", 1, recipe, lambda: Trainer(recipe).fit()),
    }


def ops_part(repeats: int, n: int) -> None:
    """Where splitting one operation starts to pay, quiet and busy: a layer's batched product
    and tanh, (m, 10, 8) @ (m, 8, 8), for m x 10 x 8 elements, repeated to the same total."""
    print("\n[ops] one layer's bmm + tanh; seconds for 2^27 elements in all, 1 and 2 threads, medians")
    print("| elements an operation | quiet, 1 thread | quiet, 2 threads | busy, 1 thread | busy, 2 threads |")
    print("|---|---|---|---|---|")
    for log2 in range(14, 28, 2):
        m = max(1, (1 << log2) // 80)
        x, w = torch.randn(m, 10, 8), torch.randn(m, 8, 8)
        reps = max(1, (1 << 27) // (m * 80))

        def work(x: torch.Tensor = x, w: torch.Tensor = w, reps: int = reps) -> None:
            for _ in range(reps):
                torch.tanh(torch.bmm(x, w))

        times = {}
        for busy in (False, True):
            for threads in (1, 2):
                with forced_threads(threads):
                    torch.set_num_threads(threads)
                    runs = []
                    for _ in range(repeats):
                        if busy:
                            with hogs(n):
                                runs.append(timed(work))
                        else:
                            runs.append(timed(work))
                times[busy, threads] = statistics.median(runs)
        torch.set_num_threads(TORCH_DEFAULT)
        print(f"| 2^{log2} | {times[False, 1]:.3f} | {times[False, 2]:.3f} | {times[True, 1]:.3f} | {times[True, 2]:.3f} |", flush=True)


def _count(threads: int | tuple[int, int]) -> str:
    """A thread count as printed: ``2``, or ``2 quiet, 1 busy`` for the kernel's free cores."""
    return f"{threads[0]} quiet, {threads[1]} busy" if isinstance(threads, tuple) else f"{threads:2d}"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def runnable() -> int:
    """Threads runnable on the machine now, this one included (``/proc/loadavg``'s fourth field)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[0])


def sampled(fn: Callable[[], object], samples: list[int]) -> float:
    """``timed(fn)``, counting the machine's runnable threads every 20 ms meanwhile."""
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            samples.append(runnable())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        return timed(fn)
    finally:
        done.set()
        sampler.join()


def fair_with(threads: int | tuple[int, int], c: int, others_quiet: float, others_busy: float) -> float:
    """As :func:`fair`, with the other runnable threads measured during the runs (background
    load, and hogs when busy) in place of the idle machine's 0 and N."""
    tq, tb = threads if isinstance(threads, tuple) else (threads, threads)
    quiet = tq * min(1.0, c / (tq + others_quiet))
    busy = tb * min(1.0, c / (tb + others_busy))
    return quiet / busy


def fair(threads: int | tuple[int, int], c: int, n: int) -> float:
    """The busy/quiet ratio of a run that loses only its fair share (module docstring);
    ``threads`` may differ quiet and busy: ``(quiet, busy)``."""
    tq, tb = threads if isinstance(threads, tuple) else (threads, threads)
    return min(tq, c) / (tb * min(1.0, c / (tb + n)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--fast-epochs", type=int, default=3000)
    ap.add_argument("--train-epochs", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cases", default="sweep,sweep-eager,fast,train")
    args = ap.parse_args()
    c = cores()
    n = os.cpu_count() or 1
    table = cases(args.models, args.epochs, args.fast_epochs, args.train_epochs)
    chosen = [k for k in args.cases.split(",") if k and k != "ops"]
    print(f"torch {torch.__version__}, {c} cores for this process, {n} hog processes when busy, torch's default threads {TORCH_DEFAULT},"
          f" medians of {args.repeats}; fair bound (C + N) / C = {(c + n) / c:.2f}", flush=True)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    for key in chosen:  # warm-up: builds the fused kernels (cached), imports, first-use costs
        label, models, spec, fn = table[key]
        with forced_threads(1):
            timed(fn)
    rows = []
    busy_loads = []
    for key in chosen:
        label, models, spec, fn = table[key]
        old, new = old_threads(key, models, spec), new_threads(key, models, spec)
        for when, count in (("before", old), ("after", None)):
            threads = count if count is not None else new
            if when == "after" and old == new:  # the same count: the same run, measured once
                rows.append((*rows[-1][:1], when, *rows[-1][2:]))
                print(f"  {label:44s} {when:6s} {_count(threads)} threads  the same as before", flush=True)
                continue
            quiet, busy, q_seen, b_seen = [], [], [], []
            with forced_threads(count):
                for _ in range(args.repeats):  # alternate, so both see the same background load
                    quiet.append(sampled(fn, q_seen))
                    with hogs(n):
                        busy.append(sampled(fn, b_seen))
                        busy_loads.append(os.getloadavg()[0])
            q, b = statistics.median(quiet), statistics.median(busy)
            tq, tb = threads if isinstance(threads, tuple) else (threads, threads)
            # other runnable threads: the count less the run's own threads and the sampler
            oq = max(0.0, statistics.mean(q_seen or [tq + 1]) - tq - 1)
            ob = max(0.0, statistics.mean(b_seen or [tb + 1 + n]) - tb - 1)
            fb = fair_with(threads, c, oq, ob)
            rows.append((label, when, threads, q, b, b / q, fair(threads, c, n), oq, ob, fb))
            print(f"  {label:44s} {when:6s} {_count(threads)} threads  quiet {q:7.2f} s  busy {b:7.2f} s  ratio {b / q:5.2f}"
                  f"  fair {fair(threads, c, n):4.2f}, with the others {fb:4.2f} ({oq:.1f} other threads quiet, {ob:.1f} busy)   (quiet {min(quiet):.2f}-{max(quiet):.2f}, busy {min(busy):.2f}-{max(busy):.2f})", flush=True)
    if "ops" in args.cases.split(","):
        ops_part(args.repeats, n)
    if not rows:
        return
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())};"
          f" 1-minute load during busy runs {min(busy_loads):.1f}-{max(busy_loads):.1f}")
    print("\n| case | threads (before → after) | quiet s before | busy s before | ratio before | quiet s after | busy s after"
          " | ratio after | fair ratio, idle machine | fair ratio, measured others (quiet / busy) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i in range(0, len(rows), 2):
        (label, _, t0, q0, b0, r0, *_), (_, _, t1, q1, b1, r1, f1, oq, ob, fb) = rows[i], rows[i + 1]
        print(f"| {label} | {_count(t0)} → {_count(t1)} | {q0:.2f} | {b0:.2f} | {r0:.2f} | {q1:.2f} | {b1:.2f} | {r1:.2f} | {f1:.2f}"
              f" | {fb:.2f} ({oq:.1f} / {ob:.1f}) |")


if __name__ == "__main__":
    main()
