"""``torchground data``: write a Playground data set as CSV points or a scatter picture."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from torchground.cli.app import app, apply_lang, err_console
from torchground.data.csv_io import write_csv
from torchground.data.datasets import make_dataset
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.viz.plots import plot_dataset, save_figure

__all__ = ["data_command"]


@app.command("data", help=t("cli.help.data"))
def data_command(
    name: Annotated[str, typer.Argument(help=t("cli.help.dataset"))],
    out: Annotated[Path, typer.Option("--out", help=t("cli.help.data_out"))],
    noise: Annotated[float, typer.Option("--noise", help=t("cli.help.noise"))] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help=t("cli.help.seed"))] = 0,
    n: Annotated[Optional[int], typer.Option("--n", help=t("cli.help.n_samples"))] = None,
    classes: Annotated[Optional[int], typer.Option("--classes", help=t("cli.help.classes"))] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".png", ".svg"):
        raise TorchgroundError("cli.data_suffix", path=str(out))
    ds = make_dataset(name, n_samples=n, noise=noise, seed=seed, classes=classes)
    if suffix == ".csv":
        write_csv(ds, out)
    else:
        save_figure(plot_dataset(ds), out)
    err_console.print(t("cli.data_written", n=ds.n, name=ds.name, path=str(out)), highlight=False)
