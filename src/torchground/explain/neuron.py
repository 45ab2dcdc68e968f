"""Look inside: one neuron's forward and backward pass, and any model's autograd graph.

Pure functions that compute what the ``neuron`` and ``graph`` commands show: outputs,
losses, every gradient, and the :class:`~torchground.explain.graph.Graph` of the pass.

Example (the curriculum's neuron, part 1):
    >>> r = neuron_pass([0.6, -0.2], 0.8, [1.0, 2.0], target=1.0)
    >>> round(r.output, 4), round(r.loss, 4)
    (0.7616, 0.0568)
    >>> [round(g, 4) for g in r.weight_grad], round(r.bias_grad, 4)
    ([-0.2002, -0.4005], -0.2002)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from torchground.errors import TorchgroundError
from torchground.explain.graph import Graph, extract_graph
from torchground.registry import ACTIVATIONS, LOSSES
from torchground.spec import Spec
from torchground.train.run import build_loss, make_data, to_tensors
from torchground.model import build_model

__all__ = ["NeuronResult", "neuron_pass", "model_graph", "GRAPH_PRESETS", "MAX_NEURON_INPUTS"]

MAX_NEURON_INPUTS = 64
GRAPH_PRESETS = ("seed", "neuron")


class Neuron(nn.Module):
    """The curriculum's one-neuron model: ``activation(layer1(x))``.

    Shape:
        input (B, n) → output (B, 1).
    """

    def __init__(self, n_inputs: int, activation: str = "tanh") -> None:
        super().__init__()
        self.layer1 = nn.Linear(n_inputs, 1)
        self.act1 = ACTIVATIONS.get(activation).build()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act1(self.layer1(x))


@dataclass(frozen=True)
class NeuronResult:
    """What one forward and backward pass of a neuron gives.

    Attributes:
        output: the neuron's output (a number). loss: the loss against ``target`` (or None).
        weight_grad, bias_grad: d loss / d parameter (None without a target).
        grad_fn: name of the output's autograd node (e.g. "TanhBackward0").
        graph: the autograd graph with values and gradients.
    """

    output: float
    loss: float | None
    weight_grad: list[float] | None
    bias_grad: float | None
    grad_fn: str
    model: Neuron
    graph: Graph


def neuron_pass(
    weight: Sequence[float],
    bias: float,
    inputs: Sequence[float],
    target: float | None = None,
    activation: str = "tanh",
    loss: str = "mse",
) -> NeuronResult:
    """Run one neuron with the given parameters on one input; backpropagate when ``target`` is given.

    Args:
        weight: one weight per input (any width up to 64). bias: the bias.
        inputs: the input point, same length as ``weight``.
        target: the wanted output; with it the loss and all gradients are computed.
        activation, loss: registry names (default tanh, mse).
    """
    if not 1 <= len(weight) <= MAX_NEURON_INPUTS or len(weight) != len(inputs):
        raise TorchgroundError("explore.neuron_width", weights=len(weight), inputs=len(inputs), limit=MAX_NEURON_INPUTS)
    model = Neuron(len(weight), activation)
    with torch.no_grad():
        model.layer1.weight = nn.Parameter(torch.tensor([list(map(float, weight))]))  # (1, n)
        model.layer1.bias = nn.Parameter(torch.tensor([float(bias)]))  # (1,)
    x = torch.tensor([list(map(float, inputs))])  # (1, n)
    out = model(x)  # (1, 1)
    outputs = {"output": out}
    loss_value = None
    if target is not None:
        criterion = LOSSES.get(loss).build()
        loss_t = criterion(out, torch.tensor([[float(target)]]))
        loss_t.backward(retain_graph=True)
        outputs = {"loss": loss_t}
        loss_value = float(loss_t.detach())
    graph = extract_graph(outputs, params=model, with_values=True)
    w_grad = model.layer1.weight.grad
    b_grad = model.layer1.bias.grad
    return NeuronResult(
        output=float(out.detach()),
        loss=loss_value,
        weight_grad=None if w_grad is None else [float(g) for g in w_grad.flatten()],
        bias_grad=None if b_grad is None else float(b_grad),
        grad_fn=type(out.grad_fn).__name__,
        model=model,
        graph=graph,
    )


def model_graph(spec: Spec | None = None, preset: str = "seed", with_values: bool = False, batch: int = 4) -> Graph:
    """The autograd graph of a model's forward pass and loss on a sample batch.

    Args:
        spec: the model and data to draw (default: ``preset``).
        preset: "seed" (the curriculum's 2-3-3-1 network) or "neuron" (one neuron with
            weight [[0.6, -0.2]], bias [0.8] on [[1.0, 2.0]], target [[1.0]]).
        with_values: run ``backward`` and record values and gradients.
        batch: how many training points form the sample batch (1–64).
    """
    if spec is None and preset == "neuron":
        return neuron_pass([0.6, -0.2], 0.8, [1.0, 2.0], target=1.0).graph if with_values else _neuron_graph_plain()
    if spec is None:
        if preset not in GRAPH_PRESETS:
            raise TorchgroundError("explore.bad_graph_preset", value=preset, allowed=", ".join(GRAPH_PRESETS))
        spec = Spec()
    if not 1 <= batch <= 64:
        raise TorchgroundError("explore.bad_batch", value=batch)
    model = build_model(spec)
    x, y = to_tensors(make_data(spec).train, spec.features, getattr(torch, spec.dtype))
    x, y = x[:batch], y[:batch]  # (B, F), (B, 1)
    loss = build_loss(spec)(model(x), y)
    if with_values:
        loss.backward(retain_graph=True)
    return extract_graph({"loss": loss}, params=model, with_values=with_values)


def _neuron_graph_plain() -> Graph:
    r = neuron_pass([0.6, -0.2], 0.8, [1.0, 2.0])
    out = r.model(torch.tensor([[1.0, 2.0]]))
    loss = nn.MSELoss()(out, torch.tensor([[1.0]]))
    return extract_graph({"loss": loss}, params=r.model)
