"""The network: an ``nn.Module`` in the curriculum's shape, built from a spec.

Layers are named ``layer1 … layerN`` and ``layer_out`` with activation modules ``act1 …
actN`` and ``act_out``, so ``print(model)`` and ``state_dict()`` read like the
curriculum's hand-written class. One activation module per layer (not one shared) so that
activations with parameters (PReLU) learn per layer.

Example:
    >>> from torchground.spec import Spec
    >>> model = build_model(Spec())
    >>> model
    PlaygroundNet(
      (layer1): Linear(in_features=2, out_features=3, bias=True)
      (act1): Tanh()
      (layer2): Linear(in_features=3, out_features=3, bias=True)
      (act2): Tanh()
      (layer_out): Linear(in_features=3, out_features=1, bias=True)
      (act_out): Tanh()
    )
    >>> model(torch.zeros(4, 2)).shape
    torch.Size([4, 1])
    >>> discretize(torch.tensor([[-0.2], [0.0], [0.7]])).flatten().tolist()
    [-1.0, 1.0, 1.0]
"""

from __future__ import annotations

import threading
from typing import Sequence

import torch
from torch import nn

from torchground.data.tfpg_datasets import playground_weights
from torchground.registry import ACTIVATIONS, INITS

_BUILD_LOCK = threading.RLock()

__all__ = ["PlaygroundNet", "Discretize", "discretize", "build_model", "weight_parameters"]


class PlaygroundNet(nn.Module):
    """A fully connected network: features → hidden layers → one output (or one per class).

    Args:
        n_inputs: number of input features.
        hidden: widths of the hidden layers (may be empty: then a single neuron).
        activation: registry name of the hidden activation (default "tanh").
        output_activation: registry name of the output activation (default "tanh").
        n_outputs: output units: 1 (default; ±1 classes or regression) or K for K classes
            (the logits; softmax is inside ``nn.CrossEntropyLoss``).

    Shape:
        input (B, n_inputs) → output (B, n_outputs).
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "tanh",
        n_outputs: int = 1,
    ) -> None:
        super().__init__()
        self.n_layers = len(hidden)
        width = n_inputs
        for i, h in enumerate(hidden, start=1):
            setattr(self, f"layer{i}", nn.Linear(width, h))
            setattr(self, f"act{i}", ACTIVATIONS.get(activation).build())
            width = h
        self.layer_out = nn.Linear(width, n_outputs)
        self.act_out = ACTIVATIONS.get(output_activation).build()


    def linear_layers(self) -> list[nn.Linear]:
        """The linear layers in order, ``layer_out`` last."""
        return [getattr(self, f"layer{i}") for i in range(1, self.n_layers + 1)] + [self.layer_out]

    def activations(self) -> list[nn.Module]:
        """The activation modules in order, ``act_out`` last."""
        return [getattr(self, f"act{i}") for i in range(1, self.n_layers + 1)] + [self.act_out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, self.n_layers + 1):
            x = self._modules[f"act{i}"](self._modules[f"layer{i}"](x))  # (B, width)
        return self.act_out(self.layer_out(x))  # (B, n_outputs)

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every neuron's output: one (B, width) tensor per hidden layer, then (B, 1) of the output."""
        outputs = []
        for layer, act in zip(self.linear_layers(), self.activations()):
            x = act(layer(x))
            outputs.append(x)
        return outputs


def discretize(output: torch.Tensor) -> torch.Tensor:
    """Map outputs to classes: ≥ 0 → +1.0, otherwise −1.0 (same shape and dtype).

    With K outputs (K classes) the class is the most likely one, the argmax, as a (B, 1)
    column of class indices in the output's dtype (the targets' form).
    """
    if output.ndim == 2 and output.shape[1] > 1:
        return output.argmax(dim=1, keepdim=True).to(output.dtype)  # (B, 1)
    return torch.where(output >= 0.0, 1.0, -1.0).to(output.dtype)


class Discretize(nn.Module):
    """:func:`discretize` as a module, to append to a model for class outputs."""

    def forward(self, output: torch.Tensor) -> torch.Tensor:
        return discretize(output)


def weight_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights of the linear layers (the parameters L1/L2 penalties apply to; no biases)."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def build_model(spec: "Spec") -> PlaygroundNet:  # noqa: F821 (Spec imported lazily below)
    """Build and initialise the network of ``spec`` (``init`` with ``init_seed``; ``dtype``).

    The global torch RNG is seeded with ``init_seed`` and the initialiser applied through
    ``model.apply``, exactly as the curriculum does, so a plain script with
    ``torch.manual_seed(init_seed)`` reproduces the same weights. The caller's RNG state is
    restored afterwards; builds from several threads are serialised.

    With ``tf_playground_seed`` and init ``playground`` or ``zero``, the weights are
    TensorFlow Playground's instead, drawn from its random stream after its data, after
    ``init_seed`` presses of its reset button
    (:func:`~torchground.data.tfpg_datasets.playground_weights`).
    """
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):  # the global RNG: one build at a time
        torch.manual_seed(spec.init_seed)
        outputs = spec.classes if (spec.classes or 2) > 2 else 1
        model = PlaygroundNet(spec.n_inputs, spec.hidden, spec.activation, spec.output_activation, outputs)
        model.apply(INITS.get(spec.init).build())
    model = model.to(getattr(torch, spec.dtype))
    if spec.tf_playground_seed is not None and spec.init in ("playground", "zero"):
        sizes = (spec.n_inputs, *spec.hidden, 1)
        zero, resets = spec.init == "zero", spec.init_seed  # init_seed: its reset button's presses
        drawn = playground_weights(spec.dataset, spec.noise, spec.tf_playground_seed, sizes, zero, resets)
        with torch.no_grad():
            for layer, (weight, bias) in zip(model.linear_layers(), drawn):
                layer.weight.copy_(torch.from_numpy(weight))  # (out, in)
                layer.bias.copy_(torch.from_numpy(bias))
    return model
