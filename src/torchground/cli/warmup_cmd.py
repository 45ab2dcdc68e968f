"""``torchground warmup``: build the fused C kernels of the common network shapes into the
user's cache (:func:`~torchground.engine.kernels.prebuild.warm`), so that a first
``train --engine fast`` or ``sweep`` finds them built. Idempotent: a kernel already in the
cache is kept and listed as cached. Exit status: 0 done, 1 no C compiler or a build failed
(each failure says why: the compiler's exit status and first line on stderr).
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from torchground.cli.app import app, apply_lang, err_console
from torchground.i18n import plural, t

__all__ = ["warmup_command"]


@app.command("warmup", help=t("fastpath.help.warmup"))
def warmup_command(lang: Annotated[Optional[str], typer.Option("--lang", help=t("cli.help.lang"))] = None) -> None:
    apply_lang(lang)
    from torchground.engine.kernels.build_cache import compiler, private_cache, reason
    from torchground.engine.kernels.prebuild import warm

    try:
        compiler()
    except RuntimeError as exc:  # no C compiler: not a usage error, the machine lacks a tool (exit 1, as a failed build)
        err_console.print(t("fastpath.warmup.no_compiler", reason=reason(exc)), highlight=False)
        raise typer.Exit(1) from None
    console = Console(highlight=False, soft_wrap=True)

    def show(record: dict[str, Any]) -> None:
        fields = {"shape": record["shape"], "models": plural("fastpath.models", record["models"]), "library": record["library"],
                  "order": t("fastpath.warmup.one_order" if record["shared"] else "fastpath.warmup.own_orders")}
        if record["error"]:
            err_console.print(t("fastpath.warmup.failed", error=record["error"], **fields), highlight=False)
        elif record["built"]:
            console.print(t("fastpath.warmup.built", seconds=record["seconds"], **fields))
        else:
            console.print(t("fastpath.warmup.cached", **fields))

    from torchground.cli.train_cmd import engine_notices

    with engine_notices():  # a cache folder that cannot be used: one line saying which one is used instead
        records = warm(report=show)
        folder = private_cache()
    built = sum(1 for r in records if r["built"] and not r["error"])
    cached = sum(1 for r in records if not r["built"])
    console.print(t("fastpath.warmup.done", built=built, cached=cached, path=str(folder)))
    if any(r["error"] for r in records):
        raise typer.Exit(1)
