"""neuron / grad / graph: the numbers, the graphs, and the command lines (with bad input)."""

import json
import shutil

import pytest
import torch

from torchground.cli import main
from torchground.explain.neuron import model_graph, neuron_pass
from torchground.registry import ACTIVATIONS, LOSSES
from torchground.spec import Spec


def test_curriculum_neuron_numbers():
    r = neuron_pass([0.6, -0.2], 0.8, [1.0, 2.0], target=1.0)
    assert r.output == pytest.approx(0.7616, abs=1e-4)
    assert r.grad_fn == "TanhBackward0"
    assert r.weight_grad == pytest.approx([-0.2002, -0.4005], abs=1e-4)
    assert r.bias_grad == pytest.approx(-0.2002, abs=1e-4)
    kinds = {n.kind for n in r.graph.nodes}
    assert {"parameter", "operation", "output"} <= kinds
    names = {n.label for n in r.graph.by_kind("parameter")}
    assert names == {"layer1.weight", "layer1.bias"}


def test_neuron_any_width_and_no_target():
    r = neuron_pass([0.1, 0.2, 0.3, 0.4], -0.5, [1, 1, 1, 1])
    assert r.output == pytest.approx(float(torch.tanh(torch.tensor(0.5))), abs=1e-6)
    assert r.loss is None and r.weight_grad is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_graph_for_every_activation(name):
    g = model_graph(Spec(activation=name, hidden=(3,)), with_values=True)
    names = {n.label for n in g.by_kind("parameter")}
    assert {"layer1.weight", "layer1.bias", "layer_out.weight", "layer_out.bias"} <= names
    assert names - {"layer1.weight", "layer1.bias", "layer_out.weight", "layer_out.bias"} <= {"act1.weight"}  # PReLU
    assert all(n.grad is not None for n in g.by_kind("parameter"))


@pytest.mark.parametrize("loss", LOSSES.names())
def test_graph_for_every_loss(loss):
    multiclass = "multiclass" in LOSSES.get(loss).info["problems"]  # K outputs: a K-class data set
    g = model_graph(Spec(loss=loss, dataset="blobs", classes=3) if multiclass else Spec(loss=loss))
    assert g.by_kind("output")[0].label == "loss"


@pytest.mark.parametrize("hidden", [(), (2,), (3, 3), (4, 3, 2, 2)])
def test_graph_for_every_depth(hidden):
    g = model_graph(Spec(hidden=hidden))
    assert len(g.by_kind("parameter")) == 2 * (len(hidden) + 1)


@pytest.mark.slow
def test_neuron_cli(capsys, tmp_path):
    out = tmp_path / "n.dot"
    assert main(["neuron", "--target", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "0.7616" in text and "-0.2002" in text and "-0.4005" in text
    assert out.read_text().startswith("digraph")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["neuron", "--weight", "1,2,3", "--input", "1,2"], "3 weights"),
        (["neuron", "--weight", "a,b"], "--weight"),
        (["neuron", "--bias", "1,2"], "--bias"),
        (["neuron", "--activation", "softmax", "--target", "1"], "softmax"),
        (["grad", "__import__('os').system('x')", "--at", "x=1"], "_"),
        (["grad", "x.grad", "--at", "x=1"], "column"),
        (["grad", "x**2", "--at", "y=1"], "x"),
        (["graph", "--format", "gif"], "gif"),
        (["graph", "--preset", "big"], "big"),
        (["graph", "--format", "svg"], "--out"),
        (["graph", "--batch", "0"], "--batch"),
    ],
)
def test_bad_input_exits_2_with_message(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_grad_cli_values(capsys):
    assert main(["grad", "x**2", "--at", "x=1.0"]) == 0
    out = capsys.readouterr().out
    assert "∂/∂x = 2" in out
    assert main(["grad", "x**2", "--at", "x=10"]) == 0
    assert "∂/∂x = 20" in capsys.readouterr().out


def test_graph_cli_formats(tmp_path, capsys):
    assert main(["graph", "--preset", "neuron", "--values"]) == 0
    assert "layer1.weight" in capsys.readouterr().out
    assert main(["graph", "--format", "json", "--out", str(tmp_path / "g.json")]) == 0
    data = json.loads((tmp_path / "g.json").read_text())
    assert {n["kind"] for n in data["nodes"]} >= {"parameter", "operation", "output"}
    config = tmp_path / "s.toml"
    config.write_text(Spec(hidden=(5,), activation="relu").to_toml())
    assert main(["graph", "--config", str(config), "--format", "dot", "--out", str(tmp_path / "g.dot")]) == 0
    assert "layer_out.weight" in (tmp_path / "g.dot").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_graph_cli_svg(tmp_path):
    assert main(["graph", "--values", "--format", "svg", "--out", str(tmp_path / "g.svg")]) == 0
    assert "<svg" in (tmp_path / "g.svg").read_text()
