"""Command-line conventions every command follows: ``--version``, typed placeholders, exit statuses.

* ``torchground --version`` prints the installed version.
* Option placeholders name the type of value a flag takes (``--lr FLOAT``, ``--epochs
  INTEGER``, ``--out PATH``), set on the built Click command by :func:`typed_placeholders`.
* Exit statuses (:data:`EXIT_STATUSES`): 0 done, 2 bad input, 3 a run diverged, 130
  interrupted by Ctrl-C.
* ``NO_COLOR`` (any value) turns colour off: rich's consoles read it themselves.
"""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import click
import typer

from torchground.cli.app import app
from torchground.i18n import t

__all__ = ["EXIT_STATUSES", "version", "typed_placeholders"]

EXIT_STATUSES = {0: "done", 2: "bad input", 3: "diverged", 130: "interrupted"}


def version() -> str:
    """The installed distribution's version (the package's own when run from a source tree)."""
    try:
        return metadata.version("torchground")
    except metadata.PackageNotFoundError:
        from torchground import __version__

        return __version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"torchground {version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", help=t("clix.help.version"), is_eager=True,
                                               callback=_show_version)] = False,
) -> None:
    """The root of the command line (its help is the app's)."""


def _placeholder(param: click.Parameter) -> str | None:
    kind = param.type
    if isinstance(kind, (click.IntRange,)) or kind is click.INT:
        return "INTEGER"
    if isinstance(kind, click.FloatRange) or kind is click.FLOAT:
        return "FLOAT"
    if isinstance(kind, click.Path) or getattr(kind, "name", "") == "path":
        return "PATH"
    if isinstance(kind, click.Choice):
        return None  # click shows the choices
    if kind is click.STRING:
        return "TEXT"
    return None


def typed_placeholders(command: click.Command) -> click.Command:
    """Give every option without an explicit placeholder one named by its type; returns ``command``."""
    for param in command.params:
        if isinstance(param, click.Option) and not param.is_flag and param.metavar is None:
            param.metavar = _placeholder(param)
        elif isinstance(param, click.Argument) and param.metavar is None:
            param.metavar = param.name.upper() if param.name else None
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            typed_placeholders(sub)
    return command
