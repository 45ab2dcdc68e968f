"""What runs on the Ray cluster: a chunk's task, the sweep's ledger of attempts, one kernel build per node.

:func:`run_chunk` trains one chunk of a group (:class:`~torchground.engine.stacked.StackedGroup`,
fused kernels included with ``compile``) in a worker process and returns its results with
a :class:`~torchground.engine.sweep.chunks.TaskRecord` (node, process, times, model-steps).
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
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Sequence

from torchground.engine.stacked import ModelResult, StackedGroup, group_key
from torchground.engine.sweep.build_turn import build_turn
from torchground.engine.sweep.chunks import TaskRecord
from torchground.spec import Spec

__all__ = ["Ledger", "run_chunk"]


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


def _config(specs: Sequence[Spec], compile: bool) -> str:
    """A name for what the chunk's kernels are built for (its group's shape, and few or many models)."""
    key = repr((group_key(specs[0]), compile, len(specs) <= 8))
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def run_chunk(specs: list[Spec], compile: bool, chunk: int, ledger: Any) -> tuple[list[ModelResult], TaskRecord]:
    """Train one chunk (in a Ray worker): its results, in order, and its record."""
    import ray

    context = ray.get_runtime_context()
    node, address, pid = context.get_node_id(), ray.util.get_node_ip_address(), os.getpid()
    ray.get(ledger.started.remote(chunk, node, address, pid))
    turn = build_turn(Path(context.get_temp_dir()) / "torchground-builds", _config(specs, compile)) \
        if compile else contextlib.nullcontext(None)
    start = time.time()
    with turn as progress:
        results = StackedGroup(list(specs), compile=compile).run(progress)
    end = time.time()
    attempts = ray.get(ledger.finished.remote(chunk, pid))
    record = TaskRecord(chunk, node, address, pid, start, end, len(results), sum(r.steps for r in results), attempts)
    return results, record
