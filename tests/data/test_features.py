"""Tests for torchground.data.features: the nine features, NumPy/torch agreement, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchground.errors import DataError
from torchground.data.features import DEFAULT_FEATURES, FEATURES, feature_matrix
from torchground.i18n import catalogue

ALL = list(FEATURES)


@pytest.fixture
def points() -> np.ndarray:
    return np.random.default_rng(7).uniform(-6, 6, (50, 2))  # (N, 2)


def test_registry() -> None:
    assert ALL == ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2", "cosx1", "cosx2"]
    assert DEFAULT_FEATURES == ("x1", "x2")
    labels = [f.label for f in FEATURES.values()]
    assert labels[:5] == ["X₁", "X₂", "X₁²", "X₂²", "X₁X₂"] and len(set(labels)) == 9
    for name, info in FEATURES.items():
        assert info.name == name
        assert info.summary_key in catalogue("en") and info.summary_key in catalogue("ja")


def test_values_against_formulas(points: np.ndarray) -> None:
    x, y = points[:, 0], points[:, 1]
    expected = np.stack([x, y, x**2, y**2, x * y, np.sin(x), np.sin(y), np.cos(x), np.cos(y)], axis=1)
    out = feature_matrix(points, ALL)
    assert isinstance(out, np.ndarray) and out.shape == (50, 9) and out.dtype == np.float64
    assert np.allclose(out, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_matches_numpy(points: np.ndarray, dtype: torch.dtype) -> None:
    tensor = torch.tensor(points, dtype=dtype)
    out = feature_matrix(tensor, ALL)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == (50, 9)
    ref = feature_matrix(tensor.numpy(), ALL)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    assert np.allclose(out.numpy(), ref, rtol=0, atol=tol)


def test_each_fn_on_both_kinds(points: np.ndarray) -> None:
    x, y = points[:, 0], points[:, 1]
    for info in FEATURES.values():
        a = info.fn(x, y)
        b = info.fn(torch.from_numpy(x), torch.from_numpy(y))
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        assert np.allclose(a, b.numpy(), atol=1e-12)


def test_column_order_and_repeats(points: np.ndarray) -> None:
    out = feature_matrix(points, ["x2", "x1", "x2"])
    assert np.array_equal(out, points[:, [1, 0, 1]])
    assert np.array_equal(feature_matrix(points, "x1x2")[:, 0], points[:, 0] * points[:, 1])


def test_gradients_flow() -> None:
    pts = torch.tensor([[0.5, -1.0]], dtype=torch.float64, requires_grad=True)
    feature_matrix(pts, ["x1sq", "sinx2"]).sum().backward()
    assert torch.allclose(pts.grad, torch.tensor([[1.0, np.cos(-1.0)]], dtype=torch.float64))


def test_empty_points() -> None:
    assert feature_matrix(np.zeros((0, 2)), ["x1", "cosx1"]).shape == (0, 2)
    assert feature_matrix(torch.zeros(0, 2), ["x1"]).shape == (0, 1)


def test_unknown_name_lists_allowed(points: np.ndarray) -> None:
    with pytest.raises(DataError) as err:
        feature_matrix(points, ["x1", "x3"])
    msg = err.value.message("en")
    assert err.value.key == "feature.unknown" and "x3" in msg and all(n in msg for n in ALL)


def test_empty_names(points: np.ndarray) -> None:
    with pytest.raises(DataError) as err:
        feature_matrix(points, [])
    assert err.value.key == "feature.empty" and "sinx1" in err.value.message("en")


@pytest.mark.parametrize("shape", [(5,), (5, 3), (2, 2, 2)])
def test_bad_points_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(DataError) as err:
        feature_matrix(np.zeros(shape), ["x1"])
    assert err.value.key == "feature.bad_points_shape"
