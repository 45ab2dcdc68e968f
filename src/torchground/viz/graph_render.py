"""Renderers for :class:`~torchground.explain.graph.Graph`: DOT, SVG/PNG, terminal text and JSON.

SVG and PNG go through Graphviz's ``dot`` program. We run it with :mod:`subprocess`
rather than through the ``graphviz`` Python package: we already produce the DOT text
ourselves, we need nothing but ``dot -T<fmt>`` with a timeout, and this keeps the
package an optional install. When ``dot`` is missing, :func:`render` raises
:class:`GraphvizMissing` and :func:`write_graph` writes the DOT text beside the asked-for
path instead, telling the caller so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchground.atomic import write_bytes, write_text
from torchground.errors import TorchgroundError
from torchground.explain.graph import KIND_COLOURS, Graph, Node
from torchground.i18n import t

__all__ = [
    "FORMATS",
    "SUFFIXES",
    "GraphvizMissing",
    "GraphFile",
    "GraphView",
    "dot_available",
    "to_dot",
    "to_text",
    "to_json",
    "render",
    "write_graph",
]

#: Formats :func:`render` and :func:`write_graph` know.
FORMATS: tuple[str, ...] = ("svg", "png", "dot", "json", "text")

#: File suffixes :func:`write_graph` infers a format from.
SUFFIXES: dict[str, str] = {
    ".svg": "svg",
    ".png": "png",
    ".dot": "dot",
    ".gv": "dot",
    ".json": "json",
    ".txt": "text",
}

_NEEDS_DOT = ("svg", "png")
_SHORT = 40  # longest value text inside a box or on a text line


class GraphvizMissing(TorchgroundError):
    """Graphviz's ``dot`` program is not installed; ``params['fmt']`` is what was asked."""

    def __init__(self, fmt: str) -> None:
        super().__init__("graph.graphviz_missing", fmt=fmt)


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` program is on ``PATH``."""
    return shutil.which("dot") is not None


# --- DOT ----------------------------------------------------------------------------------


def to_dot(graph: Graph, title: str | None = None) -> str:
    r"""The graph as Graphviz DOT text, coloured like torchviz's ``make_dot``.

    Boxes show the label and shape, and the value and gradient (shortened) when the graph
    was extracted with ``with_values=True``. Saved tensors hang off their operation with
    a dashed line.

    Args:
        graph: the graph to draw.
        title: a caption above the picture. Default: ``None``.

    Example:
        >>> from torchground.explain.graph import Graph, Node, Edge
        >>> g = Graph((Node("n0", "output", "y", (1,)), Node("n1", "input", 'say "hi"', (1,))),
        ...           (Edge("n1", "n0"),))
        >>> print(to_dot(g))  # doctest: +NORMALIZE_WHITESPACE
        digraph torchground {
          graph [size="12,12"];
          node [shape=box, style=filled, fontname="Courier", fontsize=10, height=0.2];
          "n0" [label="y\n(1)", fillcolor="#caff70"];
          "n1" [label="say \"hi\"\n(1)", fillcolor="#fff68f"];
          "n1" -> "n0";
        }
    """
    lines = ["digraph torchground {", '  graph [size="12,12"];']
    if title:
        lines.append(f"  label={_quote(title)}; labelloc=t; fontsize=12;")
    lines.append('  node [shape=box, style=filled, fontname="Courier", fontsize=10, height=0.2];')
    for node in graph.nodes:
        colour = KIND_COLOURS[node.kind]
        label = _quote(_box_text(node))
        lines.append(f'  {_quote(node.id)} [label={label}, fillcolor="{colour}"];')
    for edge in graph.edges:
        style = " [style=dashed, dir=none]" if graph.node(edge.source).kind == "saved" else ""
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _box_text(node: Node) -> str:
    parts = [node.label]
    if node.shape is not None:
        parts.append(_shape_text(node.shape))
    if node.value is not None:
        parts.append("= " + _value_text(node.value))
    if node.grad is not None:
        parts.append("grad " + _value_text(node.grad))
    return "\n".join(parts)


def _quote(text: str) -> str:
    """A DOT double-quoted string; backslashes too, since Graphviz reads ``\\n``, ``\\N``…"""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return f'"{escaped}"'


def _shape_text(shape: tuple[int, ...]) -> str:
    # torchviz's style: (1, 2), (1) and () rather than Python's (1,).
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        text = " ".join(f"{k} {_number(value[k])}" for k in ("min", "mean", "max") if k in value)
    elif isinstance(value, list):
        text = json.dumps(_numbers(value), ensure_ascii=False).replace('"', "")
    else:
        text = _number(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def _numbers(value: Any) -> Any:
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return _number(value) if isinstance(value, float) else value


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --- text ---------------------------------------------------------------------------------


def to_text(graph: Graph, title: str | None = None, lang: str | None = None) -> str:
    """A text drawing for terminals: a tree from each output down to the parameters.

    Each line shows a node's label, its kind in brackets, its shape, and its value and
    gradient when present. A part of the graph that several nodes use is drawn once; later
    it is marked "(shown above)".

    Args:
        graph: the graph to draw.
        title: a first line. Default: ``None``.
        lang: language of the kind names ("en" or "ja"). Default: the current language.

    Example:
        >>> from torchground.explain.graph import Graph, Node, Edge
        >>> g = Graph((Node("n0", "output", "y", ()), Node("n1", "operation", "PowBackward0"),
        ...            Node("n2", "input", "x", ())), (Edge("n1", "n0"), Edge("n2", "n1")))
        >>> print(to_text(g, lang="en"))
        y [output] ()
        └── PowBackward0 [operation]
            └── x [input] ()
    """
    lines: list[str] = [title] if title else []
    kinds = {kind: t(f"graph.kind.{kind}", lang) for kind in KIND_COLOURS}
    shown_above = t("graph.text.shown_above", lang)
    roots = [n.id for n in graph.by_kind("output")] or [
        n.id for n in graph.nodes if not graph.successors(n.id)
    ]
    children = {n.id: list(graph.predecessors(n.id)) for n in graph.nodes}
    expanded: set[str] = set()
    for root in roots:
        # (node id, prefix for its line, prefix for its children's lines); iterative so deep
        # graphs do not hit the recursion limit.
        stack: list[tuple[str, str, str]] = [(root, "", "")]
        while stack:
            node_id, line_prefix, child_prefix = stack.pop()
            node = graph.node(node_id)
            line = f"{line_prefix}{_line_text(node, kinds)}"
            if children[node_id] and node_id in expanded:
                lines.append(f"{line} {shown_above}")
                continue
            lines.append(line)
            expanded.add(node_id)
            kids = children[node_id]
            for i in reversed(range(len(kids))):
                last = i == len(kids) - 1
                stack.append(
                    (
                        kids[i],
                        child_prefix + ("└── " if last else "├── "),
                        child_prefix + ("    " if last else "│   "),
                    )
                )
    return "\n".join(lines)


def _line_text(node: Node, kinds: dict[str, str]) -> str:
    text = f"{node.label} [{kinds[node.kind]}]"
    if node.shape is not None:
        text += f" {_shape_text(node.shape)}"
    if node.value is not None:
        text += f" = {_value_text(node.value)}"
    if node.grad is not None:
        text += f"  grad {_value_text(node.grad)}"
    return text


# --- JSON ---------------------------------------------------------------------------------


def to_json(graph: Graph, indent: int | None = 2) -> str:
    """The graph as strict JSON (:meth:`Graph.to_dict`); ``Graph.from_dict`` reads it back.

    Example:
        >>> from torchground.explain.graph import Graph, Node
        >>> g = Graph((Node("n0", "output", "y", (), value=1.0),), ())
        >>> Graph.from_dict(json.loads(to_json(g))) == g
        True
    """
    return json.dumps(graph.to_dict(), ensure_ascii=False, indent=indent, allow_nan=False)


# --- Graphviz -----------------------------------------------------------------------------


def render(
    graph: Graph,
    fmt: str,
    title: str | None = None,
    lang: str | None = None,
    timeout: float = 30.0,
) -> str | bytes:
    """Render ``graph`` as ``fmt``: ``"png"`` gives bytes, the other formats text.

    Args:
        graph: the graph to draw.
        fmt: one of ``"svg"``, ``"png"`` (both need Graphviz's ``dot``), ``"dot"``,
            ``"json"``, ``"text"``.
        title: a caption (dot, svg, png, text). Default: ``None``.
        lang: language of the text drawing's kind names. Default: the current language.
        timeout: seconds ``dot`` may run. Default: ``30.0``.

    Raises:
        GraphvizMissing: svg or png was asked for and ``dot`` is not installed.
        TorchgroundError: an unknown format, or ``dot`` failed or ran too long.

    Example:
        >>> from torchground.explain.graph import Graph, Node
        >>> render(Graph((Node("n0", "output", "y", ()),), ()), "text", lang="en")
        'y [output] ()'
    """
    if fmt == "dot":
        return to_dot(graph, title)
    if fmt == "json":
        return to_json(graph)
    if fmt == "text":
        return to_text(graph, title, lang)
    if fmt in _NEEDS_DOT:
        data = _run_dot(to_dot(graph, title), fmt, timeout)
        return data.decode("utf-8") if fmt == "svg" else data
    raise TorchgroundError("graph.unknown_format", fmt=fmt, allowed=", ".join(FORMATS))


def _run_dot(dot_text: str, fmt: str, timeout: float) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(fmt)
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TorchgroundError("graph.dot_timeout", seconds=timeout) from None
    except OSError as exc:
        raise TorchgroundError("graph.dot_failed", fmt=fmt, detail=str(exc)) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()[:500]
        detail = detail or f"exit status {done.returncode}"
        raise TorchgroundError("graph.dot_failed", fmt=fmt, detail=detail)
    return done.stdout


# --- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphFile:
    """What :func:`write_graph` wrote.

    Args:
        path: the file actually written.
        fmt: its format.
        requested: the format asked for; differs from ``fmt`` when Graphviz was missing
            and the DOT text was written instead.
    """

    path: Path
    fmt: str
    requested: str

    @property
    def fell_back(self) -> bool:
        """True when the DOT text was written because Graphviz was missing."""
        return self.fmt != self.requested

    def notice(self, lang: str | None = None) -> str | None:
        """The message to show after a fallback ("Graphviz not found, wrote X.dot …")."""
        if not self.fell_back:
            return None
        return t("graph.wrote_dot_instead", lang, path=str(self.path), fmt=self.requested)


def write_graph(
    graph: Graph,
    path: str | Path,
    fmt: str | None = None,
    title: str | None = None,
    fallback: bool = True,
    lang: str | None = None,
) -> GraphFile:
    """Write ``graph`` to ``path`` atomically, in ``fmt`` or the format its suffix names.

    Suffixes: .svg .png .dot .gv .json .txt. When svg or png is asked for and Graphviz's
    ``dot`` is missing, the DOT text goes to ``<path>.dot`` instead (``graph.svg.dot``)
    and the result says so (:attr:`GraphFile.fell_back`, :meth:`GraphFile.notice`).

    Args:
        graph: the graph to write.
        path: where to write it.
        fmt: the format; default: inferred from the suffix.
        title: a caption (dot, svg, png, text). Default: ``None``.
        fallback: write DOT text when ``dot`` is missing; ``False`` raises
            :class:`GraphvizMissing` instead. Default: ``True``.
        lang: language of the text drawing. Default: the current language.

    Returns:
        A :class:`GraphFile` naming the file actually written and its format.
    """
    path = Path(path)
    if fmt is None:
        fmt = SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise TorchgroundError(
                "graph.unknown_suffix", path=str(path), allowed=", ".join(SUFFIXES)
            )
    elif fmt not in FORMATS:
        raise TorchgroundError("graph.unknown_format", fmt=fmt, allowed=", ".join(FORMATS))
    try:
        data = render(graph, fmt, title=title, lang=lang)
    except GraphvizMissing:
        if not fallback:
            raise
        dot_path = path.with_name(path.name + ".dot")
        write_text(dot_path, to_dot(graph, title))
        return GraphFile(dot_path, "dot", fmt)
    if isinstance(data, bytes):
        write_bytes(path, data)
    else:
        write_text(path, data if data.endswith("\n") else data + "\n")
    return GraphFile(path, fmt, fmt)


# --- notebooks ----------------------------------------------------------------------------


class GraphView:
    """A graph for Jupyter (an SVG picture when Graphviz is installed) and terminals (text).

    Example:
        >>> from torchground.explain.graph import Graph, Node
        >>> print(GraphView(Graph((Node("n0", "output", "loss", ()),), ()), lang="en"))
        loss [output] ()
    """

    def __init__(self, graph: Graph, title: str | None = None, lang: str | None = None) -> None:
        self.graph = graph
        self.title = title
        self.lang = lang

    @property
    def dot(self) -> str:
        """The DOT text."""
        return to_dot(self.graph, self.title)

    def save(self, path: str | Path, fmt: str | None = None) -> GraphFile:
        """Write the graph; see :func:`write_graph`."""
        return write_graph(self.graph, path, fmt, title=self.title, lang=self.lang)

    def _repr_svg_(self) -> str | None:
        # None tells Jupyter to fall back to the text form.
        if not dot_available():
            return None
        try:
            svg = render(self.graph, "svg", title=self.title)
        except TorchgroundError:
            return None
        assert isinstance(svg, str)
        return svg

    def __str__(self) -> str:
        return to_text(self.graph, self.title, self.lang)

    def __repr__(self) -> str:
        return str(self)
