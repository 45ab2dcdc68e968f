"""``torchground list``: what each registry holds, with a one-line explanation per entry."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torchground.cli.app import app, apply_lang
from torchground.data.datasets import DATASETS
from torchground.errors import TorchgroundError
from torchground.data.features import FEATURES
from torchground.i18n import t
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, optimizer_params
from torchground.spec import PRESETS

__all__ = ["list_command"]

_KINDS = ("activations", "losses", "optimizers", "inits", "datasets", "features", "presets")


@app.command("list", help=t("cli.help.list"))
def list_command(
    kind: Annotated[str, typer.Argument(help=t("cli.help.list_kind"))],
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    if kind not in _KINDS:
        raise TorchgroundError("cli.bad_list_kind", value=kind, allowed=", ".join(_KINDS))
    table = Table(title=t(f"cli.list.{kind}"), show_lines=False)
    table.add_column(t("cli.list.name"), style="bold")
    table.add_column(t("cli.list.about"))
    registry = {"activations": ACTIVATIONS, "losses": LOSSES, "optimizers": OPTIMIZERS, "inits": INITS}.get(kind)
    if registry is not None:
        for name in registry.names():
            about = registry.get(name).summary()
            if kind == "optimizers" and optimizer_params(name):
                about += "  [" + ", ".join(f"{k}={v}" for k, v in optimizer_params(name).items()) + "]"
            table.add_row(name, escape(about))
        for name in registry.refused():
            table.add_row(f"[dim]{name}[/]", f"[dim]{t('cli.list.refused')}: {escape(registry.entry(name).reason())}[/]")
    elif kind == "datasets":
        for name, info in DATASETS.items():
            table.add_row(name, f"{t(info.summary_key)} ({info.problem}, n={info.default_n})")
    elif kind == "features":
        for name, info in FEATURES.items():
            table.add_row(name, f"{info.label}: {t(info.summary_key)}")
    else:
        for name, values in PRESETS.items():
            table.add_row(name, t(f"cli.preset.{name}") + (" " + ", ".join(f"{k}={v}" for k, v in values.items()) if values else ""))
    Console(highlight=False).print(table)
