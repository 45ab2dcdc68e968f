"""Tests for torchground.data.datasets: each set's defining property, noise, seeds, splits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchground.data.datasets import (
    DATASETS,
    MAX_SAMPLES,
    Dataset,
    make_dataset,
    split_dataset,
)
from torchground.errors import DataError
from torchground.i18n import catalogue

N = 2000  # large enough for stable statistics, small enough to stay fast


@pytest.fixture
def seed() -> int:
    return 1234


def radius(ds: Dataset) -> np.ndarray:
    return np.hypot(ds.points[:, 0], ds.points[:, 1])


# ----------------------------------------------------------------------------- registry

# The Playground's six sets (blobs and spiral-k, with K classes, are tested in test_classes.py).
PLAYGROUND_SETS = [name for name, info in DATASETS.items() if not info.multi_class]


def test_registry_order_problems_and_defaults() -> None:
    assert list(DATASETS) == ["circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss", "blobs", "spiral-k"]
    for name, info in DATASETS.items():
        assert info.name == name
        expected = "regression" if name.startswith("reg-") else "classification"
        assert info.problem == expected
        assert info.default_n == (1200 if expected == "regression" else 500)
        assert info.summary_key in catalogue("en") and info.summary_key in catalogue("ja")


@pytest.mark.parametrize("name", PLAYGROUND_SETS)
def test_default_size_shapes_and_dtypes(name: str, seed: int) -> None:
    ds = make_dataset(name, seed=seed)
    assert ds.n == len(ds) == DATASETS[name].default_n
    assert ds.points.shape == (ds.n, 2) and ds.labels.shape == (ds.n,)
    assert ds.points.dtype == np.float64 and ds.labels.dtype == np.float64
    assert ds.name == name and ds.problem == DATASETS[name].problem
    if ds.problem == "classification":
        assert set(np.unique(ds.labels)) == {-1.0, 1.0}


@pytest.mark.parametrize("name", PLAYGROUND_SETS)
@pytest.mark.parametrize("n", [2, 3, 7, 501])
def test_exact_size_and_odd_halves(name: str, n: int, seed: int) -> None:
    ds = make_dataset(name, n, seed=seed)
    assert ds.n == n
    if name in ("circle", "gauss", "spiral"):  # the +1 class gets ceil(n / 2)
        assert int((ds.labels == 1).sum()) == (n + 1) // 2


@pytest.mark.parametrize("name", PLAYGROUND_SETS)
def test_determinism(name: str, seed: int) -> None:
    a, b = make_dataset(name, 300, 20, seed), make_dataset(name, 300, 20, seed)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.labels, b.labels)
    c = make_dataset(name, 300, 20, seed + 1)
    assert not np.array_equal(a.points, c.points)


@pytest.mark.parametrize("name", ["circle", "gauss", "spiral"])
def test_shuffled(name: str, seed: int) -> None:
    labels = make_dataset(name, 400, seed=seed).labels  # generated as a +1 block, then -1
    assert 50 < int((labels[:200] == 1).sum()) < 150


# --------------------------------------------------------------------- defining properties


def test_circle_noise0(seed: int) -> None:
    ds = make_dataset("circle", N, 0, seed)
    r = radius(ds)
    assert np.array_equal(ds.labels == 1, r < 2.5)
    pos, neg = r[ds.labels == 1], r[ds.labels == -1]
    assert pos.min() >= 0 and pos.max() < 2.5 and pos.max() > 2.3
    assert neg.min() >= 3.5 - 1e-12 and neg.max() <= 5 + 1e-12 and neg.min() < 3.6


def test_xor_noise0(seed: int) -> None:
    ds = make_dataset("xor", N, 0, seed)
    x, y = ds.points.T
    assert np.all(np.abs(x) >= 0.3) and np.all(np.abs(y) >= 0.3)
    assert np.all(np.abs(ds.points) <= 5.3)
    assert np.array_equal(ds.labels, np.sign(x * y))


def test_gauss_noise0(seed: int) -> None:
    ds = make_dataset("gauss", 4000, 0, seed)
    for label, centre in ((1.0, 2.0), (-1.0, -2.0)):
        pts = ds.points[ds.labels == label]
        assert np.allclose(pts.mean(axis=0), centre, atol=0.06)
        assert np.allclose(pts.var(axis=0), 0.5, rtol=0.1)


def test_spiral_noise0_structure(seed: int) -> None:
    n = 401
    ds = make_dataset("spiral", n, 0, seed)
    for label, m, delta in ((1.0, 201, 0.0), (-1.0, 200, math.pi)):
        pts = ds.points[ds.labels == label]
        assert len(pts) == m
        pts = pts[np.argsort(np.hypot(*pts.T))]  # back into i order (radii are distinct)
        i = np.arange(m)
        r = 5 * i / m
        t = 1.75 * 2 * math.pi * i / m + delta
        assert np.allclose(pts, np.stack([r * np.sin(t), r * np.cos(t)], axis=1), atol=1e-12)


def test_reg_plane_noise0(seed: int) -> None:
    ds = make_dataset("reg-plane", N, 0, seed)
    assert np.all(np.abs(ds.points) <= 6)
    assert np.allclose(ds.labels, ds.points.sum(axis=1) / 10, atol=1e-15)


def _reg_gauss_reference(x: float, y: float) -> float:
    """The Playground's loop, written out point by point."""
    label = 0.0
    for cx, cy, sign in ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)):
        d = math.hypot(x - cx, y - cy)
        value = sign * min(max(1 - d / 2, 0.0), 1.0)
        if abs(value) > abs(label):
            label = value
    return label


def test_reg_gauss_noise0(seed: int) -> None:
    ds = make_dataset("reg-gauss", N, 0, seed)
    assert np.all(np.abs(ds.points) <= 6)
    assert np.all(np.abs(ds.labels) <= 1)
    ref = np.array([_reg_gauss_reference(x, y) for x, y in ds.points])
    assert np.allclose(ds.labels, ref, atol=1e-12)
    # Peaks near the centres with alternating signs, zero far from all of them.
    for cx, cy, sign in ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)):
        d = np.hypot(ds.points[:, 0] - cx, ds.points[:, 1] - cy)
        near = ds.labels[d < 0.5]
        assert len(near) > 0 and np.all(near * sign > 0.75)
    centres = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
    d_all = np.linalg.norm(ds.points[:, None, :] - centres[None], axis=2)  # (N, 6)
    assert np.all(ds.labels[d_all.min(axis=1) >= 2] == 0)


# ---------------------------------------------------------------------------- noise


@pytest.mark.parametrize("name", ["circle", "xor"])
def test_label_noise_flips_labels_only(name: str, seed: int) -> None:
    clean = make_dataset(name, N, 0, seed)
    flips = []
    for noise in (10, 25, 50):
        noisy = make_dataset(name, N, noise, seed)
        assert np.array_equal(noisy.points, clean.points)
        assert set(np.unique(noisy.labels)) <= {-1.0, 1.0}
        flips.append(int((noisy.labels != clean.labels).sum()))
    assert 0 < flips[0] < flips[1] < flips[2]


def test_gauss_spread_grows_with_noise(seed: int) -> None:
    spreads = []
    for noise in (0, 25, 50):
        ds = make_dataset("gauss", 4000, noise, seed)
        pts = ds.points[ds.labels == 1]
        spreads.append(pts.var(axis=0).mean())
        assert np.allclose(pts.mean(axis=0), 2, atol=0.15)
    assert spreads[0] < spreads[1] < spreads[2]
    assert spreads[1] == pytest.approx(0.5 + 3.5 * 0.5, rel=0.1)  # variance 2.25 at noise 25
    assert spreads[2] == pytest.approx(4.0, rel=0.1)


@pytest.mark.parametrize("noise", [5, 30, 50])
def test_spiral_points_move_at_most_noise(noise: int, seed: int) -> None:
    clean = make_dataset("spiral", N, 0, seed)
    noisy = make_dataset("spiral", N, noise, seed)
    assert np.array_equal(noisy.labels, clean.labels)
    moved = np.abs(noisy.points - clean.points)
    assert moved.max() <= noise / 100 + 1e-12
    assert moved.max() > 0.9 * noise / 100


@pytest.mark.parametrize("name", ["reg-plane", "reg-gauss"])
def test_regression_noise_changes_labels_not_points(name: str, seed: int) -> None:
    clean = make_dataset(name, N, 0, seed)
    noisy = make_dataset(name, N, 30, seed)
    assert np.array_equal(noisy.points, clean.points)
    changed = noisy.labels != clean.labels
    assert changed.mean() > 0.5
    if name == "reg-gauss":
        assert np.all(np.abs(noisy.labels) <= 1)


def test_reg_plane_noise_offsets_bounded(seed: int) -> None:
    clean = make_dataset("reg-plane", N, 0, seed)
    noisy = make_dataset("reg-plane", N, 50, seed)
    # Each offset is U(-6, 6) * 0.5, two of them, divided by 10.
    assert np.abs(noisy.labels - clean.labels).max() <= 2 * 3 / 10 + 1e-12


# --------------------------------------------------------------------------- refusals


def test_unknown_name_lists_names() -> None:
    with pytest.raises(DataError) as err:
        make_dataset("spirals")
    msg = err.value.message("en")
    assert "spirals" in msg and all(name in msg for name in DATASETS)


@pytest.mark.parametrize("n", [1, 0, -5, MAX_SAMPLES + 1, 2.5, True, "10"])
def test_bad_n_samples(n: object) -> None:
    with pytest.raises(DataError) as err:
        make_dataset("circle", n)  # type: ignore[arg-type]
    assert err.value.key == "data.bad_n_samples"
    assert str(n) in err.value.message("en") and str(MAX_SAMPLES) in err.value.message("en")


@pytest.mark.parametrize("noise", [-1, 50.5, float("nan"), "10", None])
def test_bad_noise(noise: object) -> None:
    with pytest.raises(DataError) as err:
        make_dataset("xor", 10, noise)  # type: ignore[arg-type]
    assert err.value.key == "data.bad_noise" and "50" in err.value.message("en")


@pytest.mark.parametrize("seed_value", [-1, 1.5, "x"])
def test_bad_seed(seed_value: object) -> None:
    with pytest.raises(DataError) as err:
        make_dataset("xor", 10, 0, seed_value)  # type: ignore[arg-type]
    assert err.value.key == "data.bad_seed"


def test_noise_bounds_and_numpy_scalars_accepted() -> None:
    assert make_dataset("circle", np.int64(10), np.float64(50.0), np.int64(3)).n == 10
    assert make_dataset("circle", 10, 12.5).n == 10


def test_dataset_validates() -> None:
    with pytest.raises(DataError):
        Dataset("x", "classification", np.zeros((3, 2)), np.array([1.0, -1.0, 0.5]))
    with pytest.raises(DataError):
        Dataset("x", "regression", np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(DataError):
        Dataset("x", "regression", np.zeros((3, 2)), np.array([0.0, np.nan, 1.0]))
    with pytest.raises(DataError):
        Dataset("x", "clustering", np.zeros((3, 2)), np.zeros(3))


# ---------------------------------------------------------------------------- splits


def test_split_counts_and_order(seed: int) -> None:
    ds = make_dataset("spiral", 101, 10, seed)
    s = split_dataset(ds, 50, 20, 30)
    assert (s.train.n, s.val.n, s.test.n) == (50, 20, 31)
    joined = np.concatenate([s.train.points, s.val.points, s.test.points])
    assert np.array_equal(joined, ds.points)
    assert np.array_equal(np.concatenate([s.train.labels, s.val.labels, s.test.labels]), ds.labels)
    assert s.train.problem == ds.problem and s.test.name == ds.name


def test_split_empty_parts(seed: int) -> None:
    ds = make_dataset("xor", 10, 0, seed)
    s = split_dataset(ds, 100, 0, 0)
    assert (s.train.n, s.val.n, s.test.n) == (10, 0, 0)
    assert s.val.points.shape == (0, 2) and s.val.labels.shape == (0,)
    s = split_dataset(ds, 0, 0, 100)
    assert (s.train.n, s.test.n) == (0, 10)


def test_split_copies(seed: int) -> None:
    ds = make_dataset("xor", 10, 0, seed)
    s = split_dataset(ds, 50, 0, 50)
    s.train.points[0, 0] = 99.0
    assert ds.points[0, 0] != 99.0


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 300),
    train=st.integers(0, 100),
    val_frac=st.floats(0, 1),
)
def test_split_counts_property(n: int, train: int, val_frac: float) -> None:
    val = int((100 - train) * val_frac)
    test = 100 - train - val
    ds = Dataset("p", "regression", np.arange(2 * n, dtype=float).reshape(n, 2), np.arange(n, dtype=float))
    s = split_dataset(ds, train, val, test)
    assert s.train.n == n * train // 100 and s.val.n == n * val // 100
    assert s.train.n + s.val.n + s.test.n == n
    assert np.array_equal(np.concatenate([s.train.labels, s.val.labels, s.test.labels]), ds.labels)


@pytest.mark.parametrize(
    "pcts, key",
    [
        ((50, 20, 20), "data.bad_split_sum"),
        ((60, 30, 20), "data.bad_split_sum"),
        ((110, -10, 0), "data.bad_split_pct"),
        ((50.0, 25, 25), "data.bad_split_pct"),
        ((50, 25, True), "data.bad_split_pct"),
    ],
)
def test_split_refusals(pcts: tuple, key: str, seed: int) -> None:
    ds = make_dataset("xor", 10, 0, seed)
    with pytest.raises(DataError) as err:
        split_dataset(ds, *pcts)
    assert err.value.key == key
