"""``torchground train``: train on a spec from flags and/or a config file, save the run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from torchground.train.callbacks import Callback
from torchground.cli.app import app, apply_lang, err_console
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.cli.spec_options import SpecOptions, with_spec_options
from torchground.train.rundir import default_run_dir, save_run
from torchground.train import Run, Trainer, summarize

__all__ = ["train_command", "log_line", "ENGINES"]

ENGINES = ("eager", "fast", "compiled")

_H = "cli.help."


class _Report(Callback):
    """Progress bar and/or ``--log-every`` lines, on stderr when JSON goes to stdout."""

    def __init__(self, console: Console, epochs: int, log_every: int, progress: bool) -> None:
        self.console, self.epochs, self.log_every = console, epochs, log_every
        self.width = len(str(epochs))
        self.progress = (
            Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[metrics]}"),
                TimeElapsedColumn(), console=console, transient=False,
            )
            if progress
            else None
        )
        self.task: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task(t("cli.progress"), total=self.epochs, metrics="")

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=row["epoch"], metrics=_short_metrics(row))
        self.on_epoch_end_lines(row)

    def on_epoch_end_lines(self, row: dict[str, Any]) -> None:
        if self.log_every and (row["epoch"] % self.log_every == 0 or row["epoch"] == 1):
            self.console.print(log_line(row, self.epochs), highlight=False)

    def on_fit_end(self, trainer: Trainer, history: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


def _short_metrics(row: dict[str, Any]) -> str:
    parts = [f"loss {row['train_loss']:.4f}"]
    if row.get("val_loss") is not None:
        parts.append(f"val {row['val_loss']:.4f}")
    if row.get("train_acc") is not None:
        parts.append(f"acc {row['train_acc']:.3f}")
    if row.get("train_r2") is not None:
        parts.append(f"r2 {row['train_r2']:.3f}")
    return "  ".join(parts)


def log_line(row: dict[str, Any], epochs: int) -> str:
    """One epoch in the curriculum's format (missing values shown as nan)."""
    nan = float("nan")
    values = {k: (nan if v is None else v) for k, v in row.items()}
    key = "train.log_line" if "train_acc" in row else "train.log_line_reg"
    return t(key, width=len(str(epochs)), epochs=epochs, **values)


@app.command("train", help=t(_H + "train"))
@with_spec_options
def train_command(
    spec_options: SpecOptions,
    out: Annotated[Optional[Path], typer.Option("--out", help=t(_H + "out"))] = None,
    log_every: Annotated[int, typer.Option("--log-every", min=0, help=t(_H + "log_every"))] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=t(_H + "quiet"))] = False,
    as_json: Annotated[bool, typer.Option("--json", help=t(_H + "json"))] = False,
    engine: Annotated[str, typer.Option("--engine", help=t(_H + "engine"))] = "eager",
    lang: Annotated[Optional[str], typer.Option("--lang", help=t(_H + "lang"))] = None,
) -> None:
    apply_lang(lang)
    if engine not in ENGINES:
        raise TorchgroundError("cli.bad_engine", value=engine, allowed=", ".join(ENGINES))
    spec = spec_options.build()
    out_dir = out or default_run_dir(spec)
    if out_dir.exists() and not out_dir.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out_dir))
    console = Console(stderr=as_json, highlight=False, soft_wrap=True, quiet=quiet)
    report = _Report(console, spec.epochs, log_every, progress=not quiet and console.is_terminal)
    if engine != "eager":  # the stacked engine: same numbers, lines printed once it is done
        from torchground.engine import train_fast

        run = train_fast(spec, compile=engine == "compiled")
        for row in run.history.rows:
            report.on_epoch_end_lines(row)
    else:
        trainer = Trainer(spec, callbacks=[report])
        start = time.perf_counter()
        trainer_history = trainer.fit()
        wall = time.perf_counter() - start
        run = Run(spec, trainer.model, trainer.data, trainer_history, summarize(spec, trainer_history, wall, trainer.device))
    history = run.history
    paths = save_run(run, out_dir)
    run.summary["out"] = str(out_dir)
    if history.message:
        key, params = history.message
        (err_console if history.status == "diverged" else console).print(t(key, **params), highlight=False)
    if history.status == "interrupted":
        err_console.print(t("cli.interrupted", path=str(out_dir)), highlight=False)
    if as_json:
        typer.echo(json.dumps(run.summary, ensure_ascii=False, default=str))
    elif not quiet:
        _print_summary(console, run, paths)
    if history.status == "interrupted":
        raise typer.Exit(130)


def _print_summary(console: Console, run: Run, paths: dict[str, Path]) -> None:
    s = run.summary
    console.print(t("train.completed", epochs=s["epochs"], steps=s["steps"], wall_s=s["wall_s"], steps_per_s=s["steps_per_s"] or 0))
    last = run.history.last
    if last:
        console.print(log_line(last, run.spec.epochs), highlight=False)
    console.print(t("cli.saved", path=str(paths["spec.json"].parent)))
