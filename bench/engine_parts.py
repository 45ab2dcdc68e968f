"""The compiled engine's epoch, part by part: where an epoch of M models goes.

Times each part of :meth:`~torchground.engine.kernels.dispatch.CompiledEpoch.run` on its own
(synchronised on a GPU; the mean of ``--repeats`` calls after one warm-up): the eager
gather, the compiled steps (Inductor's, and the fused kernel's where it covers the group, with and
without the epoch's metrics), the compiled metrics, the twin's two syncs, the snapshot and
the copy of the epoch's table to the host. On CUDA it also captures the compiled steps in a
CUDA graph, to tell kernel time from launch overhead.

    python bench/engine_parts.py --models 1024                  # CPU
    python bench/engine_parts.py --models 100000 --device cuda  # GPU
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import torch

from torchground.engine import StackedGroup
from torchground.engine.epoch import gather, step_shapes

from engine import many_specs  # the bench's models: 2-8-8-1, batch 10, distinct weights and learning rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1024)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    M, device = args.models, args.device
    sync: Callable[[], Any] = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    start = time.perf_counter()
    group = StackedGroup(many_specs(M, 2, False, device=device), compile=True)
    group.run()  # compiles (Inductor caches it on disk)
    compiled, net = group._compiled, group.net
    print(f"[parts] {M} models 2-8-8-1 on {device}, torch {torch.__version__}; setup, compilation and 2 epochs"
          f" {time.perf_counter() - start:.1f} s; compiled: {compiled.ok}")

    def clock(name: str, fn: Callable[[], Any]) -> Any:
        out = fn()
        sync()
        start = time.perf_counter()
        for _ in range(args.repeats):
            out = fn()
        sync()
        print(f"  {name:34s} {(time.perf_counter() - start) * 1e3 / args.repeats:8.2f} ms")
        return out

    x, y = group.data.sets["train"]
    order = torch.randperm(x.shape[1]).to(device).expand(M, -1)
    shapes = step_shapes(1, x.shape[1], group.batch)  # one shared order: gathered once
    twin = compiled.twin(net)
    gx, gy = clock("gather (one shared order)", lambda: gather(x, y, order[:1], group.batch, last=True))
    clock("gather (an order per model)", lambda: gather(x, y, order.contiguous(), group.batch, last=True))
    preds = clock(f"steps ({len(shapes)}, Inductor)", lambda: compiled._steps(twin, gx, gy, shapes))
    args_ = (group.evals, group.data.train_sst, True)
    kernel = compiled._fused_kernel(twin)
    if kernel is not None:  # our own kernel (Triton on CUDA, C on the CPU)
        data = (x, y, order) if kernel.gathers else (gx, gy)
        N = x.shape[1]
        clock(f"steps ({len(shapes)}, {type(kernel).__name__})", lambda: kernel.epoch(data, N, group.batch, True))
        if kernel.gathers:  # the C kernel gathers each point itself
            clock(f"steps, an order per model ({type(kernel).__name__})",
                  lambda: kernel.epoch((x, y, order.contiguous()), N, group.batch, False))
        clock(f"steps and metrics ({type(kernel).__name__})", lambda: kernel.epoch(data, N, group.batch, True, args_))
    stats = clock("metrics (compiled)", lambda: compiled._stats(twin, preds, gy, shapes, *args_))
    clock("twin.load_from(net)", lambda: twin.load_from(net))
    clock("net.load_from(twin)", lambda: net.load_from(twin))
    clock("net.snapshot", lambda: net.snapshot())
    clock("table to host", lambda: group._to_host(stats, len(shapes)))
    if device == "cuda":
        try:
            sgx, sgy = gx.clone(), gy.clone()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                compiled._steps(twin, sgx, sgy, shapes)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                compiled._steps(twin, sgx, sgy, shapes)
            clock("steps, compiled, in a CUDA graph", graph.replay)
        except Exception as exc:  # capture is an experiment here: report, do not stop
            print(f"  capture failed: {type(exc).__name__}: {str(exc)[:200]}")


if __name__ == "__main__":
    main()
