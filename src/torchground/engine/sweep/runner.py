"""Sweeps: many specs grouped by shape, run on a backend, summed up as rows and figures.

:func:`group_specs` puts specs that can train together (equal
:func:`~torchground.engine.stacked.group_key`) in one group; :func:`run_sweep` runs the
groups on a backend and returns a :class:`SweepResult`: one result per spec in the given
order, the ranking (by final validation loss, or training loss without validation data;
diverged models last), the CSV text of ``results.csv`` and the dict of ``summary.json``.
No files are written here: the CLI does that.

Example:
    >>> from torchground.spec import Spec
    >>> specs = [Spec(epochs=2, lr=lr, hidden=h) for lr in (0.01, 0.3) for h in ((3,), (4, 2))]
    >>> [len(g) for g in group_specs(specs)]
    [2, 2]
    >>> result = run_sweep(specs)
    >>> result.groups, len(result.results), result.model_steps
    (2, 4, 136)
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from torchground.engine.stacked import ModelResult, check_supported, group_key
from torchground.engine.sweep.backends import get_backend
from torchground.spec import Spec
from torchground.train.history import metric_columns
from torchground.train.run import resolve_device

__all__ = ["group_specs", "run_sweep", "SweepResult", "final_row"]


def group_specs(specs: Sequence[Spec], resolve: bool = True) -> list[list[int]]:
    """Indices of ``specs`` grouped by :func:`group_key`, groups in order of first appearance.

    ``resolve=False`` groups by the device's name instead of resolving it here (a cluster's
    driver may have no GPU while its workers do).
    """
    groups: dict[Any, list[int]] = {}
    for i, spec in enumerate(specs):
        key = group_key(spec) if resolve else (group_key(spec.replace(device="cpu")), spec.device)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def final_row(result: ModelResult) -> dict[str, Any]:
    """The row the model's final weights belong to (the best epoch's when they were restored), as ``summarize`` picks it."""
    # one row made, not the model's whole history: a sweep has models × epochs of them
    best = result.best_epoch
    if result.status == "early_stopped" and result.spec.restore_best and best:
        return result.row(best)
    return result.row(-1) if len(result.metrics) else {}


@dataclass
class SweepResult:
    """The outcome of :func:`run_sweep`.

    Attributes:
        specs: the specs, in the order given.
        results: one :class:`~torchground.engine.stacked.ModelResult` per spec.
        settings: per spec, the varied values shown for it (empty dicts if none were given).
        groups: how many groups ran.
        wall_s: seconds for the whole sweep.
        backend, device: where it ran.
        compiled: whether ``torch.compile`` was the fallback of the fused kernels (``--compile``).
        cluster: the backend's report on where the work ran (ray: tasks, nodes, retries), or None.
        paths: per group, the code that trained it (see
            :attr:`~torchground.engine.stacked.StackedGroup.path`: "fused", "eager",
            "inductor", "cuda_graph"), or None where the backend does not say (ray).
    """

    specs: list[Spec]
    results: list[ModelResult]
    settings: list[dict[str, Any]]
    groups: int
    wall_s: float
    backend: str
    device: str
    grid: str | None = None
    compiled: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    cluster: dict[str, Any] | None = None
    paths: list[str] | None = None

    def __post_init__(self) -> None:
        self.rows = [final_row(r) for r in self.results]

    @property
    def model_steps(self) -> int:
        """Optimiser steps summed over every model."""
        return sum(r.steps for r in self.results)

    @property
    def path(self) -> str | None:
        """The path every group took ("fused", "eager", …), "mixed" when they differ, None when unknown."""
        if not self.paths:
            return None
        return self.paths[0] if len(set(self.paths)) == 1 else "mixed"

    @property
    def monitored(self) -> str:
        """The loss the ranking uses: ``val_loss`` when every model has validation data, else ``train_loss``."""
        return "val_loss" if all(r.get("val_loss") is not None for r in self.rows) and self.rows else "train_loss"

    def ranking(self) -> list[int]:
        """Indices best first: lowest final monitored loss; models a search pruned after the
        others, diverged ones and missing values last."""

        monitored = self.monitored  # once: it looks at every row

        def key(i: int) -> tuple[int, float]:
            value = self.rows[i].get(monitored)
            bad = self.results[i].status == "diverged" or value is None or not math.isfinite(value)
            return (2 if bad else int(self.results[i].status == "pruned"), value if not bad else math.inf)

        return sorted(range(len(self.results)), key=key)

    @property
    def varied(self) -> list[str]:
        return list(self.settings[0]) if self.settings else []

    def metric_columns(self) -> list[str]:
        """Final-metric columns present in any row (union over problems), without epoch and lr."""
        cols: list[str] = []
        for problem in dict.fromkeys(r.spec.problem or "classification" for r in self.results):
            cols += [c for c in metric_columns(problem) if c not in ("epoch", "lr") and c not in cols]
        return cols

    def table(self) -> list[dict[str, Any]]:
        """One dict per setting, best first: rank, the varied values, status, epochs, steps, metrics."""
        out = []
        columns = self.metric_columns()  # once: it looks at every model
        for rank, i in enumerate(self.ranking(), start=1):
            r = self.results[i]
            row = {"rank": rank, "index": i, **self.settings[i], "status": r.status, "epochs": len(r.metrics), "steps": r.steps}
            row.update({c: self.rows[i].get(c) for c in columns})
            row["best_epoch"] = r.best_epoch
            out.append(row)
        return out

    def csv_text(self) -> str:
        """``results.csv``: one row per setting (best first); empty cells for missing values."""
        rows = self.table()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        header = list(rows[0]) if rows else []
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row[c] is None else (repr(row[c]) if isinstance(row[c], float) else row[c]) for c in header])
        return buf.getvalue()

    def summary(self) -> dict[str, Any]:
        """``summary.json``: counts, throughput, groups, the best setting and its metrics."""
        ranking = self.ranking()
        best = ranking[0] if ranking else None
        statuses: dict[str, int] = {}
        for r in self.results:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        out: dict[str, Any] = {
            "models": len(self.results),
            "groups": self.groups,
            "model_steps": self.model_steps,
            "wall_s": round(self.wall_s, 6),
            "model_steps_per_s": round(self.model_steps / self.wall_s, 1) if self.wall_s > 0 else None,
            "backend": self.backend,
            "device": self.device,
            "compiled": self.compiled,
            "path": self.path,
            "paths": {p: self.paths.count(p) for p in dict.fromkeys(self.paths)} if self.paths else None,
            "torch": torch.__version__,
            "grid": self.grid,
            "varied": self.varied,
            "statuses": statuses,
            "ranked_by": self.monitored,
        }
        if self.cluster is not None:
            out["cluster"] = self.cluster
        if best is not None:
            out["best"] = {"index": best, "setting": self.settings[best], "status": self.results[best].status, **self.rows[best]}
        return out


def run_sweep(
    specs: Sequence[Spec],
    settings: Sequence[dict[str, Any]] | None = None,
    backend: str = "local",
    progress: Callable[[float], None] | None = None,
    grid: str | None = None,
    compile: bool = False,
    fused: bool = True,
    **backend_options: Any,
) -> SweepResult:
    """Train every spec through the engine, grouped; see :class:`SweepResult`.

    Args:
        specs: the models.
        settings: per spec, the varied values to show (default: none).
        backend: "local" (default) or "ray".
        progress: called with the number of models newly done (may be fractional).
        grid: the grid text, kept in the summary.
        compile: where our fused kernels do not cover a group, compile it with
            ``torch.compile`` instead of training it eagerly (see
            :mod:`torchground.engine.kernels.dispatch`).
        fused: our fused kernels (CPU: C) where they cover a group, its first epoch
            checked against the eager steps (default True); False: the eager engine (or ``torch.compile``
            alone with ``compile``). Which code trained each group: :attr:`SweepResult.paths`.
        backend_options: passed to the backend (Ray: ``address``, ``models_per_task``,
            ``max_retries`` and ``ray.init`` arguments, see
            :class:`~torchground.engine.sweep.ray_backend.RayBackend`).
    """
    specs = list(specs)
    for spec in specs:
        check_supported(spec)
    on_cluster = backend == "ray"  # devices are the workers' to resolve
    groups = group_specs(specs, resolve=not on_cluster)
    runner = get_backend(backend, compile=compile, fused=fused, **backend_options)
    start = time.perf_counter()
    per_group = runner.run([[specs[i] for i in g] for g in groups], progress or (lambda n: None))
    wall = time.perf_counter() - start
    results: list[ModelResult | None] = [None] * len(specs)
    for g, res in zip(groups, per_group):
        for i, r in zip(g, res):
            results[i] = r
    devices = sorted({("cpu" if s.device == "auto" else s.device) if on_cluster else str(resolve_device(s.device)) for s in specs})
    return SweepResult(
        specs, [r for r in results if r is not None], list(settings) if settings else [{} for _ in specs], len(groups), wall,
        runner.name, ",".join(devices), grid, compile, cluster=runner.report, paths=runner.paths,
    )
