"""Tests for autograd graph extraction (torchground.explain.graph) and its renderers."""

from __future__ import annotations

import json
import re
import shutil
import string
from pathlib import Path

import pytest
import torch
from torch import nn

from torchground.viz import graph_render
from torchground.errors import TorchgroundError
from torchground.explain.graph import KIND_COLOURS, Edge, Graph, Node, extract_graph, summarize_tensor
from torchground.viz.graph_render import (
    GraphFile,
    GraphView,
    GraphvizMissing,
    render,
    to_dot,
    to_json,
    to_text,
    write_graph,
)
from torchground.i18n import catalogue

HAS_DOT = shutil.which("dot") is not None
LEAF = torch.ones(1, requires_grad=True)


class Neuron(nn.Module):
    """The curriculum's one neuron (part 1, steps 1-3)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.layer1(x))


@pytest.fixture
def neuron() -> Neuron:
    torch.manual_seed(0)
    model = Neuron()
    with torch.no_grad():
        model.layer1.weight.copy_(torch.tensor([[0.6, -0.2]]))
        model.layer1.bias.copy_(torch.tensor([0.8]))
    return model


def neuron_loss(model: Neuron) -> torch.Tensor:
    y = model(torch.tensor([[1.0, 2.0]]))
    return nn.MSELoss()(y, torch.tensor([[1.0]]))


def labels(graph: Graph, kind: str) -> list[str]:
    return [n.label for n in graph.by_kind(kind)]


def path_labels(graph: Graph, start: str) -> list[str]:
    """Follow the (single) data-flow successor from the node labelled ``start``."""
    node = graph.by_label(start)[0]
    out = [node.label]
    while succ := graph.successors(node.id):
        node = graph.node(succ[0])
        out.append(node.label)
    return out


# --- extraction ---------------------------------------------------------------------------


def test_neuron_nodes(neuron: Neuron) -> None:
    g = extract_graph({"loss": neuron_loss(neuron)}, params=neuron)
    params = {n.label: n for n in g.by_kind("parameter")}
    assert set(params) == {"layer1.weight", "layer1.bias"}
    assert params["layer1.weight"].shape == (1, 2)
    assert params["layer1.bias"].shape == (1,)
    assert all(p.requires_grad for p in params.values())
    ops = labels(g, "operation")
    assert {"AddmmBackward0", "TBackward0", "TanhBackward0", "MseLossBackward0"} <= set(ops)
    assert [(n.label, n.shape) for n in g.by_kind("output")] == [("loss", ())]
    assert g.by_kind("input") == g.by_kind("saved") == ()
    assert all(n.shape is None and n.value is None for n in g.by_kind("operation"))


def test_neuron_edges_follow_data_flow(neuron: Neuron) -> None:
    g = extract_graph({"loss": neuron_loss(neuron)}, params=dict(neuron.named_parameters()))
    assert path_labels(g, "layer1.weight") == [
        "layer1.weight",
        "TBackward0",
        "AddmmBackward0",
        "TanhBackward0",
        "MseLossBackward0",
        "loss",
    ]
    assert path_labels(g, "layer1.bias")[:2] == ["layer1.bias", "AddmmBackward0"]
    outputs = {n.id for n in g.by_kind("output")}
    assert all(e.source not in outputs for e in g.edges)  # outputs are sinks


def test_neuron_default_output_label_and_forward_value(neuron: Neuron) -> None:
    y = neuron(torch.tensor([[1.0, 2.0]]))
    g = extract_graph(y, params=neuron, with_values=True)
    (out,) = g.by_kind("output")
    assert out.label == "output"
    assert out.value == [[0.7616]]  # tanh(1.0), curriculum step 3
    assert g.node(g.predecessors(out.id)[0]).label == "TanhBackward0"


def test_neuron_gradients_after_backward(neuron: Neuron) -> None:
    loss = neuron_loss(neuron)
    loss.backward()
    g = extract_graph({"loss": loss}, params=neuron, with_values=True)
    weight = g.by_label("layer1.weight")[0]
    bias = g.by_label("layer1.bias")[0]
    assert weight.value == [[0.6, -0.2]]
    assert bias.value == [0.8]
    expected_w, expected_b = torch.tensor([[-0.2002, -0.4005]]), torch.tensor([-0.2002])
    torch.testing.assert_close(torch.tensor(weight.grad), expected_w, atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.tensor(bias.grad), expected_b, atol=1e-4, rtol=0)
    assert g.by_kind("output")[0].value == pytest.approx(0.05684, abs=1e-5)
    assert all(n.grad is None for n in g.by_kind("operation"))


def test_without_values_nothing_recorded(neuron: Neuron) -> None:
    loss = neuron_loss(neuron)
    loss.backward()
    g = extract_graph({"loss": loss}, params=neuron)
    assert all(n.value is None and n.grad is None for n in g.nodes)


def test_two_layer_network_parameter_names() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Tanh())
    out = model(torch.randn(5, 2))
    g = extract_graph({"y": out}, params=model)
    shapes = {n.label: n.shape for n in g.by_kind("parameter")}
    assert shapes == {"0.weight": (3, 2), "0.bias": (3,), "2.weight": (1, 3), "2.bias": (1,)}
    assert labels(g, "operation").count("TanhBackward0") == 2
    assert labels(g, "operation").count("AddmmBackward0") == 2


def test_formula_input_node() -> None:
    x = torch.tensor(1.0, requires_grad=True)
    y = x**2
    y.backward()
    g = extract_graph({"y": y}, inputs={"x": x}, with_values=True)
    (inp,) = g.by_kind("input")
    assert (inp.label, inp.shape, inp.value, inp.grad) == ("x", (), 1.0, 2.0)
    assert g.by_kind("parameter") == ()
    assert path_labels(g, "x") == ["x", "PowBackward0", "y"]


def test_unnamed_leaf_is_tensor_and_shared_use() -> None:
    w = torch.ones(2, requires_grad=True)
    g = extract_graph((w * w).sum())
    (leaf,) = g.by_kind("parameter")
    assert leaf.label == "tensor"
    mul = g.by_label("MulBackward0")[0]
    assert g.predecessors(mul.id) == (leaf.id, leaf.id)  # used twice, drawn once


def test_leaf_output_and_shared_subgraph() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    g = extract_graph({"x": x, "y": y, "z": y.sum()}, inputs={"x": x})
    assert labels(g, "output") == ["x", "y", "z"]
    assert len(g.by_kind("input")) == 1 and len(g.by_label("ExpBackward0")) == 1
    exp_id = g.by_label("ExpBackward0")[0].id
    assert set(g.successors(exp_id)) == {g.by_label("y")[0].id, g.by_label("SumBackward0")[0].id}


def test_saved_tensors(neuron: Neuron) -> None:
    x = torch.tensor([[1.0, 2.0]])
    y = neuron(x)
    g = extract_graph({"y": y}, params=neuron, inputs={"x": x}, with_saved=True, with_values=True)
    saved = {n.label: n for n in g.by_kind("saved")}
    assert saved["mat1 (x)"].value == [[1.0, 2.0]]
    assert saved["result"].value == [[0.7616]]
    addmm = g.by_label("AddmmBackward0")[0].id
    assert saved["mat1 (x)"].id in g.predecessors(addmm)
    y.sum().backward()  # frees the saved tensors: they are left out, no error
    freed = extract_graph({"y": y}, params=neuron, with_saved=True)
    assert freed.by_kind("saved") == ()


def test_deterministic(neuron: Neuron) -> None:
    def build() -> Graph:
        loss = neuron_loss(neuron)
        return extract_graph({"loss": loss}, params=neuron, with_values=True, with_saved=True)

    a, b = build(), build()
    assert a == b
    assert [n.id for n in a.nodes] == [f"n{i}" for i in range(len(a.nodes))]
    assert a.nodes[0].kind == "output"


def test_deep_graph_and_max_nodes() -> None:
    x = torch.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(1500):  # deeper than the default recursion limit allows recursively
        y = y * 1.0
    g = extract_graph(y, inputs={"x": x})
    assert len(g.nodes) == 1502
    assert to_text(g, lang="en").count("\n") == 1501
    with pytest.raises(TorchgroundError, match="1000") as info:
        extract_graph(y, max_nodes=1000)
    assert info.value.key == "graph.too_many_nodes"


def test_refuses_tensor_without_graph() -> None:
    with pytest.raises(TorchgroundError) as info:
        extract_graph({"loss": torch.ones(2)})
    assert info.value.key == "graph.no_grad_fn"
    assert "loss" in info.value.message("en") and "requires_grad" in info.value.message("en")
    model = nn.Linear(2, 1)
    with torch.no_grad():
        y = model(torch.ones(1, 2))
    with pytest.raises(TorchgroundError, match="no_grad"):
        extract_graph(y, params=model)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"outputs": {}}, "graph.no_outputs"),
        ({"outputs": [1.0]}, "graph.not_a_tensor"),
        ({"outputs": {"y": 3.0}}, "graph.not_a_tensor"),
        ({"outputs": LEAF, "params": {"w": "x"}}, "graph.not_a_tensor"),
        ({"outputs": LEAF, "params": 3}, "graph.not_a_tensor"),
        ({"outputs": LEAF, "inputs": [LEAF]}, "graph.not_a_tensor"),
        ({"outputs": LEAF, "max_nodes": 0}, "graph.bad_max_nodes"),
        ({"outputs": LEAF, "max_nodes": True}, "graph.bad_max_nodes"),
    ],
)
def test_bad_arguments(kwargs: dict, key: str) -> None:
    with pytest.raises(TorchgroundError) as info:
        extract_graph(**kwargs)
    assert info.value.key == key


def test_params_as_named_parameters_iterator(neuron: Neuron) -> None:
    g = extract_graph(neuron_loss(neuron), params=neuron.named_parameters())
    assert set(labels(g, "parameter")) == {"layer1.weight", "layer1.bias"}


def test_summarize_tensor() -> None:
    assert summarize_tensor(torch.tensor(0.123456)) == 0.1235
    assert summarize_tensor(torch.tensor([1, 2])) == [1, 2]
    big = summarize_tensor(torch.arange(1000.0).reshape(10, 100))
    assert big == {"shape": [10, 100], "min": 0.0, "mean": 499.5, "max": 999.0}


# --- graph data ---------------------------------------------------------------------------


def test_json_round_trip(neuron: Neuron) -> None:
    loss = neuron_loss(neuron)
    loss.backward(retain_graph=True)
    g = extract_graph({"loss": loss}, params=neuron, with_values=True, with_saved=True)
    assert Graph.from_dict(json.loads(to_json(g))) == g
    assert Graph.from_dict(json.loads(render(g, "json"))) == g


def test_json_non_finite_is_strict() -> None:
    g = Graph((Node("n0", "output", "y", (2,), value=[float("inf"), 1.0]),), ())
    text = to_json(g)  # allow_nan=False: would raise on a bare inf
    assert '"inf"' in text
    assert Graph.from_dict(json.loads(text)) == g


def test_graph_validates_data() -> None:
    with pytest.raises(TorchgroundError) as info:
        Graph((Node("n0", "output", "y"),), (Edge("n9", "n0"),))
    assert info.value.key == "graph.bad_data"
    with pytest.raises(TorchgroundError):
        Graph.from_dict({"nodes": [{"id": "n0"}], "edges": []})
    with pytest.raises(TorchgroundError):
        Graph.from_dict({"nodes": [{"id": "n0", "kind": "alien", "label": "?"}], "edges": []})


# --- renderers ----------------------------------------------------------------------------


def test_dot_colours_labels_and_edges(neuron: Neuron) -> None:
    x = torch.tensor([[1.0, 2.0]])
    g = extract_graph({"loss": neuron_loss(neuron)}, params=neuron, with_saved=True)
    dot = to_dot(g, title="one neuron")
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for kind in ("parameter", "operation", "output", "saved"):
        assert KIND_COLOURS[kind] in dot
    assert '"layer1.weight\\n(1, 2)"' in dot
    assert '"layer1.bias\\n(1)"' in dot
    assert 'label="one neuron"' in dot
    w = g.by_label("layer1.weight")[0].id
    t_node = g.by_label("TBackward0")[0].id
    assert f'"{w}" -> "{t_node}";' in dot
    assert "style=dashed" in dot
    x_graph = extract_graph({"y": x.requires_grad_() * 2}, inputs={"x": x})
    assert KIND_COLOURS["input"] in to_dot(x_graph)


def test_dot_escapes_labels() -> None:
    g = Graph((Node("n0", "output", 'a "b" \\ c\nd'),), ())
    dot = to_dot(g, title='t"')
    assert '"a \\"b\\" \\\\ c\\nd"' in dot
    assert 'label="t\\""' in dot


def test_dot_shows_values_short(neuron: Neuron) -> None:
    loss = neuron_loss(neuron)
    loss.backward()
    dot = to_dot(extract_graph({"loss": loss}, params=neuron, with_values=True))
    assert "grad [[-0.2002, -0.4005]]" in dot
    summary = summarize_tensor(torch.arange(1000.0))
    big = Graph((Node("n0", "input", "x", (1000,), value=summary),), ())
    assert "min 0 mean 499.5 max 999" in to_dot(big)


def test_text_drawing(neuron: Neuron) -> None:
    loss = neuron_loss(neuron)
    loss.backward()
    g = extract_graph({"loss": loss}, params=neuron, with_values=True)
    text = to_text(g, lang="en")
    lines = text.splitlines()
    assert lines[0] == "loss [output] () = 0.05684"
    assert "└── MseLossBackward0 [operation]" in lines[1]
    (weight_line,) = [line for line in lines if "layer1.weight [parameter] (1, 2)" in line]
    assert weight_line.endswith("= [[0.6, -0.2]]  grad [[-0.2002, -0.4005]]")
    assert any("├── layer1.bias [parameter] (1)" in line for line in lines)
    assert text == to_text(g, lang="en") == str(GraphView(g, lang="en"))
    ja = to_text(g, lang="ja")
    assert "layer1.weight [パラメーター]" in ja and "[出力]" in ja


def test_text_marks_shared_subgraph() -> None:
    x = torch.tensor(2.0, requires_grad=True)
    h = x.exp()
    g = extract_graph({"a": h * 2, "b": h * 3}, inputs={"x": x})
    text = to_text(g, lang="en")
    assert text.count("ExpBackward0") == 2
    assert text.count("(shown above)") == 1


def test_render_formats_and_errors(neuron: Neuron) -> None:
    g = extract_graph(neuron_loss(neuron), params=neuron)
    assert render(g, "dot") == to_dot(g)
    assert render(g, "text", lang="en") == to_text(g, lang="en")
    with pytest.raises(TorchgroundError) as info:
        render(g, "gif")
    assert info.value.key == "graph.unknown_format"


def test_missing_dot(neuron: Neuron, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_render.shutil, "which", lambda name: None)
    g = extract_graph({"loss": neuron_loss(neuron)}, params=neuron)
    with pytest.raises(GraphvizMissing) as info:
        render(g, "svg")
    assert isinstance(info.value, TorchgroundError)
    assert "apt-get install graphviz" in info.value.message("en")
    assert "DOT" in info.value.message("en") and "Graphviz" in info.value.message("ja")

    result = write_graph(g, tmp_path / "graph.svg")
    assert result == GraphFile(tmp_path / "graph.svg.dot", "dot", "svg")
    assert result.fell_back
    assert result.path.read_text(encoding="utf-8") == to_dot(g)
    assert not (tmp_path / "graph.svg").exists()
    notice = result.notice("en")
    assert notice is not None and notice.startswith("Graphviz not found, wrote ")
    assert str(result.path) in notice
    with pytest.raises(GraphvizMissing):
        write_graph(g, tmp_path / "g.png", fallback=False)
    assert GraphView(g)._repr_svg_() is None


def test_write_graph_formats(neuron: Neuron, tmp_path: Path) -> None:
    g = extract_graph({"loss": neuron_loss(neuron)}, params=neuron)
    for name, fmt in [("a.dot", "dot"), ("a.gv", "dot"), ("a.json", "json"), ("a.txt", "text")]:
        result = write_graph(g, tmp_path / name, lang="en")
        assert result == GraphFile(tmp_path / name, fmt, fmt) and not result.fell_back
        assert result.notice() is None
    assert Graph.from_dict(json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))) == g
    assert "layer1.weight" in (tmp_path / "a.txt").read_text(encoding="utf-8")
    assert write_graph(g, tmp_path / "picture", fmt="dot").fmt == "dot"
    with pytest.raises(TorchgroundError) as info:
        write_graph(g, tmp_path / "a.bmp")
    assert info.value.key == "graph.unknown_suffix"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["a.dot", "a.gv", "a.json", "a.txt", "picture"]  # nothing half-written


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_svg_and_png_with_dot(neuron: Neuron, tmp_path: Path) -> None:
    g = extract_graph({"loss": neuron_loss(neuron)}, params=neuron)
    svg = render(g, "svg", title="one neuron")
    assert isinstance(svg, str) and svg.lstrip().startswith(("<?xml", "<svg"))
    assert "layer1.weight" in svg
    png = render(g, "png")
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG")
    result = write_graph(g, tmp_path / "g.svg")
    assert not result.fell_back
    assert result.path.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    view_svg = GraphView(g)._repr_svg_()
    assert view_svg is not None and "<svg" in view_svg


# --- catalogue ----------------------------------------------------------------------------


def test_catalogue_keys_match_in_both_languages() -> None:
    en = {k: v for k, v in catalogue("en").items() if k.startswith("graph.")}
    ja = {k: v for k, v in catalogue("ja").items() if k.startswith("graph.")}
    assert en and set(en) == set(ja)

    def fields(template: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f}

    for key in en:
        assert fields(en[key]) == fields(ja[key]), key
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja[key]), key  # really Japanese
