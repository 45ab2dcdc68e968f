"""``torchground list``: what each registry holds, with a one-line explanation per entry."""

from __future__ import annotations

import inspect
import json
from typing import Annotated, Any, Optional

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
from torchground.schedules import SCHEDULERS, allowed_args, scheduler_kwargs
from torchground.spec import PRESETS

__all__ = ["list_command"]

_KINDS = ("activations", "losses", "optimizers", "inits", "datasets", "features", "presets", "schedulers")


@app.command("list", help=t("cli.help.list"))
def list_command(
    kind: Annotated[str, typer.Argument(help=t("cli.help.list_kind"), metavar="KIND")],
    as_json: Annotated[bool, typer.Option("--json", help=t("clix.help.list_json"))] = False,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    apply_lang(lang)
    if kind not in _KINDS:
        raise TorchgroundError("cli.bad_list_kind", value=kind, allowed=", ".join(_KINDS))
    entries = _entries(kind)
    if as_json:  # one JSON array: name, about, usable (false: refused, with the reason), settings
        typer.echo(json.dumps(entries, ensure_ascii=False, indent=1, default=str))
        return
    table = Table(title=t(f"cli.list.{kind}") if kind != "schedulers" else t("clix.list.schedulers"), show_lines=False)
    table.add_column(t("cli.list.name"), style="bold")
    table.add_column(t("cli.list.about"))
    for e in entries:
        if not e["usable"]:
            table.add_row(f"[dim]{e['name']}[/]", f"[dim]{t('cli.list.refused')}: {escape(e['reason'])}[/]")
            continue
        about = e["about"]
        if e.get("settings"):
            about += "  [" + ", ".join(f"{k}={v}" for k, v in e["settings"].items()) + "]"
        table.add_row(e["name"], escape(about))
    Console(highlight=False).print(table)


def _entries(kind: str) -> list[dict[str, Any]]:
    """What ``list KIND`` shows, one dict per entry."""
    registry = {"activations": ACTIVATIONS, "losses": LOSSES, "optimizers": OPTIMIZERS, "inits": INITS}.get(kind)
    out: list[dict[str, Any]] = []
    if registry is not None:
        for name in registry.names():
            entry: dict[str, Any] = {"name": name, "about": registry.get(name).summary(), "usable": True}
            if kind == "optimizers":
                entry["settings"] = dict(optimizer_params(name))
            out.append(entry)
        out += [{"name": name, "about": "", "usable": False, "reason": registry.entry(name).reason()} for name in registry.refused()]
    elif kind == "datasets":
        out = [{"name": name, "about": f"{t(info.summary_key)} ({info.problem}, n={info.default_n})", "usable": True,
                "problem": info.problem, "default_n": info.default_n} for name, info in DATASETS.items()]
    elif kind == "features":
        out = [{"name": name, "about": f"{info.label}: {t(info.summary_key)}", "usable": True} for name, info in FEATURES.items()]
    elif kind == "schedulers":
        out = [{"name": name, "about": f"torch.optim.lr_scheduler.{cls.__name__}", "usable": True,
                "settings": dict.fromkeys(allowed_args(name), "")} for name, cls in SCHEDULERS.items()]
        for e in out:
            e["settings"] = {k: _default(e["name"], k) for k in e["settings"]}
    else:
        out = [{"name": name, "about": t(f"cli.preset.{name}"), "usable": True, "settings": dict(values)} for name, values in PRESETS.items()]
    return out


def _default(name: str, arg: str) -> Any:
    """A schedule setting's default: torchground's where it sets one, else torch's (per epoch, for 100 epochs)."""
    ours = scheduler_kwargs(name, {}, lr=0.03, epochs=100)
    if arg in ours:
        return ours[arg]
    default = inspect.signature(SCHEDULERS[name]).parameters[arg].default
    return None if default is inspect.Parameter.empty else default
