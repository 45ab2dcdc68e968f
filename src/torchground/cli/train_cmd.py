"""``torchground train``: train on a spec from flags and/or a config file, save the run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from torchground.callbacks import Callback
from torchground.cli.app import app, apply_lang, err_console
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.rundir import default_run_dir, load_spec, save_run
from torchground.spec import Spec
from torchground.trainer import Run, Trainer, summarize

__all__ = ["train_command", "spec_from_options", "parse_opt_args", "log_line"]

_H = "cli.help."


def _opt(field: str, *names: str) -> Any:
    return typer.Option(*(names or (f"--{field.replace('_', '-')}",)), help=t(_H + field), show_default=False)


def spec_from_options(config: Path | None, preset: str | None, values: dict[str, Any]) -> Spec:
    """Base spec (config file, else preset, else defaults) with the given flag values applied."""
    changes = {k: v for k, v in values.items() if v is not None}
    if config is not None:
        base = load_spec(config)
        if preset is not None:
            raise TorchgroundError("cli.config_and_preset")
        return base.replace(**changes) if changes else base
    return Spec.preset(preset or "seed", **changes)


def parse_opt_args(items: list[str] | None) -> dict[str, Any] | None:
    """``--opt momentum=0.9 --opt betas=0.9,0.99`` → optimizer_args."""
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip() or not raw.strip():
            raise TorchgroundError("cli.bad_opt", value=item)
        raw = raw.strip()
        value: Any
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif "," in raw:
            try:
                value = tuple(float(v) for v in raw.split(","))
            except ValueError:
                raise TorchgroundError("cli.bad_opt", value=item) from None
        else:
            try:
                value = float(raw) if any(c in raw for c in ".eE") else int(raw)
            except ValueError:
                value = raw  # e.g. LBFGS line_search_fn=strong_wolfe; the spec checks it
        out[name.strip()] = value
    return out


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
def train_command(
    config: Annotated[Optional[Path], typer.Option("--config", help=t(_H + "config"))] = None,
    preset: Annotated[Optional[str], _opt("preset")] = None,
    dataset: Annotated[Optional[str], _opt("dataset")] = None,
    n_samples: Annotated[Optional[str], _opt("n_samples")] = None,
    noise: Annotated[Optional[str], _opt("noise")] = None,
    train_pct: Annotated[Optional[str], _opt("train_pct")] = None,
    val_pct: Annotated[Optional[str], _opt("val_pct")] = None,
    test_pct: Annotated[Optional[str], _opt("test_pct")] = None,
    seed: Annotated[Optional[str], _opt("seed")] = None,
    init_seed: Annotated[Optional[str], _opt("init_seed")] = None,
    shuffle_seed: Annotated[Optional[str], _opt("shuffle_seed")] = None,
    features: Annotated[Optional[str], _opt("features")] = None,
    hidden: Annotated[Optional[str], _opt("hidden")] = None,
    activation: Annotated[Optional[str], _opt("activation")] = None,
    output_activation: Annotated[Optional[str], _opt("output_activation")] = None,
    init: Annotated[Optional[str], _opt("init")] = None,
    loss: Annotated[Optional[str], _opt("loss")] = None,
    optimizer: Annotated[Optional[str], _opt("optimizer")] = None,
    lr: Annotated[Optional[str], _opt("lr")] = None,
    weight_decay: Annotated[Optional[str], _opt("weight_decay")] = None,
    opt: Annotated[Optional[list[str]], _opt("optimizer_args", "--opt")] = None,
    l1: Annotated[Optional[str], _opt("l1")] = None,
    l2: Annotated[Optional[str], _opt("l2")] = None,
    batch_size: Annotated[Optional[str], _opt("batch_size")] = None,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle", help=t(_H + "shuffle"), show_default=False)] = None,
    epochs: Annotated[Optional[str], _opt("epochs")] = None,
    patience: Annotated[Optional[str], _opt("patience")] = None,
    min_delta: Annotated[Optional[str], _opt("min_delta")] = None,
    restore_best: Annotated[Optional[bool], typer.Option("--restore-best/--no-restore-best", help=t(_H + "restore_best"), show_default=False)] = None,
    device: Annotated[Optional[str], _opt("device")] = None,
    dtype: Annotated[Optional[str], _opt("dtype")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help=t(_H + "out"))] = None,
    log_every: Annotated[int, typer.Option("--log-every", min=0, help=t(_H + "log_every"))] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=t(_H + "quiet"))] = False,
    as_json: Annotated[bool, typer.Option("--json", help=t(_H + "json"))] = False,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t(_H + "lang"))] = None,
) -> None:
    apply_lang(lang)
    values = dict(
        dataset=dataset, n_samples=n_samples, noise=noise, train_pct=train_pct, val_pct=val_pct, test_pct=test_pct,
        seed=seed, init_seed=init_seed, shuffle_seed=shuffle_seed, features=features, hidden=hidden,
        activation=activation, output_activation=output_activation, init=init, loss=loss, optimizer=optimizer,
        lr=lr, weight_decay=weight_decay, optimizer_args=parse_opt_args(opt), l1=l1, l2=l2,
        batch_size=batch_size, shuffle=shuffle, epochs=epochs, patience=patience, min_delta=min_delta,
        restore_best=restore_best, device=device, dtype=dtype,
    )
    spec = spec_from_options(config, preset, values)
    out_dir = out or default_run_dir(spec)
    if out_dir.exists() and not out_dir.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out_dir))
    console = Console(stderr=as_json, highlight=False, soft_wrap=True, quiet=quiet)
    report = _Report(console, spec.epochs, log_every, progress=not quiet and console.is_terminal)
    trainer = Trainer(spec, callbacks=[report])
    start = time.perf_counter()
    history = trainer.fit()
    run = Run(spec, trainer.model, trainer.data, history, summarize(spec, history, time.perf_counter() - start, trainer.device))
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
