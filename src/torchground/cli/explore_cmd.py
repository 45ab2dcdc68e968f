"""``torchground neuron``, ``grad`` and ``graph``: look at values, gradients and autograd graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from torchground.cli.app import app, apply_lang, err_console
from torchground.cli.spec_options import spec_from_options
from torchground.data.spec_data import csv_fields
from torchground.errors import TorchgroundError
from torchground.explain.neuron import model_graph, neuron_pass
from torchground.explain.formula import differentiate, parse_assignments
from torchground.explain.graph import Graph, extract_graph
from torchground.viz.graph_render import FORMATS, render, to_text, write_graph
from torchground.i18n import t

__all__ = ["neuron_command", "grad_command", "graph_command", "parse_numbers"]

_LANG = typer.Option("--lang", help=t("cli.help.lang"))


def parse_numbers(option: str, text: str) -> list[float]:
    """``"0.6,-0.2"`` → ``[0.6, -0.2]``; anything else is refused naming the option."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise TorchgroundError("explore.bad_numbers", option=option, value=text) from None
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise TorchgroundError("explore.bad_numbers", option=option, value=text)
    return values


def _write_or_print(graph: Graph, out: Path | None, fmt: str | None, console: Console, title: str) -> None:
    if out is None:
        console.print(to_text(graph, title=title), highlight=False, markup=False)
        return
    written = write_graph(graph, out, fmt=fmt, title=title)
    notice = written.notice()
    if notice:
        err_console.print(notice, highlight=False)
    err_console.print(t("explore.graph_written", path=str(written.path)), highlight=False)


@app.command("neuron", help=t("explore.help.neuron"))
def neuron_command(
    weight: Annotated[str, typer.Option("--weight", help=t("explore.help.weight"))] = "0.6,-0.2",
    bias: Annotated[str, typer.Option("--bias", help=t("explore.help.bias"))] = "0.8",
    inputs: Annotated[str, typer.Option("--input", help=t("explore.help.input"))] = "1,2",
    target: Annotated[Optional[str], typer.Option("--target", help=t("explore.help.target"))] = None,
    activation: Annotated[str, typer.Option("--activation", help=t("cli.help.activation"))] = "tanh",
    loss: Annotated[str, typer.Option("--loss", help=t("cli.help.loss"))] = "mse",
    out: Annotated[Optional[Path], typer.Option("--out", help=t("explore.help.graph_out"))] = None,
    lang: Annotated[Optional[str], _LANG] = None,
) -> None:
    apply_lang(lang)
    w = parse_numbers("--weight", weight)
    (b,) = parse_numbers("--bias", bias) if "," not in bias else (None,)
    if b is None:
        raise TorchgroundError("explore.bad_numbers", option="--bias", value=bias)
    x = parse_numbers("--input", inputs)
    y = None if target is None else parse_numbers("--target", target)[0]
    result = neuron_pass(w, b, x, target=y, activation=activation, loss=loss)
    console = Console(highlight=False)
    table = Table(title=t("explore.neuron_title", activation=activation), show_header=True)
    table.add_column(t("explore.quantity"))
    table.add_column(t("explore.value"), justify="right")
    table.add_row("x", str(x))
    table.add_row("layer1.weight", str(w))
    table.add_row("layer1.bias", str(b))
    table.add_row(t("explore.output"), f"{result.output:.4f}  (grad_fn={result.grad_fn})")
    if result.loss is not None:
        table.add_row(t("explore.loss", loss=loss), f"{result.loss:.4f}")
        table.add_row("layer1.weight.grad", "[" + ", ".join(f"{g:.4f}" for g in result.weight_grad or []) + "]")
        table.add_row("layer1.bias.grad", f"{result.bias_grad:.4f}")
    console.print(table)
    if result.loss is None:
        console.print(t("explore.no_target"))
    _write_or_print(result.graph, out, None, console, t("explore.neuron_graph_title"))


@app.command("grad", help=t("explore.help.grad"))
def grad_command(
    expr: Annotated[str, typer.Argument(help=t("explore.help.expr"))],
    at: Annotated[str, typer.Option("--at", help=t("explore.help.at"))] = "",
    out: Annotated[Optional[Path], typer.Option("--out", help=t("explore.help.graph_out"))] = None,
    lang: Annotated[Optional[str], _LANG] = None,
) -> None:
    apply_lang(lang)
    values = parse_assignments(at)
    result = differentiate(expr, values)
    console = Console(highlight=False)
    console.print(t("explore.grad_value", formula=str(result.formula), at=at or "-", value=f"{result.value:.6g}"))
    for name, g in result.grads.items():
        console.print(f"  ∂/∂{name} = {g:.6g}")
    if not result.finite:
        console.print(t("explore.not_finite"))
    graph = extract_graph({"y": result.output}, inputs=result.inputs, with_values=True)
    _write_or_print(graph, out, None, console, str(result.formula))


@app.command("graph", help=t("explore.help.graph"))
def graph_command(
    config: Annotated[Optional[Path], typer.Option("--config", help=t("cli.help.config"))] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help=t("cli.help.data_csv"))] = None,
    preset: Annotated[str, typer.Option("--preset", help=t("explore.help.graph_preset"))] = "seed",
    values: Annotated[bool, typer.Option("--values", help=t("explore.help.values"))] = False,
    fmt: Annotated[str, typer.Option("--format", help=t("explore.help.format"))] = "text",
    out: Annotated[Optional[Path], typer.Option("--out", help=t("explore.help.graph_out"))] = None,
    batch: Annotated[int, typer.Option("--batch", help=t("explore.help.batch"))] = 4,
    lang: Annotated[Optional[str], _LANG] = None,
) -> None:
    apply_lang(lang)
    if fmt not in FORMATS:
        raise TorchgroundError("explore.bad_format", value=fmt, allowed=", ".join(FORMATS))
    if preset not in ("seed", "neuron"):
        raise TorchgroundError("explore.bad_graph_preset", value=preset, allowed="seed, neuron")
    fields = csv_fields(data) if data is not None else {}  # --data FILE.csv: the spec's data fields from it
    spec = spec_from_options(config, None, fields) if config is not None or fields else None
    graph = model_graph(spec, preset=preset, with_values=values, batch=batch)
    title = t("explore.graph_title", name=str(config or data or preset))
    if out is None:
        if fmt not in ("text", "dot", "json"):
            raise TorchgroundError("explore.needs_out", format=fmt)
        text = render(graph, fmt, title=title)
        typer.echo(text if isinstance(text, str) else text.decode())
        return
    _write_or_print(graph, out, fmt, Console(highlight=False), title)
