"""Command-line conventions every command follows: ``--version``, typed placeholders, exit statuses.

* ``torchground --version`` prints the installed version; ``torchground --lang ja COMMAND``
  sets the language as ``COMMAND --lang ja`` does.
* Option placeholders name the type of value a flag takes (``--lr FLOAT``, ``--epochs
  INTEGER``, ``--out PATH``), set on the built Click command by :func:`typed_placeholders`.
* Exit statuses (:data:`EXIT_STATUSES`): 0 done, 2 bad input, 3 a run diverged, 130
  interrupted by Ctrl-C.
* ``NO_COLOR`` (any value) turns colour off: rich's consoles read it themselves.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Optional, Union, get_args, get_origin

import typer

from torchground.cli.app import app, apply_lang
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
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None,
) -> None:
    """The root of the command line (its help is the app's)."""
    apply_lang(lang)


_NAMES = {int: "INTEGER", float: "FLOAT", str: "TEXT", Path: "PATH"}


def _placeholder(param: Any) -> str | None:
    """The placeholder for ``param``'s value type (``None``: leave it to Typer, e.g. choices)."""
    desc = getattr(param, "type_descriptor", None)
    kind = getattr(desc, "annotation", None)
    while get_origin(kind) in (Union, UnionType, list, Annotated):  # Optional[...], list[...]
        kind = next(a for a in get_args(kind) if a is not type(None))
    if desc is not None and getattr(desc, "is_choice", False):
        return None
    return _NAMES.get(kind) if isinstance(kind, type) else None


def typed_placeholders(command: Any) -> Any:
    """Give every option without an explicit placeholder one named by its type; returns ``command``."""
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "option" and not param.is_flag and param.metavar is None:
            param.metavar = _placeholder(param)
    for sub in getattr(command, "commands", {}).values():
        typed_placeholders(sub)
    return command
