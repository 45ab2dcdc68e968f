"""``torchground sweep``: train every setting of a grid through the stacked engine.

The base spec comes from ``--config`` / ``--preset`` and the same spec flags as ``train``
(``--epochs``, ``--device``, ``--dataset``, …); ``--grid`` varies fields of it.

Prints a table ranked by validation loss (training loss without validation data) with a
progress bar over models, and writes into the sweep folder (each file atomically):
``results.csv`` (one row per setting), ``summary.json`` (counts, throughput, groups, the
best setting) and ``grid.png`` (a small decision-boundary picture per setting, best
first, at most :data:`MAX_PICTURES`).

``--backend ray`` trains chunks of the groups as Ray tasks, on a local Ray instance or on
the cluster of ``--ray-address`` (else ``$RAY_ADDRESS``), ``--models-per-task`` models each
(see :mod:`~torchground.engine.sweep.ray_backend`); ``summary.json`` then has a ``cluster``
entry (tasks, nodes, retries).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import textwrap
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer
from matplotlib.figure import Figure
from matplotlib.text import Text as MplText
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from torchground.atomic import write_text
from torchground.viz.boundary import EXTENT, boundary_grid
from torchground.cli.app import app, apply_lang
from torchground.cli.out_check import check_output_folder
from torchground.cli.spec_options import SpecOptions, with_spec_options
from torchground.cli.train_cmd import engine_notices
from torchground.engine import expand_grid, parse_grid, run_sweep
from torchground.engine.sweep.search import run_search
from torchground.engine.sweep.space import parse_space
from torchground.engine.sweep.runner import SweepResult
from torchground.errors import TorchgroundError
from torchground.i18n import plural, t
from torchground.viz.plots import PLAYGROUND_CMAP, cjk_font, save_figure
from torchground.train.rundir import jsonable

__all__ = ["sweep_command", "MAX_PICTURES", "SWEEP_FILES", "default_sweep_dir", "plot_sweep_grid"]

#: Most decision-boundary pictures drawn in grid.png (the best settings).
MAX_PICTURES = 64
#: Most rows of the printed table (results.csv has them all).
MAX_TABLE_ROWS = 50
SWEEP_FILES = ("results.csv", "summary.json", "grid.png")
#: A CPU sweep without --compile of this many models, taking this many seconds or more, with
#: groups outside the fused kernel's scope (trained eagerly), suggests it.
COMPILE_TIP_MODELS = 100
COMPILE_TIP_SECONDS = 2.0


def default_sweep_dir(now: _dt.datetime | None = None, root: str | Path = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-sweep``."""
    now = now or _dt.datetime.now()
    return Path(root) / f"{now:%Y%m%d-%H%M%S}-sweep"



@app.command("sweep", help=t("sweep.help.command"))
@with_spec_options
def sweep_command(
    spec_options: SpecOptions,
    grid: Annotated[Optional[str], typer.Option("--grid", help=t("sweep.help.grid"))] = None,
    search: Annotated[Optional[str], typer.Option("--search", help=t("search.help.search"))] = None,
    space: Annotated[Optional[str], typer.Option("--space", help=t("search.help.space"))] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", help=t("search.help.trials"))] = None,
    batch: Annotated[Optional[int], typer.Option("--batch", help=t("search.help.batch"))] = None,
    search_seed: Annotated[int, typer.Option("--search-seed", help=t("search.help.seed"))] = 0,
    storage: Annotated[Optional[str], typer.Option("--storage", help=t("search.help.storage"))] = None,
    study: Annotated[Optional[str], typer.Option("--study", help=t("search.help.study"))] = None,
    no_prune: Annotated[bool, typer.Option("--no-prune", help=t("search.help.no_prune"))] = False,
    backend: Annotated[str, typer.Option("--backend", help=t("sweep.help.backend"))] = "local",
    compile: Annotated[bool, typer.Option("--compile", help=t("fastpath.help.compile"))] = False,
    no_fused: Annotated[bool, typer.Option("--no-fused", help=t("fastpath.help.no_fused"))] = False,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help=t("cluster.help.ray_address"))] = None,
    models_per_task: Annotated[Optional[int], typer.Option("--models-per-task", help=t("cluster.help.models_per_task"))] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help=t("sweep.help.out"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help=t("cli.help.json"))] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=t("cli.help.quiet"))] = False,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
    tensorboard: Annotated[Optional[Path], typer.Option("--tensorboard", metavar="DIR", help=t("track.help.sweep_tensorboard"))] = None,
) -> None:
    apply_lang(lang)
    if backend not in ("local", "ray"):
        raise TorchgroundError("engine.unknown_backend", value=backend, allowed="local, ray")
    cluster_options = _cluster_options(backend, ray_address, models_per_task)
    base = spec_options.build()  # --config / --preset and any spec flag (--epochs, --device, --dataset, …)
    if (grid is None) == (search is None):
        raise TorchgroundError("search.grid_or_search")
    if search is not None:
        if space is None or trials is None:
            raise TorchgroundError("search.needs_space")
        if backend != "local":
            raise TorchgroundError("search.local_only", backend=backend)
        searched = parse_space(space, base)
        total, settings = trials, []
    else:
        parsed = parse_grid(grid)  # its size is checked before anything is expanded
        if not no_fused:  # the likely kernel builds while the grid is expanded (a guess: the groups ask for theirs)
            from torchground.engine.kernels.prebuild import start_sweep_build

            start_sweep_build(base, parsed.fields, len(parsed))
        shown = Console(stderr=True, highlight=False, soft_wrap=True, quiet=quiet)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=shown, disable=quiet or not shown.is_terminal, transient=True) as checking:
            task = checking.add_task(t("safety.grid_checking"), total=len(parsed))
            settings = expand_grid(base, parsed, progress=lambda n: checking.advance(task, n))
        total = len(settings)
    out_dir = out or default_sweep_dir()
    if out_dir.exists() and not out_dir.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out_dir))
    check_output_folder(out_dir)  # a read-only folder is refused now, not after the sweep
    console = Console(stderr=as_json, highlight=False, soft_wrap=True, quiet=quiet)  # --quiet: errors only (files still written)
    with engine_notices(quiet), Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=quiet or not console.is_terminal,
    ) as progress:
        task = progress.add_task(t("sweep.progress"), total=total)
        if search is not None:
            result = run_search(base, searched, trials, method=search, batch=batch, seed=search_seed, storage=storage,
                                study_name=study, prune=not no_prune, compile=compile, progress=lambda n: progress.advance(task, n),
                                fused=not no_fused)
        else:
            result = run_sweep(
                [spec for _, spec in settings], [shown for shown, _ in settings], backend=backend, grid=grid, compile=compile,
                fused=not no_fused, progress=lambda n: progress.advance(task, n), **cluster_options,
            )
    specs = result.specs
    summary = result.summary()
    if search is not None:
        summary["search"] = {"method": search, "space": space, "trials": trials, "seed": search_seed, "storage": storage,
                             "study": study, "pruning": not no_prune}
    summary["out"] = str(out_dir)
    shown = min(len(specs), MAX_PICTURES)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "results.csv", result.csv_text())
    write_text(out_dir / "summary.json", json.dumps(jsonable(summary), indent=2, ensure_ascii=False) + "\n")
    save_figure(plot_sweep_grid(result, MAX_PICTURES), out_dir / "grid.png")
    if tensorboard is not None:  # one TensorBoard run per model, with its hparams (torchground.track)
        from torchground.track import write_sweep

        write_sweep(tensorboard, specs, result.results, result.settings)
    if as_json:
        typer.echo(json.dumps(jsonable(summary), ensure_ascii=False))
        return
    console.print(_table(result))
    if len(specs) > MAX_TABLE_ROWS:
        console.print(t("sweep.table_capped", shown=MAX_TABLE_ROWS, total=len(specs)))
    if len(specs) > shown:
        console.print(t("sweep.pictures_capped", shown=shown, total=len(specs)))
    rate = summary["model_steps_per_s"] or 0
    console.print(t("sweep.done", models_text=plural("usage.count.models", len(specs)), groups_text=plural("usage.count.groups", result.groups), model_steps=result.model_steps, wall_s=result.wall_s, rate=rate))
    if result.cluster is not None:
        c = result.cluster
        console.print(t("cluster.done", tasks=c["tasks"], per_task=c["models_per_task"], nodes=len(c["nodes"]), retried=len(c["retried"])))
    eager = (result.paths or []).count("eager")
    if eager and not compile and not no_fused and "cuda" not in result.device and len(specs) >= COMPILE_TIP_MODELS and result.wall_s >= COMPILE_TIP_SECONDS:
        console.print(t("fastpath.tip_compile", eager=eager, groups=result.groups))
    console.print(t("sweep.saved", path=str(out_dir)))


def _cluster_options(backend: str, ray_address: str | None, models_per_task: int | None) -> dict[str, Any]:
    """The ray backend's options from the command line; refused with the local backend."""
    if backend != "ray":
        for option, value in (("--ray-address", ray_address), ("--models-per-task", models_per_task)):
            if value is not None:
                raise TorchgroundError("cluster.local_only", option=option)
        return {}
    if models_per_task is not None and models_per_task < 1:
        raise TorchgroundError("cluster.bad_models_per_task", value=models_per_task)
    return {"address": ray_address, "models_per_task": models_per_task}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _table(result: SweepResult) -> Table:
    """The settings ranked best first (at most MAX_TABLE_ROWS)."""
    rows = result.table()[:MAX_TABLE_ROWS]
    table = Table(title=t("sweep.table_title", metric=result.monitored))
    have = {c for c in result.metric_columns() if any(r.get(c) is not None for r in rows)}
    held_out = "val" if "val_loss" in have else "test"
    wanted = ("train_loss", f"{held_out}_loss", f"{held_out}_acc", f"{held_out}_r2")
    metrics = [c for c in wanted if c in have]
    columns = ["rank", *result.varied, "status", *metrics]
    for col in columns:
        table.add_column(t("sweep.col.status") if col == "status" else (t("sweep.col.rank") if col == "rank" else col),
                         justify="left" if col in ("status", *result.varied) else "right")
    for row in rows:
        status = t(f"train.status.{row['status']}")
        table.add_row(*[status if c == "status" else _fmt(row.get(c)) for c in columns])
    return table


def plot_sweep_grid(result: SweepResult, limit: int = MAX_PICTURES, resolution: int = 40) -> Figure:
    """Small decision-boundary pictures, best setting first, titled with the varied values.

    The Playground's colours: orange (#f59322) for −1 through white to blue (#0877bd) for +1.
    """
    order = result.ranking()[:limit]
    n = max(1, len(order))
    cols = min(8, n)
    rows = math.ceil(n / cols)
    lines = max((len(textwrap.wrap(" ".join(f"{f}={v}" for f, v in result.settings[i].items()) + " 00. (xxxxxxxx)", 30)) for i in order), default=1)
    fig = Figure(figsize=(1.9 * cols, (1.9 + 0.12 * lines) * rows + 0.6))
    for k, i in enumerate(order):
        ax = fig.add_subplot(rows, cols, k + 1)
        r = result.results[i]
        out = boundary_grid(r.model(), r.spec.features, resolution=resolution)["output"]
        ax.imshow(np.clip(out, -1, 1), origin="lower", extent=(-EXTENT, EXTENT, -EXTENT, EXTENT), cmap=PLAYGROUND_CMAP, vmin=-1, vmax=1)
        train = r.data.train
        ax.scatter(train.points[:, 0], train.points[:, 1], c=train.labels, cmap=PLAYGROUND_CMAP, vmin=-1, vmax=1, s=3, edgecolors="white", linewidths=0.2)
        label = " ".join(f"{f}={v}" for f, v in result.settings[i].items()) or f"#{i}"
        status = "" if r.status == "completed" else f" ({t(f'train.status.{r.status}')})"
        ax.set_title("\n".join(textwrap.wrap(f"{k + 1}. {label}{status}", 30)), fontsize=6)
        ax.set_xticks([])
        ax.set_yticks([])
    total = len(result.results)
    title = t("sweep.grid_title", metric=result.monitored)
    if total > len(order):
        title += "\n" + t("sweep.pictures_capped", shown=len(order), total=total)
    fig.suptitle(title, fontsize=9)
    fallback = cjk_font()  # Japanese titles need a font with Japanese glyphs behind the default
    if fallback is not None:
        for text in fig.findobj(MplText):
            text.set_fontfamily(["DejaVu Sans", fallback])
    fig.tight_layout()
    return fig


