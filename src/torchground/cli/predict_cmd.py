"""``torchground predict --run RUN --data points.csv --out preds.csv``: a trained run's predictions.

See :mod:`torchground.deploy.predict` for the columns written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from torchground.cli.app import app, apply_lang, err_console
from torchground.errors import TorchgroundError
from torchground.i18n import plural, t

__all__ = ["predict_command"]


@app.command("predict", help=t("deploy.help.predict"))
def predict_command(
    run: Annotated[Path, typer.Option("--run", metavar="RUN", help=t("deploy.help.predict_run"), show_default=False)],
    data: Annotated[Path, typer.Option("--data", metavar="CSV", help=t("deploy.help.predict_data"), show_default=False)],
    out: Annotated[Path, typer.Option("--out", metavar="CSV", help=t("deploy.help.predict_out"), show_default=False)],
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    from torchground.deploy import load_run, predict_csv

    if str(out) in ("", "-") or out.suffix.lower() != ".csv":  # predictions are a CSV file, not the terminal
        raise TorchgroundError("deploy.predict_out", value=str(out))
    loaded = load_run(run)
    if out.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out))
    try:
        n = predict_csv(loaded, data, out)
    except OSError as exc:
        raise TorchgroundError("deploy.write_failed", path=str(out), reason=exc.strerror or str(exc)) from None
    err_console.print(t("deploy.predicted", points=plural("deploy.points", n), path=str(out)), highlight=False)
