"""``torchground export script|notebook|url``: write a spec's PyTorch code to a file (or stdout).

``export url`` prints the spec's TensorFlow Playground link instead (or writes it to
``--out``), or names each setting TensorFlow Playground cannot show.

The spec comes from the same flags, ``--config`` and ``--preset`` as ``torchground
train``; the code is :func:`torchground.codegen.to_script` or
:func:`~torchground.codegen.to_notebook` of it. ``--lang`` sets the language of the
messages and of the code's comments; without it both follow ``TORCHGROUND_LANG`` or the
locale (:func:`torchground.i18n.resolve_language`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from torchground.atomic import write_text
from torchground.cli.app import app, apply_lang, err_console
from torchground.cli.spec_options import SpecOptions, with_spec_options
from torchground.codegen import EXPORT_KINDS, export
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.train.tfpg_run import link_of

__all__ = ["export_command"]

_H = "cli.help."


@app.command("export", help=t("codegen.help.export"))
@with_spec_options
def export_command(
    spec_options: SpecOptions,
    kind: Annotated[str, typer.Argument(help=t("codegen.help.kind"), show_default=False)],
    out: Annotated[Optional[str], typer.Option("--out", help=t("codegen.help.out"), show_default=False)] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t("codegen.help.lang"))] = None,
    run: Annotated[Optional[Path], typer.Option("--run", metavar="RUN", help=t("deploy.help.run"))] = None,
) -> None:
    apply_lang(lang)
    if kind == "onnx":  # a trained run's model (torchground.deploy), not a spec's code
        _export_onnx(run, out)
        return
    if kind not in (*EXPORT_KINDS, "url"):  # checked before the spec, so the first mistake is named first
        raise TorchgroundError("codegen.bad_kind", value=kind, allowed=", ".join((*EXPORT_KINDS, "url", "onnx")))
    if out is None and kind != "url":
        raise TorchgroundError("tfpg.export_needs_out", kind=kind)
    spec = spec_options.build()
    if kind == "url":  # TensorFlow Playground's link of the spec, on stdout unless --out names a file
        text = link_of(spec) + "\n"
        out = out or "-"
    else:
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


def _export_onnx(run: Path | None, out: str | None) -> None:
    """``export onnx --run RUN --out FILE.onnx``: the run's model as an ONNX graph on raw points."""
    from torchground.deploy import export_onnx, load_run
    from torchground.deploy.loaded import n_classes

    if run is None or not out:
        raise TorchgroundError("deploy.onnx_needs_run")
    if out == "-" or not out.lower().endswith(".onnx"):  # a binary graph: a file, named as one
        raise TorchgroundError("deploy.onnx_out", value=out)
    loaded = load_run(run)
    path = Path(out)
    if path.is_dir():
        raise TorchgroundError("codegen.out_is_dir", path=out)
    try:
        export_onnx(loaded, path)
    except OSError as exc:
        raise TorchgroundError("deploy.write_failed", path=out, reason=exc.strerror or str(exc)) from None
    k = n_classes(loaded.spec)
    shown = f"probabilities float32 (N, {k})" if k > 2 else "output float32 (N, 1)"
    err_console.print(t("deploy.onnx_written", run=str(run), path=out, output=shown), highlight=False)
