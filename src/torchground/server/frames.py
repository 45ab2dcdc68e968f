"""What the page draws, as JSON: heat maps, parameters, gradients, metrics and data points.

A *map* is ``{"size": n, "data": base64}`` of ``n·n`` unsigned bytes, row-major, row 0 at
``y = +6`` (the top of a canvas), column 0 at ``x = -6``; byte ``b`` stands for
``b / 127.5 − 1`` and values are clipped to [-1, 1] (``docs/serve-protocol.md``).
:func:`~torchground.viz.boundary.boundary_grid` gives row 0 at ``y = -6``, so rows are
flipped here and nowhere else.

Example:
    >>> import numpy as np
    >>> grid = np.array([[-1.0, 0.0], [0.5, 2.0]])  # row 0 is the bottom (y = -6)
    >>> m = encode_map(grid)
    >>> m["size"], np.round(decode_map(m), 2).tolist()  # decoded: row 0 is the top
    (2, [[0.5, 1.0], [-1.0, 0.0]])
"""

from __future__ import annotations

import base64
import copy
import json
import math
from functools import cache
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from torchground.explain.graph import extract_graph
from torchground.viz.boundary import EXTENT, boundary_grid, data_box
from torchground.viz.graph_render import to_dot
from torchground.data.datasets import Splits
from torchground.data.features import FEATURES

__all__ = [
    "OUTPUT_SIZE", "NEURON_SIZE", "FEATURE_SIZE", "encode_map", "decode_map", "feature_maps", "model_maps",
    "param_lists", "grad_lists", "data_points", "data_view", "json_safe", "dumps", "metric_values",
    "graph_message", "GRAPH_BATCH",
]

OUTPUT_SIZE = 100
NEURON_SIZE = 40
FEATURE_SIZE = 40
#: Decimals kept for data points: far below a pixel of the picture, and a third of the bytes.
_POINT_DECIMALS = 4


def encode_map(grid: np.ndarray) -> dict[str, Any]:
    """Encode a square grid in :func:`~torchground.viz.boundary.boundary_grid`'s orientation.

    Shape:
        grid: (n, n), ``grid[i, j]`` at ``(x_j, y_i)`` with row 0 at ``y = -6``.
    """
    values = np.asarray(grid, dtype=np.float64)[::-1]  # (n, n), row 0 now at y = +6
    values = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    data = np.rint((values + 1.0) * 127.5).astype(np.uint8)  # (n, n)
    return {"size": int(data.shape[0]), "data": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_map(m: Mapping[str, Any]) -> np.ndarray:
    """The values of a map, row 0 at ``y = +6`` (what the page sees).

    Shape:
        returns (n, n) float64 with n = ``m["size"]``.
    """
    n = int(m["size"])
    raw = np.frombuffer(base64.b64decode(m["data"]), dtype=np.uint8)
    return raw.reshape(n, n).astype(np.float64) / 127.5 - 1.0


@cache
def _feature_maps() -> tuple[tuple[str, dict[str, Any]], ...]:
    xs = np.linspace(-EXTENT, EXTENT, FEATURE_SIZE)  # (R,)
    gx, gy = np.meshgrid(xs, xs)  # (R, R): gx[i, j] = xs[j], gy[i, j] = ys[i]
    return tuple((name, encode_map(info.fn(gx, gy))) for name, info in FEATURES.items())


def feature_maps() -> dict[str, dict[str, Any]]:
    """Every input feature (all nine, so the page can show the unused ones too) as a 40×40 map."""
    return dict(_feature_maps())


def model_maps(
    model: nn.Module, features: Sequence[str], box: Sequence[float] | None = None
) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The output map (100×100) and one 40×40 map per hidden neuron, per hidden layer.

    ``box`` (x_min, x_max, y_min, y_max) spans a data file's own extent instead of
    [-6, 6]². With K outputs (K classes) the output map is the most likely class's
    probability mapped to [-1, 1], and the map carries ``classes``: base64 of the n·n class
    indices, in the same layout.
    """
    box = tuple(box) if box is not None else None
    grid = boundary_grid(model, features, resolution=OUTPUT_SIZE, box=box)
    layers = boundary_grid(model, features, resolution=NEURON_SIZE, box=box)["neurons"]  # L × (H, 40, 40)
    if "probabilities" in grid:
        output = encode_map(grid["probability"] * 2.0 - 1.0)  # (100, 100)
        best = grid["output"][::-1].astype(np.uint8)  # (100, 100), row 0 at the top
        output["classes"] = base64.b64encode(np.ascontiguousarray(best).tobytes()).decode("ascii")
    else:
        output = encode_map(grid["output"])  # (100, 100)
    return output, [[encode_map(neuron) for neuron in layer] for layer in layers]


def data_view(spec: Any, splits: Splits) -> dict[str, Any]:
    """Where the page draws: ``box`` (the plane [-6, 6]², or a data file's own extent with
    a margin, in the network's standardised units), ``classes``, ``class_names``, and for
    a data file ``mean`` and ``scale`` (the file's units are ``x · scale + mean``)."""
    view: dict[str, Any] = {"box": [-EXTENT, EXTENT, -EXTENT, EXTENT], "classes": spec.classes,
                            "class_names": list(spec.class_names or ())}
    if spec.dataset == "csv":
        sets = [d.points for d in (splits.train, splits.val, splits.test) if d.n]
        view["box"] = list(data_box(np.concatenate(sets)))
        view["mean"] = list(spec.input_mean) if spec.standardize else [0.0, 0.0]
        view["scale"] = list(spec.input_scale) if spec.standardize else [1.0, 1.0]
    return view


def param_lists(model: nn.Module) -> dict[str, Any]:
    """``{name: nested list}`` of every parameter (``layer1.weight`` is (out, in))."""
    return {name: p.detach().cpu().tolist() for name, p in model.named_parameters()}


def grad_lists(model: nn.Module) -> dict[str, Any] | None:
    """The gradients the parameters hold now (``None`` where a parameter has none, or overall)."""
    grads = {name: None if p.grad is None else p.grad.detach().cpu().tolist() for name, p in model.named_parameters()}
    return grads if any(g is not None for g in grads.values()) else None


def data_points(splits: Splits) -> dict[str, list[list[float]]]:
    """``{"train"|"val"|"test": [[x1, x2, label], …]}`` (rounded to 4 decimals)."""
    out = {}
    for name in ("train", "val", "test"):
        ds = getattr(splits, name)
        rows = np.column_stack([ds.points, ds.labels]) if ds.n else np.zeros((0, 3))  # (N, 3)
        out[name] = np.round(rows, _POINT_DECIMALS).tolist()
    return out


def metric_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A history row for the page: a loss that is no longer finite says so (``"inf"``,
    ``"-inf"``, ``"nan"``) instead of disappearing as JSON's ``null`` (a set that is empty).

    >>> metric_values({"train_loss": float("inf"), "val_loss": None, "lr": 0.1})
    {'train_loss': 'inf', 'val_loss': None, 'lr': 0.1}
    """
    def one(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return v

    return {k: one(v) for k, v in row.items()}


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return json_safe(obj.tolist())
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON text of a server message; NaN and infinities become ``null``."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a non-finite number somewhere: rare, so only then walk the message
        return json.dumps(json_safe(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


#: Training points in the ``graph`` answer's forward pass.
GRAPH_BATCH = 4


def graph_message(trainer: Any) -> dict[str, Any]:
    """The ``graph`` answer: the computation graph of one forward and backward pass of a
    :class:`~torchground.train.trainer.Trainer`'s model on its first :data:`GRAPH_BATCH`
    training points, as DOT text and as the graph's JSON (values included).

    Runs on a copy of the model, so the live model's gradients stay as training left them.
    """
    model = copy.deepcopy(trainer.model)
    model.train()
    x, y = trainer.sets["train"]
    x, y = x[:GRAPH_BATCH], y[:GRAPH_BATCH]  # (B, F), (B, 1)
    loss = trainer.criterion(model(x), y)
    loss.backward(retain_graph=True)
    graph = extract_graph({"loss": loss}, params=model, with_values=True)
    return {"type": "graph", "dot": to_dot(graph), "graph": json_safe(graph.to_dict())}
