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

With ``compile``, the group's kernels are built at the first fused epochs and cached on
the node's disk. :func:`build_turn` makes that happen once per node: the first task of a
group configuration on a node holds a file lock in the node's Ray session folder through
its first :data:`BUILD_EPOCHS` epochs; other tasks of that configuration on the node wait
for it, then find the kernels in the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from torchground.engine.stacked import ModelResult, StackedGroup, group_key
from torchground.engine.sweep.chunks import TaskRecord
from torchground.spec import Spec

__all__ = ["Ledger", "run_chunk", "build_turn", "BUILD_EPOCHS"]

#: Epochs after which a group's kernels are built: the first fused epoch is the first, or
#: the second for SGD with momentum (one eager epoch first).
BUILD_EPOCHS = 2


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


@contextlib.contextmanager
def build_turn(folder: Path, config: str, epochs: int) -> Iterator[Callable[[int, int], None] | None]:
    """Wait for this node's build of ``config`` (a lock file in ``folder``), or take it.

    Yields None when the kernels were already built on this node (by another task);
    otherwise a progress callback for :meth:`~torchground.engine.stacked.StackedGroup.run`
    that marks the build done and lets the waiting tasks go once ``min(epochs,
    BUILD_EPOCHS)`` epochs have run. Left early (an error, every model diverged), the lock is
    released without the mark and the next task takes the turn.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = folder / f"{config}.built"
    if done.exists():
        yield None
        return
    with open(folder / f"{config}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another task of this node builds
        try:
            if done.exists():
                fcntl.flock(lock, fcntl.LOCK_UN)
                yield None
                return
            held = [True]

            def progress(epoch: int, total: int) -> None:
                if held[0] and epoch >= min(total, BUILD_EPOCHS):
                    done.touch()
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    held[0] = False

            yield progress
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_chunk(specs: list[Spec], compile: bool, chunk: int, ledger: Any) -> tuple[list[ModelResult], TaskRecord]:
    """Train one chunk (in a Ray worker): its results, in order, and its record."""
    import ray

    context = ray.get_runtime_context()
    node, address, pid = context.get_node_id(), ray.util.get_node_ip_address(), os.getpid()
    ray.get(ledger.started.remote(chunk, node, address, pid))
    turn = build_turn(Path(context.get_temp_dir()) / "torchground-builds", _config(specs, compile), specs[0].epochs) \
        if compile else contextlib.nullcontext(None)
    start = time.time()
    with turn as progress:
        results = StackedGroup(list(specs), compile=compile).run(progress)
    end = time.time()
    attempts = ray.get(ledger.finished.remote(chunk, pid))
    record = TaskRecord(chunk, node, address, pid, start, end, len(results), sum(r.steps for r in results), attempts)
    return results, record
