"""Work split for a cluster: groups cut into chunks, and what the chunks' tasks report.

A group (models of one shape, see :func:`~torchground.engine.sweep.runner.group_specs`)
can be any size; on a cluster it is cut into *chunks* of about ``per_task`` models, each
trained as its own :class:`~torchground.engine.stacked.StackedGroup` (a model's numbers do
not depend on which other models share its group). :func:`models_per_task` picks
``per_task`` from the cluster's slots (CPUs, or GPUs for CUDA sweeps): a few tasks per slot,
so that a slow or lost node costs little, but never so few models per task that the
stacked engine has nothing to stack.

:func:`cluster_report` turns the tasks' :class:`TaskRecord` lists into the ``cluster``
part of ``summary.json``: tasks, the nodes that ran them with their model-steps per second,
and the chunks that were retried.

Example:
    >>> [c.index for c in plan_chunks([5, 2], 3)]
    [(0, 1, 2), (3, 4), (0, 1)]
    >>> models_per_task(10_000, slots=4, gpu=False)
    625
    >>> models_per_task(100, slots=4, gpu=False), models_per_task(10**6, slots=10, gpu=True)
    (64, 50000)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

__all__ = [
    "Chunk", "TaskRecord", "plan_chunks", "models_per_task", "cluster_report",
    "TASKS_PER_SLOT", "MIN_MODELS_PER_TASK",
]

#: Tasks aimed at per slot (CPU, or GPU for CUDA sweeps): balance and cheap retries.
TASKS_PER_SLOT = 4
#: Fewest models a task gets when the sweep is large enough: CPU (the fused C kernel spreads
#: blocks of 64 models over its threads) and GPU (a kernel launch wants many models).
MIN_MODELS_PER_TASK = {"cpu": 64, "gpu": 4096}


@dataclass(frozen=True)
class Chunk:
    """Models ``index`` (positions in group ``group``) trained as one task, numbered ``id``."""

    id: int
    group: int
    index: tuple[int, ...]


@dataclass
class TaskRecord:
    """What one finished task reports about itself (times are the node's clock, in seconds).

    Attributes:
        chunk: the chunk's id.
        node: the Ray node id; ``address``: its IP address.
        pid: the worker process.
        start, end: when the task began and finished training on its node.
        models, model_steps: its models and their optimiser steps summed.
        attempts: every (node, address, pid) on which the chunk was started, in order;
            more than one means it was retried.
    """

    chunk: int
    node: str
    address: str
    pid: int
    start: float
    end: float
    models: int
    model_steps: int
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


def plan_chunks(group_sizes: Sequence[int], per_task: int) -> list[Chunk]:
    """Each group cut into ``ceil(size / per_task)`` chunks of near-equal sizes (differing by one at most), in order."""
    if per_task < 1:
        raise ValueError("per_task must be at least 1")
    chunks: list[Chunk] = []
    for g, size in enumerate(group_sizes):
        parts = max(1, math.ceil(size / per_task))
        base, extra = divmod(size, parts)
        start = 0
        for p in range(parts):
            n = base + (1 if p < extra else 0)
            chunks.append(Chunk(len(chunks), g, tuple(range(start, start + n))))
            start += n
    return chunks


def models_per_task(total_models: int, slots: int, gpu: bool) -> int:
    """Models per task for ``total_models`` on a cluster of ``slots`` CPUs (or GPUs when ``gpu``):
    :data:`TASKS_PER_SLOT` tasks per slot, at least :data:`MIN_MODELS_PER_TASK` models a task."""
    per_task = math.ceil(max(total_models, 1) / (max(slots, 1) * TASKS_PER_SLOT))
    if gpu:  # a GPU takes a task at a time: fewer, larger tasks
        per_task = math.ceil(max(total_models, 1) / (max(slots, 1) * 2))
    return max(per_task, MIN_MODELS_PER_TASK["gpu" if gpu else "cpu"])


def _rate(steps: int, seconds: float) -> float | None:
    return round(steps / seconds, 1) if seconds > 0 else None


def _busy(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of ``spans`` (tasks running side by side count once)."""
    total, end = 0.0, -math.inf
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def cluster_report(records: Sequence[TaskRecord], per_task: int, resources: dict[str, Any]) -> dict[str, Any]:
    """The ``cluster`` part of ``summary.json``.

    Per node: tasks, models, model-steps, ``busy_s`` (the time any of its tasks was
    training) and ``model_steps_per_s`` over that time; per task on average,
    ``task_model_steps_per_s``. ``retried``: the chunks started more than once, with where.
    """
    nodes: dict[str, dict[str, Any]] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    for r in sorted(records, key=lambda r: r.chunk):
        node = nodes.setdefault(r.node, {"address": r.address, "tasks": 0, "models": 0, "model_steps": 0, "task_s": 0.0})
        node["tasks"] += 1
        node["models"] += r.models
        node["model_steps"] += r.model_steps
        node["task_s"] += r.seconds
        spans.setdefault(r.node, []).append((r.start, r.end))
    for key, node in nodes.items():
        node["busy_s"] = round(_busy(spans[key]), 6)
        node["model_steps_per_s"] = _rate(node["model_steps"], node["busy_s"])
        node["task_model_steps_per_s"] = _rate(node["model_steps"], node["task_s"])
        node["task_s"] = round(node["task_s"], 6)
    retried = [
        {"task": r.chunk, "models": r.models, "attempts": r.attempts, "finished_on": r.node}
        for r in sorted(records, key=lambda r: r.chunk) if len(r.attempts) > 1
    ]
    return {
        "tasks": len(records),
        "models_per_task": per_task,
        "resources": resources,
        "nodes": nodes,
        "retried": retried,
    }
