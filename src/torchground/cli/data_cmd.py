"""``torchground data``: write a Playground data set as CSV points or a scatter picture.

``--url LINK`` writes a TensorFlow Playground link's own points instead, in its order:
the training points, then the test points (a picture draws them all, in the same colours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from torchground.cli.app import app, apply_lang, err_console
from torchground.data.csv_io import read_csv, write_csv
from torchground.data.datasets import make_dataset
from torchground.data.tfpg_datasets import playground_points
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.train.tfpg_run import spec_from_link
from torchground.viz.plots import plot_dataset, save_figure

__all__ = ["data_command"]


@app.command("data", help=t("cli.help.data"))
def data_command(
    name: Annotated[Optional[str], typer.Argument(help=t("cli.help.dataset"))] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help=t("cli.help.data_out"))] = None,
    url: Annotated[Optional[str], typer.Option("--url", help=t("tfpg.help.data_url"))] = None,
    noise: Annotated[float, typer.Option("--noise", help=t("cli.help.noise"))] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help=t("cli.help.seed"))] = 0,
    n: Annotated[Optional[int], typer.Option("--n", help=t("cli.help.n_samples"))] = None,
    classes: Annotated[Optional[int], typer.Option("--classes", help=t("cli.help.classes"))] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help=t("cli.help.data_csv"))] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    if out is None:
        raise TorchgroundError("tfpg.data_needs_out")
    if data is None and (name is None) == (url is None):
        raise TorchgroundError("tfpg.data_name_or_url")
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".png", ".svg"):
        raise TorchgroundError("cli.data_suffix", path=str(out))
    if url is not None:
        spec, notes = spec_from_link(url)
        for note in notes:
            err_console.print(note.render(), highlight=False)
        ds, _ = playground_points(spec.dataset, spec.noise, spec.tf_playground_seed)
        order = "tfpg.data_order" if suffix == ".csv" else "tfpg.data_picture"  # rows of a file, or dots of a picture
        err_console.print(t(order, n_train=spec.n_train, n_test=ds.n - spec.n_train), highlight=False)
    elif data is not None:  # a CSV file, checked by the rules of --data; drawn over its own extent
        ds = read_csv(data)
    else:
        ds = make_dataset(name, n_samples=n, noise=noise, seed=seed, classes=classes)
    if suffix == ".csv":
        write_csv(ds, out)
    else:
        save_figure(plot_dataset(ds), out)
    done = "cli.data_written" if suffix == ".csv" else "cli.data_drawn"
    err_console.print(t(done, n=ds.n, name=ds.name, path=str(out)), highlight=False)
