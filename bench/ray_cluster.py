"""The ray backend on a two-node cluster of this machine, side by side with the local backend.

Starts a Ray head and a worker node (``ray start --head --num-cpus 1 ... --block`` and
``ray start --address ... --num-cpus 1 --block``, one CPU each, in subprocesses, with token
authentication, a fresh token; stopped at the end), then sweeps M models 2-8-8-1 (batch 10, 250 training points, a learning rate and
initial weights per model) for E epochs, eager and ``--compile``:

* ``local``: ``run_sweep(specs)`` in this process, with torch's threads (every core) and
  with one thread (what a one-CPU Ray task gets);
* ``ray``: ``run_sweep(specs, backend="ray", address=...)`` on the cluster, chunks as the
  backend picks them (``--models-per-task`` to force).

For each: wall time, model-steps/s, and for Ray the tasks, each node's model-steps/s while
busy, the mean per-task rate, the time outside training (connect, scheduling, results back)
and the pickled size of a model's result. Then, on paper, what ``--project-nodes`` nodes
with one GPU each would take for ``--project-models`` models, from a per-task rate:
the one measured here (CPU) and ``--gpu-rate`` (a GPU task's model-steps/s, e.g. the
engine's measured steady rate on one GPU).

    python bench/ray_cluster.py [--models 1024] [--epochs 10] [--models-per-task N]
                                [--project-models 1e6] [--project-nodes 10] [--project-epochs 20] [--gpu-rate 3.3e8]
"""

from __future__ import annotations

import argparse
import os
import pickle
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from torchground import Spec
from torchground.engine import run_sweep
from torchground.engine.sweep.ray_tasks import pack_results, unpack_results

OBJECT_STORE = str(200 * 2**20)


def specs(models: int, epochs: int) -> list[Spec]:
    lrs = [0.003 * 1.5**k for k in range(8)]
    return [Spec(hidden=(8, 8), batch_size=10, epochs=epochs, lr=round(lrs[i % 8], 6), init_seed=i) for i in range(models)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str], tries: int = 3) -> subprocess.Popen:
    """``ray start ... --block`` in a subprocess, once it says it is up (tried again if it
    timed out starting, as it may on a busy machine)."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    for _ in range(tries):
        proc = subprocess.Popen([ray_cli, "start", *args, "--num-cpus", "1", "--object-store-memory", OBJECT_STORE,
                                 "--disable-usage-stats", "--block"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        seen, deadline = "", time.monotonic() + 300
        while "block forever" not in seen and proc.poll() is None and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 1.0)[0]:
                seen += os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
        if "block forever" in seen:
            return proc
        _stop(proc)
        print(f"  ray start {' '.join(args[:1])} failed, trying again: {seen.strip().splitlines()[-1][:200] if seen.strip() else ''}", flush=True)
    raise SystemExit(f"ray start failed:\n{seen[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)  # --block: the node's processes go with it
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _row(name: str, result) -> dict:
    rate = result.model_steps / result.wall_s
    print(f"  {name:26s} wall {result.wall_s:7.2f} s  {rate:10.3g} model-steps/s", flush=True)
    return {"name": name, "wall": result.wall_s, "rate": rate, "steps": result.model_steps}


def _ray_details(result) -> dict:
    c = result.cluster
    busy = max(n["busy_s"] for n in c["nodes"].values())
    task_s = sum(n["task_s"] for n in c["nodes"].values())
    per_task = result.model_steps / task_s
    outside = result.wall_s - busy
    sample = result.results[: min(256, len(result.results))]
    blob = pickle.dumps(pack_results(sample))  # as a task sends them
    start = time.perf_counter()
    unpack_results(pickle.loads(blob), [r.spec for r in sample])
    loads = (time.perf_counter() - start) / len(sample)
    nodes = ", ".join(f"{n['tasks']} tasks {n['model_steps_per_s']:.3g}/s" for n in c["nodes"].values())
    print(f"    {c['tasks']} tasks of up to {c['models_per_task']} models; nodes: {nodes}; per task {per_task:.3g} model-steps/s;"
          f" {outside:.2f} s outside training ({outside / c['tasks'] * 1e3:.0f} ms a task); a model's result"
          f" {len(blob) / len(sample) / 1e3:.1f} kB packed, {loads * 1e6:.1f} us to unpickle and unpack", flush=True)
    return {"per_task": per_task, "outside_per_task": outside / c["tasks"], "bytes_per_model": len(blob) / len(sample), "loads_s": loads}


def project(models: float, nodes: int, epochs: int, rate: float, details: dict, label: str) -> None:
    """Training at ``rate`` a task, one task a node at a time; 2 tasks a node (as the backend cuts
    for GPUs), each with the measured time outside training; results over 10 Gb/s and unpickled."""
    steps = models * epochs * 25
    train = steps / (nodes * rate)
    outside = 2 * details["outside_per_task"]
    transfer = models * details["bytes_per_model"] / 1.25e9
    unpickle = models * details["loads_s"]
    print(f"  {label}: {models:.0e} models x {epochs} epochs = {steps:.2g} model-steps on {nodes} nodes at {rate:.3g}/s a task:"
          f" training {train:.3g} s + outside training {outside:.3g} s + results {transfer:.3g} s over 10 Gb/s"
          f" + {unpickle:.3g} s unpickling on the driver = {train + outside + transfer + unpickle:.3g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--models-per-task", type=int, default=None)
    parser.add_argument("--project-models", type=float, default=1e6)
    parser.add_argument("--project-nodes", type=int, default=10)
    parser.add_argument("--project-epochs", type=int, default=20)
    parser.add_argument("--gpu-rate", type=float, default=3.3e8)
    args = parser.parse_args()
    work = specs(args.models, args.epochs)
    print(f"[ray_cluster] {args.models} models 2-8-8-1, batch 10, {args.epochs} epochs; torch {torch.__version__},"
          f" {os.cpu_count()} CPUs here, local backend on {torch.get_num_threads()} threads", flush=True)
    run_sweep(specs(64, 2), compile=True)  # builds the fused kernels once (disk cache shared with the cluster)
    rows = []
    for threads in dict.fromkeys((torch.get_num_threads(), 1)):  # a Ray task gets one CPU: one thread
        torch.set_num_threads(threads)
        for compile in (False, True):
            rows.append(_row(f"local {threads} thr, " + ("--compile" if compile else "eager"), run_sweep(work, compile=compile)))
    port = _free_port()
    start = time.perf_counter()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),  # a token-authenticated cluster
           "RAY_raylet_start_wait_time_s": "120"}
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=env["RAY_AUTH_TOKEN"])  # and this driver joins it with the token
    head = _start(["--head", "--port", str(port), "--include-dashboard", "false"], env)
    details = {}
    try:
        worker = _start(["--address", f"127.0.0.1:{port}"], env)
        try:
            print(f"  two-node cluster (1 CPU each) up in {time.perf_counter() - start:.1f} s", flush=True)
            for compile in (False, True):
                name = "ray 2x1 CPU, " + ("--compile" if compile else "eager")
                result = run_sweep(work, backend="ray", address=f"127.0.0.1:{port}", models_per_task=args.models_per_task, compile=compile)
                rows.append(_row(name, result))
                details[compile] = _ray_details(result)
        finally:
            _stop(worker)
    finally:
        _stop(head)
    print("  on paper:")
    best = max(details.values(), key=lambda d: d["per_task"])
    project(args.project_models, args.project_nodes, args.project_epochs, best["per_task"], best, "the CPU task rate measured here")
    project(args.project_models, args.project_nodes, args.project_epochs, args.gpu_rate, best, "a GPU task rate of --gpu-rate")


if __name__ == "__main__":
    main()
