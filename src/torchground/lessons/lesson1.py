"""Lesson 1 (curriculum part 1): one neuron — model, parameters, forward pass, graph, autograd.

The steps follow the article: a ``torch.nn.Module`` with one ``nn.Linear(2, 1)`` and tanh,
the activation modules of ``torch.nn`` (which are element-wise), the fixed parameters
weight [[0.6, -0.2]] and bias [0.8], the forward pass of [[1.0, 2.0]] (0.7616, with
``TanhBackward0``), the autograd graph as a picture and as text, y = x² differentiated by
autograd, and the parameters' gradients under ``nn.MSELoss``.

Example:
    >>> result = lesson1(step=4, lang="en")
    >>> round(result.step(4).values["y_pred"].item(), 4), result.step(4).values["grad_fn_name"]
    (0.7616, 'TanhBackward0')
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torchground.lessons.steps import Lesson, LessonResult, Step, check_step, run_lesson

__all__ = ["LESSON1", "GRAPH_STEP", "lesson1"]

_MODEL = '''\
import torch           # PyTorch's main package
import torch.nn as nn  # the neural-network modules

INPUT_FEATURES = 2  # number of inputs (features): 2
OUTPUT_NEURONS = 1  # number of neurons: 1

activation = torch.nn.Tanh()  # activation function: tanh


class NeuralNetwork(nn.Module):  # a model is a subclass of torch.nn.Module
    def __init__(self):
        super().__init__()
        # the layer: Linear is a fully connected layer (inputs → outputs)
        self.layer1 = nn.Linear(INPUT_FEATURES, OUTPUT_NEURONS)

    def forward(self, x):
        # the forward pass: output = activation(layer(input))
        x = activation(self.layer1(x))
        return x


model = NeuralNetwork()  # create the model
print(model)             # shows its layers
'''

_ACTIVATIONS = '''\
from torchground.registry import ACTIVATIONS

# The activation modules of torch.nn that the article lists
article_activations = [
    "ELU", "Hardshrink", "Hardtanh", "LeakyReLU", "LogSigmoid",
    "MultiheadAttention", "PReLU", "ReLU", "ReLU6", "RReLU", "SELU", "CELU",
    "GELU", "Sigmoid", "Softplus", "Softshrink", "Softsign", "Tanh",
    "Tanhshrink", "Threshold", "Softmin", "Softmax", "Softmax2d", "LogSoftmax",
    "AdaptiveLogSoftmaxWithLoss",
]
assert all(hasattr(nn, n) for n in article_activations)  # all in torch.nn

# torchground's registry knows which ones work on one value at a time
usable = ACTIVATIONS.names()
elementwise = [n for n in article_activations if n.lower() in usable]
not_elementwise = [n for n in article_activations if n not in elementwise]
print("element-wise:", ", ".join(elementwise))
reasons = {n: ACTIVATIONS.entry(n).reason(lang=$lang) for n in not_elementwise}
for name, reason in reasons.items():
    print(f"✗ {name}: {reason}")

# Element-wise: tanh(1.0) is the same whatever the other values are ...
a = torch.tensor([[1.0, 2.0, 3.0]])
b = torch.tensor([[1.0, 0.0, 0.0]])
print(torch.tanh(a)[0, 0].item(), torch.tanh(b)[0, 0].item())
# ... but softmax of the same 1.0 depends on its neighbours (they sum to 1)
softmax = nn.Softmax(dim=1)
print(softmax(a)[0, 0].item(), softmax(b)[0, 0].item())
'''

_PARAMETERS = '''\
# Parameters must be nn.Parameter objects made from tensors
weight_array = nn.Parameter(torch.tensor([[0.6, -0.2]]))  # weights (1 × 2)
bias_array = nn.Parameter(torch.tensor([0.8]))            # bias (1)

model.layer1.weight = weight_array
model.layer1.bias = bias_array

params = model.state_dict()  # the state of the whole model, as a dictionary
print(params)
'''

_FORWARD = '''\
X_data = torch.tensor([[1.0, 2.0]])  # one input point (1.0, 2.0)
print(X_data)

y_pred = model(X_data)  # forward pass: call the model like a function
print(y_pred)

grad_fn_name = y_pred.grad_fn.name()  # the backward function autograd recorded
print(grad_fn_name)

# by hand: tanh(0.6 × 1.0 − 0.2 × 2.0 + 0.8) = tanh(1.0)
print(torch.tanh(torch.tensor(1.0)))
'''

_GRAPH = '''\
from pathlib import Path
from torchground.explain.graph import extract_graph
from torchground.viz.graph_render import to_text, write_graph

# Walk y_pred.grad_fn back to the parameters, as torchviz's make_dot does
params_by_name = dict(model.named_parameters())
graph = extract_graph({"y_pred": y_pred}, params=params_by_name)

graph_text = to_text(graph, lang=$lang)  # the graph drawn as text
print(graph_text)

# The picture: SVG drawn by Graphviz's dot (DOT text when dot is missing)
out_dir = Path($out_dir)
picture = write_graph(graph, out_dir / "lesson1-graph.svg")
print(picture.path)
if picture.fell_back:
    print(picture.notice(lang=$lang))
'''

_AUTOGRAD = '''\
x = torch.tensor(1.0, requires_grad=True)  # record the operations done with x
y = x ** 2     # builds the graph of y = x²
print(y)

y.backward()   # back-propagation: computes dy/dx (autograd)
g = x.grad     # dy/dx = 2x, so 2.0 at x = 1.0
print(g)

grads = {}
for value in [0.0, 1.0, 10.0]:
    x = torch.tensor(value, requires_grad=True)
    y = x ** 2
    y.backward()
    grads[value] = x.grad.item()
    print(f"x = {value:4}: dy/dx = {x.grad.item()}")

# the same with torchground's formula parser (what `torchground grad` uses)
from torchground.explain.formula import differentiate
print(differentiate("x**2", {"x": 1.0}).grads)
'''

_PARAM_GRADS = '''\
# Reset the gradients before computing them (model.zero_grad() does the same)
model.layer1.weight.grad = None
model.layer1.bias.grad = None

X_data = torch.tensor([[1.0, 2.0]])  # input (again)
y_pred = model(X_data)               # output (again)
y_true = torch.tensor([[1.0]])       # the correct label

criterion = nn.MSELoss()          # the loss function: mean squared error
loss = criterion(y_pred, y_true)  # the loss from the error (pred − label)
print(loss)

loss.backward()  # back-propagation: gradients of the loss for every parameter

weight_grad = model.layer1.weight.grad
bias_grad = model.layer1.bias.grad
print(weight_grad)
print(bias_grad)
'''


def _graph_params(ns: dict) -> dict:
    picture = ns["picture"]
    return {"path": str(picture.path), "fmt": picture.fmt}


LESSON1 = Lesson(
    1,
    "lessons.l1",
    (
        Step("lessons.l1.model", _MODEL, ("model", "NeuralNetwork", "activation")),
        Step(
            "lessons.l1.activations",
            _ACTIVATIONS,
            ("article_activations", "elementwise", "not_elementwise", "reasons"),
        ),
        Step("lessons.l1.parameters", _PARAMETERS, ("params",)),
        Step("lessons.l1.forward", _FORWARD, ("X_data", "y_pred", "grad_fn_name")),
        Step("lessons.l1.graph", _GRAPH, ("graph", "graph_text", "picture"), _graph_params),
        Step("lessons.l1.autograd", _AUTOGRAD, ("g", "grads")),
        Step("lessons.l1.param_grads", _PARAM_GRADS, ("loss", "weight_grad", "bias_grad")),
    ),
)

#: The step that writes the graph picture (and so needs an output folder).
GRAPH_STEP = 5


def lesson1(
    step: int | None = None, lang: str | None = None, out_dir: str | os.PathLike[str] | None = None
) -> LessonResult:
    """Run lesson 1 (one neuron) and return its steps with their values.

    Args:
        step: run only up to this step (1–7) and return it alone. Default: all steps.
        lang: "en" or "ja". Default: the current language.
        out_dir: folder for the graph picture (``lesson1-graph.svg``, or
            ``lesson1-graph.svg.dot`` without Graphviz). Default: a new temporary folder.

    Values (``result.step(n).values``): 1 ``model``; 2 ``elementwise``,
    ``not_elementwise``, ``reasons``; 3 ``params`` (the state_dict); 4 ``y_pred``,
    ``grad_fn_name``; 5 ``graph``, ``graph_text``, ``picture`` (a
    :class:`~torchground.viz.graph_render.GraphFile`); 6 ``g``, ``grads`` ({x: dy/dx});
    7 ``loss``, ``weight_grad``, ``bias_grad``.

    Raises:
        TorchgroundError: a step outside 1–7 or an unknown language.
    """
    number = check_step(LESSON1, step)
    if out_dir is None and (number is None or number >= GRAPH_STEP):
        out_dir = tempfile.mkdtemp(prefix="torchground-lesson1-")
    return run_lesson(LESSON1, number, lang, {"out_dir": str(Path(out_dir)) if out_dir is not None else ""})
