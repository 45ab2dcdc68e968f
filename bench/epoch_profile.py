"""Where a compiled group's epoch goes, by ``torch.profiler``: the host's calls and the
device's kernels over a few steady epochs (the first, compiled and checked, left out).

    python bench/epoch_profile.py --device cuda --models 100000     # a GPU machine
    python bench/epoch_profile.py --device cpu --models 1024        # the fused C kernel

Prints the wall time per epoch, then the operators by total host time and by device time.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from torchground.engine import StackedGroup

from engine import many_specs  # bench/engine.py's models: 2-8-8-1, batch 10, distinct weights and learning rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=6, help="epochs profiled after the first two")
    parser.add_argument("--rows", type=int, default=25, help="rows of each table")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    group = StackedGroup(many_specs(args.models, 2 + args.epochs, distinct_orders=False, device=args.device), compile=True)
    ends: list[float] = []
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    prof = profile(activities=activities)

    def progress(epoch: int, epochs: int) -> None:
        ends.append(time.perf_counter())
        if epoch == 2:
            prof.start()
        if epoch == epochs:
            prof.stop()

    group.run(progress=progress)
    steady = (ends[-1] - ends[1]) / (len(ends) - 2)
    print(f"[profile] {args.models} models 2-8-8-1 on {args.device}: {steady * 1e3:.2f} ms per epoch (epochs 3-{len(ends)},"
          f" profiler on), fused epochs {group._compiled.fused_epochs if group._compiled else 0}")
    table = prof.key_averages()
    print(table.table(sort_by="cpu_time_total", row_limit=args.rows))
    if cuda:
        print(table.table(sort_by="self_cuda_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
