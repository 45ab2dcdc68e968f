"""Tests of the ray backend on a real local Ray cluster (a head and a worker node, one CPU
each, started by ``ray start``; no mock of Ray): chunked sweeps give the local backend's
results, joining by address and ``RAY_ADDRESS``, one kernel build per node, a worker killed
mid-sweep, token authentication."""

from __future__ import annotations

import csv
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from torchground.cli import main
from torchground.engine import run_sweep
from torchground.spec import Spec

ray = pytest.importorskip("ray")
importlib.import_module("torchground.cli.sweep_cmd")
pytestmark = [pytest.mark.slow, pytest.mark.ray]

OBJECT_STORE = str(100 * 2**20)


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node on this machine (``ray start --head`` and ``ray start --address``,
    one CPU each, in subprocesses); stopped after the module. ``.address``: the head's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="disabled", RAY_raylet_start_wait_time_s="120")  # (tokens: a test of their own)
    port = _free_port()
    node = ["--num-cpus", "1", "--object-store-memory", OBJECT_STORE]
    head = _ray_start_block(["--head", "--port", str(port), "--include-dashboard", "false", *node], env)
    try:
        worker = _ray_start_block(["--address", f"127.0.0.1:{port}", *node], env)
        try:
            yield SimpleNamespace(address=f"127.0.0.1:{port}")
        finally:
            if ray.is_initialized():
                ray.shutdown()
            _stop(worker)
    finally:
        _stop(head)


def _same(local, remote) -> None:
    assert len(local.results) == len(remote.results)
    for a, b in zip(local.results, remote.results):
        assert a.spec == b.spec and a.status == b.status and a.steps == b.steps
        assert torch.equal(a.params, b.params)
        assert np.array_equal(a.metrics, b.metrics, equal_nan=True)


def _specs(epochs=3, **fields):
    return [
        Spec(epochs=epochs, n_samples=120, activation="relu", output_activation="identity", lr=lr, hidden=h, init_seed=s, **fields)
        for lr in (0.03, 0.3, 60.0) for h in ((3,), (4, 2)) for s in range(3)
    ]


def test_chunks_on_two_nodes_give_the_local_results(cluster):
    specs = _specs()
    done = []
    remote = run_sweep(specs, backend="ray", address=cluster.address, models_per_task=4, progress=done.append)
    local = run_sweep(specs)
    _same(local, remote)
    assert "diverged" in {r.status for r in remote.results}  # a model's own failure is one of its chunk's results
    assert sorted(done) == [3] * 6  # two groups of 9, three chunks each, reported as each finished
    report = remote.summary()["cluster"]
    assert report["tasks"] == 6 and report["models_per_task"] == 4 and report["retried"] == []
    assert report["resources"] == {"CPU": 2.0}
    assert len(report["nodes"]) == 2  # spread over both nodes
    assert sum(n["models"] for n in report["nodes"].values()) == 18
    assert sum(n["model_steps"] for n in report["nodes"].values()) == remote.model_steps
    for node in report["nodes"].values():
        assert node["tasks"] >= 1 and node["model_steps_per_s"] > 0 and node["busy_s"] > 0
    assert not ray.is_initialized()  # the sweep disconnected from the cluster it joined


def test_cuda_specs_ask_for_gpus_the_cluster_does_not_have(cluster):
    from torchground.errors import TorchgroundError

    with pytest.raises(TorchgroundError) as info:  # grouped here without CUDA: the workers resolve devices
        run_sweep([Spec(epochs=1, device="cuda")], backend="ray", address=cluster.address)
    assert info.value.key == "cluster.no_gpu" and "--num-gpus" in info.value.message()
    assert not ray.is_initialized()


def test_cli_joins_the_cluster_of_ray_address(cluster, tmp_path, monkeypatch, capsys):
    grid = "lr=0.03,0.3; init_seed=0..2"
    assert main(["sweep", "--grid", grid, "--epochs", "3", "--json", "--out", str(tmp_path / "local")]) == 0
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)  # as Ray does: the cluster to join
    assert main(["sweep", "--grid", grid, "--epochs", "3", "--backend", "ray", "--models-per-task", "2", "--out", str(tmp_path / "ray")]) == 0
    printed = capsys.readouterr().out
    assert "Ray: 3 tasks of up to 2 models on 2 nodes; 0 retried" in printed
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["backend"] == "ray" and summary["cluster"]["tasks"] == 3 and summary["models"] == 6
    rows = [list(csv.DictReader((tmp_path / name / "results.csv").open())) for name in ("local", "ray")]
    assert rows[0] == rows[1]


def test_one_kernel_build_per_node(cluster, tmp_path):
    log = tmp_path / "cc.log"
    cc = tmp_path / "cc"  # the C compiler, logging a digest of every source it is given, and the part of it (-DPART)
    cc.write_text('#!/bin/sh\npart=whole\nfor a in "$@"; do case "$a" in -DPART=*) part="$a";; esac; done\n'
                  f'for a in "$@"; do case "$a" in *.c) echo "$(sha256sum "$a" | cut -c1-16)$part" >> {log};; esac; done\nexec gcc "$@"\n')
    cc.chmod(0o755)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {"CC": str(cc), "TORCHGROUND_CACHE": str(cache)}
    specs = [Spec(epochs=3, n_samples=120, lr=lr, init_seed=s) for lr in (0.01, 0.03, 0.1, 0.3) for s in range(4)]
    remote = run_sweep(specs, backend="ray", address=cluster.address, models_per_task=4, compile=True, runtime_env={"env_vars": env})
    assert remote.compiled and remote.summary()["cluster"]["tasks"] == 4
    built = Counter(log.read_text().split())
    assert built and max(built.values()) == 1, built  # four tasks on a node of shared cache: each library (each part) built once
    local = run_sweep(specs, compile=True)
    for a, b in zip(local.results, remote.results):
        assert a.status == b.status and a.steps == b.steps
        assert torch.allclose(a.params, b.params, rtol=0, atol=1e-6)


def _ledger():
    names = [n for n in ray.util.list_named_actors() if n.startswith("torchground-ledger-")]
    return ray.get_actor(names[0]) if names else None


def _freeze_a_running_chunk() -> tuple[int, int] | None:
    """Stop (SIGSTOP) the worker of a chunk that has started and not finished; (chunk, pid) or None."""
    ledger = _ledger()
    if ledger is None:
        return None
    for chunk, attempts in ray.get(ledger.attempts.remote()).items():
        running = [a for a in attempts if not a["finished"]]
        if not running:
            continue
        pid = running[-1]["pid"]
        os.kill(pid, signal.SIGSTOP)
        still = ray.get(ledger.attempts.remote())[chunk]
        if any(a["pid"] == pid and not a["finished"] for a in still):
            return chunk, pid  # stopped before it could report: its result cannot have been sent
        os.kill(pid, signal.SIGCONT)
    return None


def test_a_worker_killed_mid_sweep_is_retried_and_reported(cluster):
    specs = [Spec(epochs=400, n_samples=200, lr=lr, init_seed=s) for lr in (0.01, 0.1) for s in range(4)]
    out: dict = {}
    sweep = threading.Thread(target=lambda: out.update(result=run_sweep(specs, backend="ray", address=cluster.address, models_per_task=2)))
    sweep.start()
    killed = None
    try:
        deadline = time.monotonic() + 300
        while killed is None and sweep.is_alive() and time.monotonic() < deadline:
            killed = _freeze_a_running_chunk() if ray.is_initialized() else None
            time.sleep(0.05)
        assert killed is not None, "no chunk was caught running"
        os.kill(killed[1], signal.SIGKILL)
    finally:
        sweep.join(timeout=600)
    result = out["result"]
    local = run_sweep(specs)
    _same(local, result)  # every model, as if nothing had happened
    report = result.summary()["cluster"]
    assert report["tasks"] == 4 and sum(n["models"] for n in report["nodes"].values()) == 8
    [retried] = report["retried"]
    assert retried["task"] == killed[0] and retried["models"] == 2
    assert retried["attempts"][0]["pid"] == killed[1] and len(retried["attempts"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start_block(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``ray start ... --block`` once it says it is up; started again (up to three times) if
    it missed Ray's start window on a busy machine."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    for attempt in range(3):
        proc = subprocess.Popen([ray_cli, "start", *args, "--disable-usage-stats", "--block"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline, seen = time.monotonic() + 180, ""
        while "block forever" not in seen and proc.poll() is None and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 1.0)[0]:
                seen += os.read(proc.stdout.fileno(), 65536).decode(errors="replace")
        if "block forever" in seen:
            return proc
        _stop(proc)
    raise AssertionError(seen[-2000:])


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)  # --block: its processes go with it
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def token_cluster():
    """A one-node cluster started by ``ray start --head --block`` with token authentication; (address, token)."""
    token = "3f2a9c0d5b7e41c8a6d9e0f1b2c3d4e5"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_raylet_start_wait_time_s="120")
    port = _free_port()
    head = _ray_start_block(["--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false",
                             "--object-store-memory", OBJECT_STORE], env)
    try:
        yield f"127.0.0.1:{port}", token
    finally:
        _stop(head)


def test_a_cluster_with_token_authentication(token_cluster, tmp_path):
    address, token = token_cluster
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    args = [sys.executable, "-m", "torchground", "sweep", "--grid", "init_seed=0..1", "--epochs", "2", "--backend", "ray",
            "--ray-address", address, "--json", "--out"]
    with_token = subprocess.run([*args, str(tmp_path / "a")], env={**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token},
                                capture_output=True, text=True, timeout=300)
    assert with_token.returncode == 0, with_token.stderr[-2000:]
    assert json.loads(with_token.stdout)["cluster"]["tasks"] == 1
    without = subprocess.run([*args, str(tmp_path / "b")], env=env, capture_output=True, text=True, timeout=300)
    assert without.returncode == 2 and "RAY_AUTH_MODE=token" in without.stderr and "Traceback" not in without.stderr
    assert not (tmp_path / "b").exists()
