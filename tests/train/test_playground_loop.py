"""Tests for torchground.train.playground_loop against TensorFlow Playground's own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from torchground.data.features import feature_matrix
from torchground.data.tfpg_datasets import playground_start
from torchground.data.tfpg_link import INPUT_FEATURES, parse_link
from torchground.model import PlaygroundNet
from torchground.train.playground_loop import PlaygroundLoop, load_weights, playground_loss, read_weights

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"
NAMES = ("default-circle", "reg-gauss-relu", "spiral-features-l1")
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


def run_reference(name: str, dtype: torch.dtype) -> tuple[dict, list[tuple[float, float]], PlaygroundNet, PlaygroundLoop]:
    ref = json.loads((FIXTURES / f"{name}.json").read_text())
    s = parse_link(ref["url"])
    v = s.values
    features = [INPUT_FEATURES[i] for i in s.inputs]
    start = playground_start(s.data_set, v["noise"], v["percTrainData"], v["seed"], (len(features), *v["networkShape"], 1))
    out = "identity" if v["problem"] == "regression" else "tanh"
    net = PlaygroundNet(len(features), v["networkShape"], v["activation"], out).to(dtype)
    load_weights(net, start.weights)

    def tensors(ds):
        x = torch.as_tensor(feature_matrix(ds.points, features), dtype=dtype)
        return x, torch.as_tensor(ds.labels, dtype=dtype).reshape(-1, 1)

    (xt, yt), (xs, ys) = tensors(start.train), tensors(start.test)
    rate = v["regularizationRate"]
    l1 = rate if v["regularization"] == "L1" else 0.0
    l2 = rate if v["regularization"] == "L2" else 0.0
    loop = PlaygroundLoop(net, v["learningRate"], v["batchSize"], l1=l1, l2=l2)
    losses = []
    for _ in range(ref["epochs"]):
        loop.epoch(xt, yt)
        losses.append((playground_loss(net, xt, yt), playground_loss(net, xs, ys)))
    return ref, losses, net, loop


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", NAMES)
def test_every_epochs_losses_are_tf_playgrounds(name: str, dtype: torch.dtype) -> None:
    ref, losses, net, _ = run_reference(name, dtype)
    diff = np.abs(np.array(losses) - np.array(ref["losses"]))
    assert diff.shape == (ref["epochs"], 2)
    assert diff.max() <= TOLERANCE[dtype], diff.max()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_final_weights_are_tf_playgrounds(name: str) -> None:
    ref, _, net, _ = run_reference(name, torch.float64)
    for got, want in zip(read_weights(net), ref["final"]):
        assert np.abs(np.array(got["weight"]) - np.array(want["weight"])).max() <= 1e-12
        assert np.abs(np.array(got["bias"]) - np.array(want["bias"])).max() <= 1e-12


@pytest.mark.slow
def test_l1_reference_kills_a_weight_and_keeps_it_at_zero() -> None:
    ref, _, net, loop = run_reference("spiral-features-l1", torch.float64)
    dead = loop.dead[0]
    assert int(dead.sum()) >= 1
    assert torch.all(net.linear_layers()[0].weight[dead] == 0)
    final = np.array(ref["final"][0]["weight"])
    assert np.all(final[dead.numpy()] == 0)


def test_partial_batch_carries_into_next_epoch() -> None:
    """720 points in batches of 7: 102 steps, 6 points wait; the next epoch's first step
    averages 13 points (one step over the 6 + 7 points at unchanged weights)."""
    torch.manual_seed(0)
    x, y = torch.randn(20, 2, dtype=torch.float64), torch.randn(20, 1, dtype=torch.float64)
    net = PlaygroundNet(2, (3,), "tanh", "identity").double()
    twin = PlaygroundNet(2, (3,), "tanh", "identity").double()
    twin.load_state_dict(net.state_dict())
    loop = PlaygroundLoop(net, lr=0.1, batch_size=7)
    assert loop.epoch(x, y) == 2 and loop.pending == 6
    before = [p.detach().clone() for p in net.parameters()]
    loop.accumulate(x[:7], y[:7])
    loop.step()
    # By hand: the mean gradient of the last 6 points and the first 7, at the same weights.
    twin.load_state_dict({k: v for k, v in zip(net.state_dict(), before)})
    xb, yb = torch.cat([x[14:], x[:7]]), torch.cat([y[14:], y[:7]])
    loss = 0.5 * ((twin(xb) - yb) ** 2).mean()
    grads = torch.autograd.grad(loss, list(twin.parameters()))
    for p, b, g in zip(net.parameters(), before, grads):
        torch.testing.assert_close(p.detach(), b - 0.1 * g, rtol=0, atol=1e-15)


def test_l1_dead_rule_only_when_regularisation_crosses_zero() -> None:
    net = PlaygroundNet(1, (), "identity", "identity").double()
    layer = net.layer_out
    with torch.no_grad():
        layer.weight.fill_(0.001)
        layer.bias.fill_(0.0)
    loop = PlaygroundLoop(net, lr=1.0, batch_size=1, l1=0.01)
    # gradient (w·x − y)·x = 0.0005 → stepped w = 0.0005; the L1 step − 1·0.01·sign(0.001)
    # carries it to −0.0095, across zero: set to 0 and dead.
    loop.accumulate(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.0005]], dtype=torch.float64))
    loop.step()
    assert layer.weight.item() == 0.0 and bool(loop.dead[0].item())
    loop.accumulate(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[-5.0]], dtype=torch.float64))
    loop.step()
    assert layer.weight.item() == 0.0  # dead: no more steps

    net2 = PlaygroundNet(1, (), "identity", "identity").double()
    with torch.no_grad():
        net2.layer_out.weight.fill_(0.5)
        net2.layer_out.bias.fill_(0.0)
    loop2 = PlaygroundLoop(net2, lr=1.0, batch_size=1, l1=0.001)
    # a gradient step alone that crosses zero kills nothing: 0.5 − 1·(0.5 + 1.5) = −1.5, then
    # the L1 step uses the sign before (+): −1.5 − 0.001 = −1.501, same sign as −1.5.
    loop2.accumulate(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[-1.5]], dtype=torch.float64))
    loop2.step()
    assert net2.layer_out.weight.item() == pytest.approx(-1.501, abs=1e-15)
    assert not bool(loop2.dead[0].item())


def test_l2_uses_the_weight_before_the_step() -> None:
    net = PlaygroundNet(1, (), "identity", "identity").double()
    with torch.no_grad():
        net.layer_out.weight.fill_(2.0)
        net.layer_out.bias.fill_(0.0)
    loop = PlaygroundLoop(net, lr=0.1, batch_size=1, l2=0.5)
    loop.accumulate(torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64))
    loop.step()
    # gradient 2·1 = 2 → 2 − 0.1·2 = 1.8; then − (0.1·0.5)·2.0 (the weight before) = 1.7
    assert net.layer_out.weight.item() == pytest.approx(1.7, abs=1e-15)


def test_bad_arguments_are_refused() -> None:
    net = PlaygroundNet(2, (), "tanh", "tanh")
    with pytest.raises(ValueError):
        PlaygroundLoop(net, 0.1, 0)
    with pytest.raises(ValueError):
        PlaygroundLoop(net, 0.1, 2, l1=-1.0)


def test_loss_of_empty_set_is_nan() -> None:
    net = PlaygroundNet(2, (), "tanh", "tanh")
    assert np.isnan(playground_loss(net, torch.zeros(0, 2), torch.zeros(0, 1)))
