"""Decision-boundary grids: the network's output and every neuron over the plane.

Pure introspection (no matplotlib, no I/O): :func:`boundary_grid` evaluates a model on a
regular grid and returns plain NumPy arrays, which the plotting front end
(:mod:`torchground.viz.plots`) and the browser both draw.

Orientation: ``output[i, j]`` is the value at ``(x, y) = (xs[j], ys[i])``. Rows run along
``y`` from the bottom (row 0 is ``y = -extent``) to the top, columns along ``x`` from
left to right — the layout of ``imshow(output, origin="lower")``. For a browser canvas,
whose row 0 is the top, flip the rows (``output[::-1]``).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from torchground.errors import TorchgroundError
from torchground.data.features import feature_matrix

__all__ = ["EXTENT", "MIN_RESOLUTION", "MAX_RESOLUTION", "MARGIN", "boundary_grid", "data_box", "class_probabilities"]

#: The Playground's plane is [-6, 6]².
EXTENT = 6.0
MIN_RESOLUTION = 2
#: Upper bound on grid points per side: keeps memory bounded for any input (1000² points).
MAX_RESOLUTION = 1000
#: Points evaluated per forward pass, so wide networks on fine grids stay in memory.
_CHUNK = 65_536
#: Margin around a data file's points, as a fraction of their range on each axis.
MARGIN = 0.1

Box = tuple[float, float, float, float]


def data_box(points: np.ndarray, margin: float = MARGIN) -> Box:
    """``(x_min, x_max, y_min, y_max)`` of ``points`` widened by ``margin`` of each range
    (a range of 0 counts as 1, so a line of points still gets a box). Shape: points (N, 2).

    >>> data_box(np.array([[0.0, 10.0], [10.0, 30.0]]))
    (-1.0, 11.0, 8.0, 32.0)
    """
    low, high = points.min(axis=0), points.max(axis=0)  # (2,)
    pad = np.where(high > low, high - low, 1.0) * margin
    return (float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1]))


def class_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (the K outputs of a K-class network). Shape: (..., K) → (..., K)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _check(resolution: Any, extent: Any) -> None:
    if not isinstance(resolution, Integral) or isinstance(resolution, bool) or not (
        MIN_RESOLUTION <= resolution <= MAX_RESOLUTION
    ):
        raise TorchgroundError("plots.bad_resolution", value=resolution, min=MIN_RESOLUTION, max=MAX_RESOLUTION)
    if not isinstance(extent, Real) or isinstance(extent, bool) or not (math.isfinite(extent) and extent > 0):
        raise TorchgroundError("plots.bad_extent", value=extent)


def boundary_grid(
    model: nn.Module,
    features: Sequence[str],
    resolution: int = 100,
    extent: float = EXTENT,
    dtype: torch.dtype | None = None,
    box: Box | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` and each of its neurons on a ``resolution × resolution`` grid.

    The grid spans ``[-extent, extent]²`` with both ends included. The model runs in eval
    mode under ``torch.no_grad()`` on its own device; its training flag is restored
    afterwards, so calling this mid-training changes nothing.

    Args:
        model: a :class:`~torchground.model.PlaygroundNet` (anything with ``forward`` and
            ``layer_outputs`` as it has).
        features: the input feature names the model was trained on (``spec.features``).
        resolution: grid points per side, 2 to 1000. Default: 100.
        extent: half the side of the square. Default: 6.0 (the Playground's plane).
        dtype: dtype of the grid fed to the model. Default: ``None``, the dtype of the
            model's parameters (float32 for a default spec, float64 for ``dtype="float64"``).
        box: ``(x_min, x_max, y_min, y_max)`` to span instead of the square (a data file's
            own extent, :func:`data_box`). Default: ``None``.

    Returns:
        ``{"xs", "ys", "output", "neurons"}``:

        - ``xs``, ``ys``: the grid coordinates, ascending (float64).
        - ``output``: the network's output; ``output[i, j]`` is at ``(xs[j], ys[i])``, so
          row 0 is the bottom edge ``y = -extent`` (see the module docstring).
        - with K outputs (K classes): ``output`` is the most likely class (its index, as a
          float), ``probability`` its softmax probability and ``probabilities`` all K.
        - ``neurons``: one array per *hidden* layer, ``neurons[l][k]`` the map of neuron
          ``k`` of hidden layer ``l + 1``, in the same orientation (the output neuron is
          ``output``; a network without hidden layers gives ``[]``).

    Shape:
        - xs, ys: :math:`(R,)` with :math:`R` = ``resolution``.
        - output: :math:`(R, R)`.
        - neurons[l]: :math:`(H_l, R, R)` with :math:`H_l` the width of hidden layer ``l + 1``.

    Raises:
        TorchgroundError: ``plots.bad_resolution`` or ``plots.bad_extent``.

    Example:
        >>> from torchground.model import build_model
        >>> from torchground.spec import Spec
        >>> grid = boundary_grid(build_model(Spec(hidden=(3, 2))), ["x1", "x2"], resolution=5)
        >>> grid["xs"]
        array([-6., -3.,  0.,  3.,  6.])
        >>> grid["output"].shape, [n.shape for n in grid["neurons"]]
        ((5, 5), [(3, 5, 5), (2, 5, 5)])
        >>> bool(grid["ys"][0] == -6.0)  # row 0 is the bottom edge
        True
    """
    _check(resolution, extent)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    if dtype is None:
        dtype = first.dtype if first is not None else torch.float32
    if box is None:
        xs = np.linspace(-float(extent), float(extent), resolution)  # (R,)
        ys = xs.copy()  # (R,)
    else:
        if not (all(math.isfinite(v) for v in box) and box[0] < box[1] and box[2] < box[3]):
            raise TorchgroundError("plots.bad_extent", value=box)
        xs = np.linspace(box[0], box[1], resolution)  # (R,)
        ys = np.linspace(box[2], box[3], resolution)  # (R,)
    gx, gy = np.meshgrid(xs, ys)  # (R, R) each: gx[i, j] = xs[j], gy[i, j] = ys[i]
    points = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=dtype, device=device)  # (R*R, 2)
    inputs = feature_matrix(points, list(features))  # (R*R, F)

    was_training = model.training
    model.eval()
    try:
        chunks: list[list[torch.Tensor]] = []
        with torch.no_grad():
            for start in range(0, inputs.shape[0], _CHUNK):
                chunks.append(model.layer_outputs(inputs[start : start + _CHUNK]))  # L+1 × (C, width)
    finally:
        model.train(was_training)
    layers = [torch.cat(parts).cpu().numpy() for parts in zip(*chunks)]  # L+1 × (R*R, width)
    neurons = [a.T.reshape(a.shape[1], resolution, resolution) for a in layers[:-1]]  # L × (H, R, R)
    last = layers[-1]  # (R*R, K)
    if last.shape[1] == 1:
        return {"xs": xs, "ys": ys, "output": last.reshape(resolution, resolution), "neurons": neurons}
    probs = class_probabilities(last.astype(np.float64)).reshape(resolution, resolution, -1)  # (R, R, K)
    best = probs.argmax(axis=2)  # (R, R)
    return {
        "xs": xs, "ys": ys, "output": best.astype(np.float64), "probability": probs.max(axis=2),
        "probabilities": probs, "neurons": neurons,
    }
