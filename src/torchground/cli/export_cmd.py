"""``torchground export script|notebook``: write a spec's PyTorch code to a file (or stdout).

The spec comes from the same flags, ``--config`` and ``--preset`` as ``torchground
train``; the code is :func:`torchground.codegen.to_script` or
:func:`~torchground.codegen.to_notebook` of it. ``--lang`` sets the language of the
messages and of the code's comments (the comments default to English).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from torchground.atomic import write_text
from torchground.cli.app import app, apply_lang, err_console
from torchground.cli.train_cmd import parse_opt_args, spec_from_options
from torchground.codegen import EXPORT_KINDS, export
from torchground.errors import TorchgroundError
from torchground.i18n import t

__all__ = ["export_command"]

_H = "cli.help."


def _opt(field: str, *names: str) -> Any:
    return typer.Option(*(names or (f"--{field.replace('_', '-')}",)), help=t(_H + field), show_default=False)


@app.command("export", help=t("codegen.help.export"))
def export_command(
    kind: Annotated[str, typer.Argument(help=t("codegen.help.kind"), show_default=False)],
    out: Annotated[str, typer.Option("--out", help=t("codegen.help.out"), show_default=False)],
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
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("codegen.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    if kind not in EXPORT_KINDS:  # checked before the spec, so the first mistake is named first
        raise TorchgroundError("codegen.bad_kind", value=kind, allowed=", ".join(EXPORT_KINDS))
    values = dict(
        dataset=dataset, n_samples=n_samples, noise=noise, train_pct=train_pct, val_pct=val_pct, test_pct=test_pct,
        seed=seed, init_seed=init_seed, shuffle_seed=shuffle_seed, features=features, hidden=hidden,
        activation=activation, output_activation=output_activation, init=init, loss=loss, optimizer=optimizer,
        lr=lr, weight_decay=weight_decay, optimizer_args=parse_opt_args(opt), l1=l1, l2=l2,
        batch_size=batch_size, shuffle=shuffle, epochs=epochs, patience=patience, min_delta=min_delta,
        restore_best=restore_best, device=device, dtype=dtype,
    )
    spec = spec_from_options(config, preset, values)
    text = export(spec, kind, lang)
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(out)
    if path.is_dir():
        raise TorchgroundError("codegen.out_is_dir", path=out)
    try:
        write_text(path, text)
    except OSError as exc:  # e.g. a read-only folder: a message, not a traceback
        raise TorchgroundError("codegen.write_failed", path=out, reason=exc.strerror or str(exc)) from None
    err_console.print(t("codegen.written", kind=kind, path=out), highlight=False)
