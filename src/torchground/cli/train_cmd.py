"""``torchground train``: train on a spec from flags and/or a config file, save the run.

The run folder is written from the start (``spec.json`` first), checkpointed every few
seconds while the eager trainer trains, and finished with ``summary.json`` last (see
:mod:`torchground.train.rundir`). ``--resume RUN`` continues a killed or interrupted run
from its checkpoint. Exit status: 0 done (completed or stopped early), 2 bad input,
3 the run diverged, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from torchground.train.callbacks import Callback
from torchground.cli.app import app, apply_lang, err_console
from torchground.errors import TorchgroundError
from torchground.i18n import plural, t
from torchground.cli.spec_options import SpecOptions, with_spec_options
from torchground.spec import Spec
from torchground.train.checkpoint import CHECKPOINT, Checkpointer, load_checkpoint, remaining_epochs, restore
from torchground.train.rundir import FINAL_STATUSES, default_run_dir, load_spec, run_status, save_run, start_run
from torchground.train import Run, Trainer, resolve_device

__all__ = ["train_command", "log_line", "plural", "engine_notices", "ENGINES", "EXIT_DIVERGED", "EXIT_INTERRUPTED"]

ENGINES = ("eager", "fast", "compiled")
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130

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


@contextlib.contextmanager
def engine_notices(quiet: bool = False) -> Iterator[None]:
    """The engine's notices (``RuntimeWarning``: a fused kernel not used, a compilation that
    failed) shown as plain lines on stderr, each once, instead of Python's warning format
    (a file, a line number and a line of source); none with ``quiet`` (``--quiet``)."""
    shown: set[str] = set()
    original = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if not issubclass(category, RuntimeWarning):
            original(message, category, filename, lineno, file, line)
        elif str(message) not in shown:
            shown.add(str(message))
            if quiet:
                return
            err_console.print(str(message), highlight=False)

    with warnings.catch_warnings():
        warnings.showwarning = show  # put back when the block ends
        yield


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


@app.command("train", help=t(_H + "train") + " " + t("clix.exit_codes"))
@with_spec_options
def train_command(
    spec_options: SpecOptions,
    out: Annotated[Optional[Path], typer.Option("--out", help=t(_H + "out"))] = None,
    log_every: Annotated[int, typer.Option("--log-every", min=0, help=t(_H + "log_every"))] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=t(_H + "quiet"))] = False,
    as_json: Annotated[bool, typer.Option("--json", help=t(_H + "json"))] = False,
    engine: Annotated[str, typer.Option("--engine", help=t("fastpath.help.engine"))] = "eager",
    no_fused: Annotated[bool, typer.Option("--no-fused", help=t("fastpath.help.no_fused"))] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", metavar="RUN", help=t("clix.help.resume"))] = None,
    checkpoint_every: Annotated[float, typer.Option("--checkpoint-every", min=0.0, help=t("clix.help.checkpoint_every"))] = 2.0,
    tensorboard: Annotated[Optional[Path], typer.Option("--tensorboard", metavar="DIR", help=t("track.help.tensorboard"))] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t(_H + "lang"))] = None,
) -> None:
    apply_lang(lang)
    if engine not in ENGINES:
        raise TorchgroundError("cli.bad_engine", value=engine, allowed=", ".join(ENGINES))
    if no_fused and engine == "eager":  # the Trainer has no fused kernel: the flag would do nothing
        raise TorchgroundError("usage.no_fused_eager")
    console = Console(stderr=as_json, highlight=False, soft_wrap=True, quiet=quiet)
    if resume is not None:
        if out is not None or spec_options.config is not None or spec_options.preset is not None or getattr(spec_options, "url", None) or any(
            v is not None for v in spec_options.values.values()
        ):
            raise TorchgroundError("resume.no_spec_flags")
        spec, out_dir = _resume_spec(resume), resume
    else:
        spec = spec_options.build()
        out_dir = out or default_run_dir(spec)
    if out_dir.exists() and not out_dir.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out_dir))
    if engine != "eager" and spec.training_loop != "pytorch":  # the stacked engine refuses TensorFlow Playground's loop
        err_console.print(t("tfpg.engine_fallback", engine=engine), highlight=False)
        engine = "eager"
    checkpoint = _checkpoint_of(out_dir, spec) if resume is not None and engine == "eager" else None
    resolve_device(spec.device)  # refused (no CUDA) before the folder is made
    start_run(spec, out_dir, resume=resume is not None)
    try:
        run = _train(spec, out_dir, engine, console, log_every, quiet, checkpoint, checkpoint_every, resume is not None, tensorboard,
                     fused=not no_fused)
        history = run.history
        paths = save_run(run, out_dir)
    except KeyboardInterrupt:  # before training started or while saving: the folder stays resumable
        err_console.print(t("resume.hint", path=str(out_dir)), highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
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
        raise typer.Exit(EXIT_INTERRUPTED)
    if history.status == "diverged":
        raise typer.Exit(EXIT_DIVERGED)


def _resume_spec(run_dir: Path) -> Spec:
    status = run_status(run_dir)
    if status is None:
        raise TorchgroundError("resume.not_a_run", path=str(run_dir))
    if status in FINAL_STATUSES:
        raise TorchgroundError("resume.finished", path=str(run_dir), status=status)
    return load_spec(run_dir / "spec.json")


def _checkpoint_of(run_dir: Path, spec: Spec) -> tuple[dict[str, Any], dict[str, Any]] | None:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    tensors, meta = load_checkpoint(path)
    # The data file's path may differ (the folder's own copy, data.csv); its SHA-256 may not.
    same = {k: v for k, v in json.loads(spec.to_json()).items() if k != "data_file"}
    if not isinstance(meta.get("spec"), dict) or {k: v for k, v in meta["spec"].items() if k != "data_file"} != same:
        raise TorchgroundError("ckpt.other_spec", path=str(path))
    return tensors, meta


def _train(
    spec: Spec, out_dir: Path, engine: str, console: Console, log_every: int, quiet: bool,
    checkpoint: tuple[dict[str, Any], dict[str, Any]] | None, checkpoint_every: float, resuming: bool,
    tensorboard: Path | None = None, fused: bool = True,
) -> Run:
    report = _Report(console, spec.epochs, log_every, progress=not quiet and console.is_terminal)
    if engine != "eager":  # the stacked engine: same numbers, lines printed once it is done
        from torchground.engine import train_fast

        with engine_notices(quiet):
            run = train_fast(spec, compile=engine == "compiled", fused=fused)
        for row in run.history.rows:
            report.on_epoch_end_lines(row)
        if tensorboard is not None:  # the engine's history, written once it is done
            from torchground.track.tensorboard import write_history

            write_history(tensorboard, spec, run.history)
        return run
    wall_before = float(checkpoint[1].get("wall_s", 0.0)) if checkpoint else 0.0
    saver = Checkpointer(out_dir / CHECKPOINT, every_s=checkpoint_every, wall_s=wall_before)
    trackers = []
    if tensorboard is not None:
        from torchground.track import TensorBoardTracker

        trackers.append(TensorBoardTracker(tensorboard))
    trainer = Trainer(spec, callbacks=[report, saver, *trackers])
    if checkpoint is not None:
        restore(trainer, *checkpoint)
        console.print(t("resume.from", path=str(out_dir), epoch=trainer.epoch, epochs=spec.epochs), highlight=False)
    elif resuming:
        console.print(t("resume.from_start", path=str(out_dir)), highlight=False)
    run = trainer.run(remaining_epochs(trainer), wall_s=wall_before)
    run.summary.setdefault("path", "trainer")  # which code trained it, as the stacked engine says too
    return run


def _print_summary(console: Console, run: Run, paths: dict[str, Path]) -> None:
    s = run.summary
    console.print(t("clix.completed", epochs=plural("clix.epochs", s["epochs"]), steps=plural("clix.steps", s["steps"]),
                    wall_s=s["wall_s"], steps_per_s=s["steps_per_s"] or 0))
    last = run.history.last
    if last:
        console.print(log_line(last, run.spec.epochs), highlight=False)
    console.print(t("cli.saved", path=str(paths["spec.json"].parent)))
