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
import torch           # «model_1»
import torch.nn as nn  # «model_2»

INPUT_FEATURES = 2  # «model_3»
OUTPUT_NEURONS = 1  # «model_4»

activation = torch.nn.Tanh()  # «model_5»


class NeuralNetwork(nn.Module):  # «model_6»
    def __init__(self):
        super().__init__()
        # «model_7»
        self.layer1 = nn.Linear(INPUT_FEATURES, OUTPUT_NEURONS)

    def forward(self, x):
        # «model_8»
        x = activation(self.layer1(x))
        return x


model = NeuralNetwork()  # «model_9»
print(model)             # «model_10»
'''

_ACTIVATIONS = '''\
from torchground.registry import ACTIVATIONS

# «activations_1»
article_activations = [
    "ELU", "Hardshrink", "Hardtanh", "LeakyReLU", "LogSigmoid",
    "MultiheadAttention", "PReLU", "ReLU", "ReLU6", "RReLU", "SELU", "CELU",
    "GELU", "Sigmoid", "Softplus", "Softshrink", "Softsign", "Tanh",
    "Tanhshrink", "Threshold", "Softmin", "Softmax", "Softmax2d", "LogSoftmax",
    "AdaptiveLogSoftmaxWithLoss",
]
assert all(hasattr(nn, n) for n in article_activations)  # «activations_2»

# «activations_3»
usable = ACTIVATIONS.names()
elementwise = [n for n in article_activations if n.lower() in usable]
not_elementwise = [n for n in article_activations if n not in elementwise]
print("«activations_label»", ", ".join(elementwise))
reasons = {n: ACTIVATIONS.entry(n).reason(lang=$lang) for n in not_elementwise}
for name, reason in reasons.items():
    print(f"✗ {name}: {reason}")

# «activations_4»
a = torch.tensor([[1.0, 2.0, 3.0]])
b = torch.tensor([[1.0, 0.0, 0.0]])
print(torch.tanh(a)[0, 0].item(), torch.tanh(b)[0, 0].item())
# «activations_5»
softmax = nn.Softmax(dim=1)
print(softmax(a)[0, 0].item(), softmax(b)[0, 0].item())
'''

_PARAMETERS = '''\
# «parameters_1»
weight_array = nn.Parameter(torch.tensor([[0.6, -0.2]]))  # «parameters_2»
bias_array = nn.Parameter(torch.tensor([0.8]))            # «parameters_3»

model.layer1.weight = weight_array
model.layer1.bias = bias_array

params = model.state_dict()  # «parameters_4»
print(params)
'''

_FORWARD = '''\
X_data = torch.tensor([[1.0, 2.0]])  # «forward_1»
print(X_data)

y_pred = model(X_data)  # «forward_2»
print(y_pred)

grad_fn_name = y_pred.grad_fn.name()  # «forward_3»
print(grad_fn_name)

# «forward_4»
print(torch.tanh(torch.tensor(1.0)))
'''

_GRAPH = '''\
from pathlib import Path
from torchground.explain.graph import extract_graph
from torchground.viz.graph_render import to_text, write_graph

# «graph_1»
params_by_name = dict(model.named_parameters())
graph = extract_graph({"y_pred": y_pred}, params=params_by_name)

graph_text = to_text(graph, lang=$lang)  # «graph_2»
print(graph_text)

# «graph_3»
out_dir = Path($out_dir)
picture = write_graph(graph, out_dir / "lesson1-graph.svg")
print(picture.path)
if picture.fell_back:
    print(picture.notice(lang=$lang))
'''

_AUTOGRAD = '''\
x = torch.tensor(1.0, requires_grad=True)  # «autograd_1»
y = x ** 2     # «autograd_2»
print(y)

y.backward()   # «autograd_3»
g = x.grad     # «autograd_4»
print(g)

grads = {}
for value in [0.0, 1.0, 10.0]:
    x = torch.tensor(value, requires_grad=True)
    y = x ** 2
    y.backward()
    grads[value] = x.grad.item()
    print(f"x = {value:4}: dy/dx = {x.grad.item()}")

# «autograd_5»
from torchground.explain.formula import differentiate
print(differentiate("x**2", {"x": 1.0}).grads)
'''

_PARAM_GRADS = '''\
# «param_grads_1»
model.layer1.weight.grad = None
model.layer1.bias.grad = None

X_data = torch.tensor([[1.0, 2.0]])  # «param_grads_2»
y_pred = model(X_data)               # «param_grads_3»
y_true = torch.tensor([[1.0]])       # «param_grads_4»

criterion = nn.MSELoss()          # «param_grads_5»
loss = criterion(y_pred, y_true)  # «param_grads_6»
print(loss)

loss.backward()  # «param_grads_7»

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
