"""Autograd graph extraction: walk ``tensor.grad_fn`` into plain, JSON-ready data.

This module only reads the graph PyTorch recorded during a forward pass and turns it into
:class:`Node` and :class:`Edge` records. It draws nothing and writes nothing; the
renderers (DOT, SVG/PNG, text, JSON) live in :mod:`torchground.viz.graph_render`, and the
browser reads :meth:`Graph.to_dict`.

The picture follows the one ``torchviz.make_dot`` draws in the curriculum (part 1, step 4):
parameters that need gradients, the backward functions PyTorch recorded, and the outputs,
with arrows in the direction the data flows (parameter → operation → … → output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping

from torch import Tensor, nn

from torchground.errors import TorchgroundError
from torchground.explain.graph_values import (
    SMALL_TENSOR_NUMEL,
    from_json_numbers,
    summarize_tensor,
    to_json_numbers,
)

__all__ = [
    "KINDS",
    "KIND_COLOURS",
    "SMALL_TENSOR_NUMEL",
    "Node",
    "Edge",
    "Graph",
    "extract_graph",
    "summarize_tensor",
]

Kind = Literal["parameter", "input", "operation", "output", "saved"]

#: Every node kind, in the order renderers list them.
KINDS: tuple[str, ...] = ("output", "operation", "parameter", "input", "saved")

#: Fill colours per kind, as hex so both Graphviz and CSS (the browser) understand them.
#: They are torchviz's: lightblue parameters, lightgrey operations, darkolivegreen1
#: outputs, orange saved tensors; inputs (formula variables) get khaki1, a light yellow.
KIND_COLOURS: Mapping[str, str] = {
    "parameter": "#add8e6",
    "input": "#fff68f",
    "operation": "#d3d3d3",
    "output": "#caff70",
    "saved": "#ffa500",
}

@dataclass(frozen=True)
class Node:
    """One box of the picture.

    Args:
        id: stable identifier, ``"n0"``, ``"n1"``, … numbered in depth-first order from
            the outputs, so the same graph always gets the same ids.
        kind: ``"parameter"`` (a leaf that needs a gradient), ``"input"`` (a leaf named in
            ``inputs``, such as a formula variable), ``"operation"`` (a backward function
            such as ``TanhBackward0``), ``"output"`` or ``"saved"`` (a tensor an operation
            saved for the backward pass).
        label: what the box says: a parameter's name, an operation's class name, an
            output's key, a saved tensor's slot (``"mat1"``, with the tensor's name in
            parentheses when it is a named one).
        shape: the tensor's shape; ``None`` for operations.
        value: the tensor's value when extracted with ``with_values=True`` (see
            :func:`summarize_tensor`), else ``None``.
        grad: the tensor's ``.grad`` in the same form, when it has one.
        requires_grad: the tensor's ``requires_grad``; ``None`` for operations.
    """

    id: str
    kind: Kind
    label: str
    shape: tuple[int, ...] | None = None
    value: Any = None
    grad: Any = None
    requires_grad: bool | None = None

    # Values are nested lists (JSON-ready), which are unhashable; the id identifies a node
    # within its graph, and the kind and label keep hashes apart across graphs.
    def __hash__(self) -> int:
        return hash((self.id, self.kind, self.label))

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON-ready data (non-finite numbers become ``"nan"``/``"inf"``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "shape": None if self.shape is None else list(self.shape),
            "value": to_json_numbers(self.value),
            "grad": to_json_numbers(self.grad),
            "requires_grad": self.requires_grad,
        }


@dataclass(frozen=True)
class Edge:
    """An arrow in data-flow direction: ``source`` is used to compute ``target``."""

    source: str
    target: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target}


@dataclass(frozen=True)
class Graph:
    """The autograd graph as plain data: nodes and data-flow edges.

    An edge may appear twice when a tensor is used twice by one operation (``x * x``).
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    _index: Mapping[str, Node] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "edges", tuple(self.edges))
        index: dict[str, Node] = {}
        for node in self.nodes:
            if node.kind not in KIND_COLOURS:
                raise TorchgroundError("graph.bad_data", detail=f"unknown kind {node.kind!r}")
            if node.id in index:
                raise TorchgroundError("graph.bad_data", detail=f"duplicate node id {node.id!r}")
            index[node.id] = node
        for edge in self.edges:
            for end in (edge.source, edge.target):
                if end not in index:
                    raise TorchgroundError("graph.bad_data", detail=f"edge to unknown node {end!r}")
        object.__setattr__(self, "_index", index)

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id`` (``KeyError`` if there is none)."""
        return self._index[node_id]

    def by_kind(self, kind: str) -> tuple[Node, ...]:
        """All nodes of ``kind``, in id order."""
        return tuple(n for n in self.nodes if n.kind == kind)

    def by_label(self, label: str) -> tuple[Node, ...]:
        """All nodes whose label is ``label`` (operations may repeat, names do not)."""
        return tuple(n for n in self.nodes if n.label == label)

    def predecessors(self, node_id: str) -> tuple[str, ...]:
        """Ids of the nodes with an edge into ``node_id`` (what it is computed from)."""
        return tuple(e.source for e in self.edges if e.target == node_id)

    def successors(self, node_id: str) -> tuple[str, ...]:
        """Ids of the nodes ``node_id`` has an edge into (what it is used for)."""
        return tuple(e.target for e in self.edges if e.source == node_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: ``{"nodes": [...], "edges": [...]}``; see :meth:`from_dict`."""
        return {
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Graph:
        """Rebuild a graph from :meth:`to_dict` output; malformed data → TorchgroundError."""
        try:
            nodes = [
                Node(
                    id=str(n["id"]),
                    kind=n["kind"],
                    label=str(n["label"]),
                    shape=None if n.get("shape") is None else tuple(int(s) for s in n["shape"]),
                    value=from_json_numbers(n.get("value")),
                    grad=from_json_numbers(n.get("grad")),
                    requires_grad=n.get("requires_grad"),
                )
                for n in data["nodes"]
            ]
            edges = [Edge(str(e["source"]), str(e["target"])) for e in data["edges"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise TorchgroundError("graph.bad_data", detail=detail) from None
        return cls(tuple(nodes), tuple(edges))


def extract_graph(
    outputs: Tensor | Mapping[str, Tensor],
    params: Mapping[str, Tensor] | nn.Module | Iterable[tuple[str, Tensor]] | None = None,
    inputs: Mapping[str, Tensor] | None = None,
    with_values: bool = False,
    with_saved: bool = False,
    max_nodes: int = 2000,
) -> Graph:
    r"""Walk the autograd graph behind ``outputs`` into a :class:`Graph`.

    Starting from each output's ``grad_fn``, follows ``next_functions`` down to the
    ``AccumulateGrad`` nodes whose ``variable`` is a leaf tensor. Leaves are named by
    identity from ``params`` and ``inputs``; an unnamed leaf that needs a gradient is
    called ``"tensor"``. Edges point in data-flow direction (leaf → operation → output).

    Args:
        outputs: one tensor (labelled ``"output"``) or a mapping of labels to tensors,
            for example ``{"loss": loss}``.
        params: names for parameters: a mapping, an ``nn.Module`` (its
            ``named_parameters()``) or ``(name, tensor)`` pairs. Default: ``None``.
        inputs: names for leaf tensors shown as ``"input"`` nodes, such as a formula's
            variables (``{"x": x}`` with ``x.requires_grad``). An input that does not
            require a gradient only shows up as the name of a saved tensor. Default: ``None``.
        with_values: record tensor values and ``.grad`` (after ``backward()`` parameters
            carry their gradients). Default: ``False``.
        with_saved: add the tensors operations saved for the backward pass (``"saved"``
            nodes, torchviz's orange boxes). After ``backward()`` they are freed and left
            out, unless it ran with ``retain_graph=True``. Default: ``False``.
        max_nodes: refuse graphs with more nodes than this. Default: ``2000``.

    Returns:
        The graph; extracting the same computation twice gives equal graphs.

    Raises:
        TorchgroundError: an output was computed without gradients (no ``grad_fn`` and
            ``requires_grad=False``), something given is not a tensor, or the graph has
            more than ``max_nodes`` nodes.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> layer1 = nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = layer1.weight.copy_(torch.tensor([[0.6, -0.2]]))
        ...     _ = layer1.bias.copy_(torch.tensor([0.8]))
        >>> y = torch.tanh(layer1(torch.tensor([[1.0, 2.0]])))
        >>> g = extract_graph({"y": y}, params={"layer1.weight": layer1.weight,
        ...                                    "layer1.bias": layer1.bias})
        >>> [(n.label, n.shape) for n in g.by_kind("parameter")]
        [('layer1.bias', (1,)), ('layer1.weight', (1, 2))]
        >>> [n.label for n in g.by_kind("operation")]
        ['TanhBackward0', 'AddmmBackward0', 'TBackward0']
        >>> [(g.node(e.source).label, g.node(e.target).label) for e in g.edges][:2]
        [('TanhBackward0', 'y'), ('AddmmBackward0', 'TanhBackward0')]
    """
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise TorchgroundError("graph.bad_max_nodes", value=max_nodes)
    named_outputs = _named_tensors(outputs if isinstance(outputs, Mapping) else {"output": outputs})
    if not named_outputs:
        raise TorchgroundError("graph.no_outputs")
    param_names = _names_by_identity(_param_items(params))
    input_names = _names_by_identity(_named_tensors(inputs or {}))
    output_names = _names_by_identity(named_outputs)
    for name, tensor in named_outputs:
        if tensor.grad_fn is None and not tensor.requires_grad:
            raise TorchgroundError("graph.no_grad_fn", name=name)
    walker = _Walker(param_names, input_names, output_names, with_values, with_saved, max_nodes)
    for name, tensor in named_outputs:
        walker.add_output(name, tensor)
    return Graph(tuple(walker.nodes), tuple(walker.edges))


# --- walking ------------------------------------------------------------------------------


class _Walker:
    """Depth-first walk that numbers nodes in the order it first meets them."""

    def __init__(
        self,
        param_names: Mapping[int, tuple[str, Tensor]],
        input_names: Mapping[int, tuple[str, Tensor]],
        output_names: Mapping[int, tuple[str, Tensor]],
        with_values: bool,
        with_saved: bool,
        max_nodes: int,
    ) -> None:
        self.param_names = param_names
        self.input_names = input_names
        self.output_names = output_names
        self.with_values = with_values
        self.with_saved = with_saved
        self.max_nodes = max_nodes
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        # Keys are id()s of autograd nodes and leaf tensors; ``_alive`` holds a reference to
        # each so no id can be reused by another object while the walk runs.
        self._seen: dict[int, str] = {}
        self._alive: list[Any] = []

    def _new(self, kind: Kind, label: str, tensor: Tensor | None = None) -> str:
        if len(self.nodes) >= self.max_nodes:
            raise TorchgroundError("graph.too_many_nodes", limit=self.max_nodes)
        node_id = f"n{len(self.nodes)}"
        if tensor is None:
            self.nodes.append(Node(node_id, kind, label))
        else:
            value = grad = None
            if self.with_values:
                value = summarize_tensor(tensor)
                # Reading .grad of a non-leaf warns; only leaves and retain_grad() have one.
                if (tensor.is_leaf or tensor.retains_grad) and tensor.grad is not None:
                    grad = summarize_tensor(tensor.grad)
            self.nodes.append(
                Node(node_id, kind, label, tuple(tensor.shape), value, grad, tensor.requires_grad)
            )
        return node_id

    def add_output(self, name: str, tensor: Tensor) -> None:
        out_id = self._new("output", name, tensor)
        fn = tensor.grad_fn
        if fn is None:
            self.edges.append(Edge(self._leaf(tensor), out_id))
        elif id(fn) in self._seen:
            self.edges.append(Edge(self._seen[id(fn)], out_id))
        else:
            root_id, children = self._enter(fn)
            self.edges.append(Edge(root_id, out_id))
            self._walk(root_id, children)

    def _leaf(self, tensor: Tensor) -> str:
        key = id(tensor)
        if key in self._seen:
            return self._seen[key]
        if key in self.input_names:
            node_id = self._new("input", self.input_names[key][0], tensor)
        elif key in self.param_names:
            node_id = self._new("parameter", self.param_names[key][0], tensor)
        else:
            node_id = self._new("parameter", "tensor", tensor)
        self._seen[key] = node_id
        self._alive.append(tensor)
        return node_id

    def _enter(self, fn: Any) -> tuple[str, list[Any]]:
        """Create the node for ``fn``; return its id and the children still to walk."""
        variable = getattr(fn, "variable", None)
        if isinstance(variable, Tensor):  # AccumulateGrad: the leaf tensor itself
            node_id = self._leaf(variable)
            self._seen[id(fn)] = node_id
            self._alive.append(fn)
            return node_id, []
        node_id = self._new("operation", type(fn).__name__)
        self._seen[id(fn)] = node_id
        self._alive.append(fn)
        if self.with_saved:
            self._add_saved(fn, node_id)
        return node_id, [child for child, _ in fn.next_functions if child is not None]

    def _walk(self, root_id: str, children: list[Any]) -> None:
        # Iterative DFS (deep graphs would overflow Python's recursion limit).
        stack: list[tuple[str, list[Any], int]] = [(root_id, children, 0)]
        while stack:
            node_id, children, i = stack.pop()
            if i >= len(children):
                continue
            stack.append((node_id, children, i + 1))
            child = children[i]
            if id(child) in self._seen:
                self.edges.append(Edge(self._seen[id(child)], node_id))
                continue
            child_id, grand_children = self._enter(child)
            self.edges.append(Edge(child_id, node_id))
            stack.append((child_id, grand_children, 0))

    def _add_saved(self, fn: Any, op_id: str) -> None:
        for attr in sorted(a for a in dir(fn) if a.startswith("_saved_")):
            try:
                value = getattr(fn, attr)
            except RuntimeError:  # freed by backward() without retain_graph=True
                continue
            slot = attr[len("_saved_"):]
            if isinstance(value, Tensor):
                items = [(slot, value)]
            elif value and isinstance(value, (tuple, list)) and all(
                isinstance(v, Tensor) for v in value
            ):
                items = [(f"{slot}[{i}]", v) for i, v in enumerate(value)]
            else:
                continue
            for label, tensor in items:
                name = self._name_of(tensor)
                saved_id = self._new("saved", f"{label} ({name})" if name else label, tensor)
                self._alive.append(tensor)
                self.edges.append(Edge(saved_id, op_id))

    def _name_of(self, tensor: Tensor) -> str | None:
        for table in (self.input_names, self.param_names, self.output_names):
            entry = table.get(id(tensor))
            if entry is not None and entry[1] is tensor:
                return entry[0]
        return None


# --- helpers ------------------------------------------------------------------------------


def _named_tensors(mapping: Mapping[str, Any]) -> list[tuple[str, Tensor]]:
    if not isinstance(mapping, Mapping):
        raise TorchgroundError("graph.not_a_tensor", name="inputs", type=type(mapping).__name__)
    items = []
    for name, tensor in mapping.items():
        if not isinstance(tensor, Tensor):
            raise TorchgroundError("graph.not_a_tensor", name=str(name), type=type(tensor).__name__)
        items.append((str(name), tensor))
    return items


def _param_items(params: Any) -> list[tuple[str, Tensor]]:
    if params is None:
        return []
    if isinstance(params, nn.Module):
        return list(params.named_parameters())
    if isinstance(params, Mapping):
        return _named_tensors(params)
    if isinstance(params, Tensor) or not isinstance(params, Iterable):
        raise TorchgroundError("graph.not_a_tensor", name="params", type=type(params).__name__)
    pairs = list(params)
    if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise TorchgroundError("graph.not_a_tensor", name="params", type=type(params).__name__)
    return _named_tensors(dict(pairs))


def _names_by_identity(items: list[tuple[str, Tensor]]) -> dict[int, tuple[str, Tensor]]:
    # The tensor rides along so it stays alive and its id() cannot be reused.
    table: dict[int, tuple[str, Tensor]] = {}
    for name, tensor in items:
        table.setdefault(id(tensor), (name, tensor))
    return table
