"""The Playground's input features (X₁, X₂, X₁², …, cos X₂) and the feature matrix.

Pure. Every feature function works on NumPy arrays and on torch tensors alike, so the
same table builds training inputs (tensors) and decision-boundary grids (either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, TypeVar, Union

import numpy as np
import torch

from torchground.errors import DataError

__all__ = ["FeatureInfo", "FEATURES", "DEFAULT_FEATURES", "feature_matrix"]

Array = Union[np.ndarray, torch.Tensor]
A = TypeVar("A", np.ndarray, torch.Tensor)


def _sin(x: A) -> A:
    return torch.sin(x) if isinstance(x, torch.Tensor) else np.sin(x)


def _cos(x: A) -> A:
    return torch.cos(x) if isinstance(x, torch.Tensor) else np.cos(x)


@dataclass(frozen=True)
class FeatureInfo:
    """Registry entry of an input feature.

    Args:
        name: the feature's name (``"x1sq"``), as in specs and URLs.
        label: how it is shown (``"X₁²"``).
        summary_key: catalogue key of a one-line explanation.
        fn: ``fn(x1, x2)`` gives the feature from the two coordinates; NumPy arrays in,
            an array out; torch tensors in, a tensor out.

    Shape:
        - x1, x2: :math:`(*)`, the same shape.
        - output: :math:`(*)`.
    """

    name: str
    label: str
    summary_key: str
    fn: Callable[[Array, Array], Array]


def _feature(name: str, label: str, fn: Callable[[Array, Array], Array]) -> FeatureInfo:
    return FeatureInfo(name, label, f"feature.summary.{name}", fn)


#: The nine features in the Playground's order (cos X₁ and cos X₂ are hidden there).
FEATURES: Mapping[str, FeatureInfo] = {
    f.name: f
    for f in (
        _feature("x1", "X₁", lambda x1, x2: x1),
        _feature("x2", "X₂", lambda x1, x2: x2),
        _feature("x1sq", "X₁²", lambda x1, x2: x1 * x1),
        _feature("x2sq", "X₂²", lambda x1, x2: x2 * x2),
        _feature("x1x2", "X₁X₂", lambda x1, x2: x1 * x2),
        _feature("sinx1", "sin(X₁)", lambda x1, x2: _sin(x1)),
        _feature("sinx2", "sin(X₂)", lambda x1, x2: _sin(x2)),
        _feature("cosx1", "cos(X₁)", lambda x1, x2: _cos(x1)),
        _feature("cosx2", "cos(X₂)", lambda x1, x2: _cos(x2)),
    )
}

#: The Playground's default inputs.
DEFAULT_FEATURES: tuple[str, ...] = ("x1", "x2")


def feature_matrix(points: A, names: Sequence[str]) -> A:
    """Compute the chosen features for every point.

    Args:
        points: coordinates ``(x1, x2)``, a NumPy array or a torch tensor (float).
        names: feature names from :data:`FEATURES`, in the wanted column order
            (repeats allowed). A single string counts as one name.

    Returns:
        The same kind (and, for float input, dtype and device) as ``points``.

    Shape:
        - points: :math:`(N, 2)`.
        - output: :math:`(N, F)` with :math:`F` = ``len(names)``.

    Raises:
        DataError: empty ``names``, an unknown name, or ``points`` not of shape (N, 2).

    Example:
        >>> import numpy as np, torch
        >>> pts = np.array([[1.0, 2.0], [3.0, -1.0]])
        >>> feature_matrix(pts, ["x1", "x1x2", "x2sq"])
        array([[ 1.,  2.,  4.],
               [ 3., -3.,  1.]])
        >>> feature_matrix(torch.tensor(pts), ["x1x2"]).shape
        torch.Size([2, 1])
    """
    if isinstance(names, str):
        names = [names]
    names = list(names)
    allowed = ", ".join(FEATURES)
    if not names:
        raise DataError("feature.empty", allowed=allowed)
    for name in names:
        if name not in FEATURES:
            raise DataError("feature.unknown", name=name, allowed=allowed)
    if not isinstance(points, (np.ndarray, torch.Tensor)):
        points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError("feature.bad_points_shape", shape=tuple(points.shape))
    x1, x2 = points[:, 0], points[:, 1]  # (N,), (N,)
    columns = [FEATURES[name].fn(x1, x2) for name in names]  # F × (N,)
    if isinstance(points, torch.Tensor):
        return torch.stack(columns, dim=1)  # (N, F)
    return np.stack(columns, axis=1)  # (N, F)
