"""What runs on the Ray cluster: a chunk's task, the sweep's ledger of attempts, one kernel build per node.

:func:`run_chunk` trains one chunk of a group (:class:`~torchground.engine.stacked.StackedGroup`,
fused kernels included with ``compile``) in a worker process and returns its results
(packed: :func:`pack_results`) with a :class:`~torchground.engine.sweep.chunks.TaskRecord`
(node, process, times, model-steps).
A model that diverges is one of the chunk's results (status ``diverged``), never a task
failure; a task fails only when its worker or node dies, and Ray then runs it again
elsewhere.

:class:`Ledger` (a Ray actor on the driver's node) records every start of every chunk, so
the driver knows which chunks were started more than once and where (Ray retries a task
without telling its caller).

With ``compile``, the group's kernels are built once per node
(:func:`~torchground.engine.sweep.build_turn.build_turn`, a lock in the node's Ray session folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from torchground.engine.stacked import ModelResult, StackedGroup, group_key
from torchground.engine.sweep.build_turn import build_turn
from torchground.engine.sweep.chunks import TaskRecord
from torchground.spec import Spec

__all__ = ["Ledger", "run_chunk", "pack_results", "unpack_results"]


class Ledger:
    """Every start of every chunk of one sweep: ``{chunk: [attempt, ...]}`` (a Ray actor).

    An attempt is ``{"node", "address", "pid", "finished"}``.
    """

    def __init__(self) -> None:
        self.starts: dict[int, list[dict[str, Any]]] = {}

    def started(self, chunk: int, node: str, address: str, pid: int) -> None:
        self.starts.setdefault(chunk, []).append({"node": node, "address": address, "pid": pid, "finished": False})

    def finished(self, chunk: int, pid: int) -> list[dict[str, Any]]:
        """Mark the attempt in process ``pid`` finished; every attempt of ``chunk`` so far."""
        attempts = self.starts.get(chunk, [])
        for attempt in attempts:
            if attempt["pid"] == pid:
                attempt["finished"] = True
        return [{k: a[k] for k in ("node", "address", "pid")} for a in attempts]

    def attempts(self) -> dict[int, list[dict[str, Any]]]:
        return {chunk: [dict(a) for a in attempts] for chunk, attempts in self.starts.items()}


def _config(specs: Sequence[Spec], compile: bool, fused: bool = True) -> str:
    """A name for what the chunk's kernels are built for (its group's shape, few or many
    models) and where (the compiler and the cache this worker was given)."""
    key = repr((group_key(specs[0]), compile, fused, len(specs) <= 8, os.environ.get("CC"), os.environ.get("TORCHGROUND_CACHE")))
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def pack_results(results: Sequence[ModelResult]) -> dict[str, Any]:
    """A chunk's results for the trip to the driver: every field as a list, without the specs
    (the driver has them), and the parameters as one (M, P) array: unpickling a tensor per
    model would cost the driver more than a GPU spends training the model
    (``bench/ray_cluster.py`` measures both ways)."""
    names = [f.name for f in dataclasses.fields(ModelResult) if f.name not in ("spec", "_params")]
    packed: dict[str, Any] = {name: [getattr(r, name) for r in results] for name in names}
    packed["_params"] = np.stack([r.params.numpy() for r in results]) if results else np.zeros((0, 0))
    return packed


def unpack_results(packed: dict[str, Any], specs: Sequence[Spec]) -> list[ModelResult]:
    """The :class:`ModelResult` list of :func:`pack_results`, with the driver's ``specs``.

    Arrays are copied: Ray hands them over read-only, in its object store's memory.
    """
    names = [name for name in packed if name not in ("_params", "metrics")]
    params = np.array(packed["_params"])
    return [ModelResult(spec=spec, _params=params[i], metrics=np.array(packed["metrics"][i]), **{name: packed[name][i] for name in names})
            for i, spec in enumerate(specs)]


def run_chunk(specs: list[Spec], compile: bool, chunk: int, ledger: Any, fused: bool = True) -> tuple[dict[str, Any], TaskRecord]:
    """Train one chunk (in a Ray worker): its results, packed (:func:`pack_results`), and its record.
    ``compile``, ``fused``: as :class:`~torchground.engine.stacked.StackedGroup`'s."""
    import ray

    context = ray.get_runtime_context()
    node, address, pid = context.get_node_id(), ray.util.get_node_ip_address(), os.getpid()
    ray.get(ledger.started.remote(chunk, node, address, pid))
    session = Path(context.get_temp_dir()) / context.get_session_name()  # this node's Ray session folder
    builds = compile or fused
    turn = build_turn(session / "torchground-builds", _config(specs, compile, fused)) if builds else contextlib.nullcontext(None)
    start = time.time()
    with turn as progress:
        results = StackedGroup(list(specs), compile=compile, fused=fused).run(progress)
    end = time.time()
    attempts = ray.get(ledger.finished.remote(chunk, pid))
    record = TaskRecord(chunk, node, address, pid, start, end, len(results), sum(r.steps for r in results), attempts)
    return pack_results(results), record
