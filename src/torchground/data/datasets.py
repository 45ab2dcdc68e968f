"""The Playground's six data sets (made from one seeded stream) and train/val/test splits.

Pure and I/O-free. Each generator follows the Neural Network Playground's definitions
(``/work/shared/PLAYGROUND.md``) but draws whole arrays from one
``np.random.default_rng(seed)`` instead of one point at a time, so the numbers differ
from the JavaScript Playground's while the distributions are the same.

Two choices the Playground leaves open (its loops run ``i < N / 2`` and so make an
extra point when ``N`` is odd) are fixed here so that exactly ``N`` points come out:

* circle, gauss and spiral give the +1 class ``ceil(N / 2)`` points and the -1 class
  ``floor(N / 2)``;
* each spiral arm uses its own count ``m`` in ``r = 5 i / m`` and
  ``t = 1.75 · 2π · i / m + δ``.

The random draws never depend on ``noise`` (noise only scales offsets that are always
drawn), so with one seed the points of circle, xor and the regression sets are the same
at every noise level and only the labels change; spiral points move by at most
``noise / 100`` per coordinate; gauss points spread out from the same draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Callable, Mapping

import numpy as np

from torchground.errors import DataError

__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "PROBLEMS",
    "MAX_SAMPLES",
    "MIN_SAMPLES",
    "MAX_NOISE",
    "MIN_CLASSES",
    "MAX_CLASSES",
    "DatasetInfo",
    "DATASETS",
    "Dataset",
    "Splits",
    "make_dataset",
    "check_classes",
    "class_names",
    "split_dataset",
]

CLASSIFICATION = "classification"
REGRESSION = "regression"
PROBLEMS: tuple[str, ...] = (CLASSIFICATION, REGRESSION)

MIN_SAMPLES = 2
#: Upper bound on points per data set: keeps memory and drawing time small for any input.
MAX_SAMPLES = 100_000
#: Noise is the UI's percentage, 0 to 50.
MAX_NOISE = 50.0
#: Classes of a K-class problem: 3 to 10 (two classes are the Playground's ±1 problem).
MIN_CLASSES = 3
MAX_CLASSES = 10


@dataclass(frozen=True)
class DatasetInfo:
    """Registry entry of a data set.

    Args:
        name: the data set's name, as in the Playground URL (``"circle"``, ``"reg-plane"``).
        problem: ``"classification"`` (labels ±1) or ``"regression"`` (real labels).
        default_n: number of points when none is asked for (500 / 1200, as the Playground).
        summary_key: catalogue key of a one-line explanation (see :func:`torchground.i18n.t`).
        classes: number of classes (2 for the Playground's sets, ``None`` for regression); for
            sets made with any number of classes (``multi_class``) the default.
        multi_class: whether the set takes ``classes`` (3 to 10).
    """

    name: str
    problem: str
    default_n: int
    summary_key: str
    classes: int | None = 2
    multi_class: bool = False


def _info(name: str, problem: str, multi_class: bool = False) -> DatasetInfo:
    default_n = 500 if problem == CLASSIFICATION else 1200
    classes = None if problem == REGRESSION else (MIN_CLASSES if multi_class else 2)
    return DatasetInfo(name, problem, default_n, f"data.summary.{name}", classes, multi_class)


#: All data sets, in the Playground's order.
DATASETS: Mapping[str, DatasetInfo] = {
    info.name: info
    for info in (
        _info("circle", CLASSIFICATION),
        _info("xor", CLASSIFICATION),
        _info("gauss", CLASSIFICATION),
        _info("spiral", CLASSIFICATION),
        _info("reg-plane", REGRESSION),
        _info("reg-gauss", REGRESSION),
        _info("blobs", CLASSIFICATION, multi_class=True),
        _info("spiral-k", CLASSIFICATION, multi_class=True),
    )
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Points in the plane with one label each.

    Equality is identity (arrays have no single truth value); compare the arrays with
    ``np.array_equal``. The arrays are converted to float64 on construction.

    Args:
        name: where the data came from (a data-set name, or e.g. ``"csv"``).
        problem: ``"classification"`` or ``"regression"``.
        points: the coordinates ``(x1, x2)``.
        labels: the targets; for two classes exactly -1.0 or 1.0 (the Playground's), for
            K = 3 to 10 classes the class index 0.0 … K−1.
        classes: number of classes (default 2; ignored for regression).
        class_names: the classes' names in index order (default: none given; see
            :func:`class_names`).

    Shape:
        - points: :math:`(N, 2)`, float64, finite.
        - labels: :math:`(N,)`, float64, finite.
    """

    name: str
    problem: str
    points: np.ndarray
    labels: np.ndarray
    classes: int = 2
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise DataError("data.bad_problem", value=self.problem, allowed=", ".join(PROBLEMS))
        points = np.asarray(self.points, dtype=np.float64)
        labels = np.asarray(self.labels, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (points.shape[0],):
            raise DataError("data.bad_shape", points=tuple(points.shape), labels=tuple(labels.shape))
        if not (np.isfinite(points).all() and np.isfinite(labels).all()):
            raise DataError("data.not_finite")
        if self.problem == CLASSIFICATION:
            if self.classes == 2 and not np.isin(labels, (-1.0, 1.0)).all():
                raise DataError("data.bad_class_labels")
            if not (self.classes == 2 or MIN_CLASSES <= self.classes <= MAX_CLASSES):
                raise DataError("classes.bad_count", value=self.classes, min=MIN_CLASSES, max=MAX_CLASSES)
            if self.classes > 2 and not np.isin(labels, np.arange(self.classes)).all():
                raise DataError("classes.bad_labels", classes=self.classes, top=self.classes - 1)
            if self.class_names and len(self.class_names) != self.classes:
                raise DataError("classes.bad_names", classes=self.classes, found=len(self.class_names))
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "labels", labels)

    @property
    def n(self) -> int:
        """Number of points, :math:`N`."""
        return int(self.points.shape[0])

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, problem={self.problem!r}, n={self.n})"

    def take(self, start: int, stop: int) -> "Dataset":
        """The points ``start:stop`` (in stored order) as a new data set (copies)."""
        return self.reorder(slice(start, stop))

    def reorder(self, index: slice | np.ndarray) -> "Dataset":
        """The points selected by ``index`` (a slice or an index array), as a new data set (copies)."""
        return Dataset(
            self.name, self.problem, self.points[index].copy(), self.labels[index].copy(), self.classes, self.class_names
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The class names, in index order (given ones, else :func:`class_names`)."""
        return self.class_names or class_names(self.classes)


def class_names(classes: int) -> tuple[str, ...]:
    """Default class names: ``("-1", "1")`` for the Playground's two classes, else ``"0"`` … ``"K-1"``.

    >>> class_names(2), class_names(3)
    (('-1', '1'), ('0', '1', '2'))
    """
    return ("-1", "1") if classes == 2 else tuple(str(k) for k in range(classes))


@dataclass(frozen=True)
class Splits:
    """Training, validation and test parts of one data set (any may have 0 points)."""

    train: Dataset
    val: Dataset
    test: Dataset


# --------------------------------------------------------------------------- generators
# Each takes (rng, n, noise) with noise as a fraction 0..0.5 and returns (points, labels)
# before the shuffle. The first half of the +1/-1 sets is the +1 class.

_Generator = Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]


def _halves(n: int) -> tuple[int, int]:
    """(+1 count, -1 count): the +1 class gets the extra point when ``n`` is odd."""
    return (n + 1) // 2, n // 2


def _sign_labels(n_pos: int, n_neg: int) -> np.ndarray:
    return np.concatenate([np.ones(n_pos), -np.ones(n_neg)])


def _circle(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    n_pos, n_neg = _halves(n)
    r = np.concatenate([rng.uniform(0.0, radius * 0.5, n_pos), rng.uniform(radius * 0.7, radius, n_neg)])
    angle = rng.uniform(0.0, 2.0 * math.pi, n)
    points = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (N, 2)
    offset = rng.uniform(-radius, radius, (n, 2)) * noise  # (N, 2); drawn even at noise 0
    inside = np.hypot(*(points + offset).T) < radius * 0.5
    return points, np.where(inside, 1.0, -1.0)


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    padding = 0.3
    raw = rng.uniform(-5.0, 5.0, (n, 2))
    points = np.where(raw > 0, raw + padding, raw - padding)  # (N, 2), |x|, |y| >= 0.3
    offset = rng.uniform(-5.0, 5.0, (n, 2)) * noise
    moved = points + offset
    return points, np.where(moved[:, 0] * moved[:, 1] >= 0, 1.0, -1.0)


def _gauss(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    variance = 0.5 + (4.0 - 0.5) * noise / 0.5  # noise 0..0.5 -> variance 0.5..4
    n_pos, n_neg = _halves(n)
    centres = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [n_pos, n_neg], axis=0)  # (N, 2)
    points = centres + math.sqrt(variance) * rng.standard_normal((n, 2))
    return points, _sign_labels(n_pos, n_neg)


def _spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    n_pos, n_neg = _halves(n)
    arms = []
    for m, delta in ((n_pos, 0.0), (n_neg, math.pi)):
        frac = np.arange(m) / m  # i / m
        r = 5.0 * frac
        t = 1.75 * 2.0 * math.pi * frac + delta
        arms.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    points = np.concatenate(arms) + rng.uniform(-1.0, 1.0, (n, 2)) * noise
    return points, _sign_labels(n_pos, n_neg)


def _uniform_plane(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Points ~ U(-6, 6)² and their noisy copies (used for the labels only)."""
    radius = 6.0
    points = rng.uniform(-radius, radius, (n, 2))
    return points, points + rng.uniform(-radius, radius, (n, 2)) * noise


def _reg_plane(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    points, noisy = _uniform_plane(rng, n, noise)
    return points, noisy.sum(axis=1) / 10.0  # linear map of x + y from [-10, 10] to [-1, 1]


# (cx, cy, sign): + - + on top, - + - below.
_REG_GAUSS_CENTRES = np.array(
    [[-4.0, 2.5, 1.0], [0.0, 2.5, -1.0], [4.0, 2.5, 1.0], [-4.0, -2.5, -1.0], [0.0, -2.5, 1.0], [4.0, -2.5, -1.0]]
)


def _reg_gauss(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    points, noisy = _uniform_plane(rng, n, noise)
    diff = noisy[:, None, :] - _REG_GAUSS_CENTRES[None, :, :2]  # (N, 6, 2)
    dist = np.hypot(diff[..., 0], diff[..., 1])  # (N, 6)
    values = _REG_GAUSS_CENTRES[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)  # (N, 6)
    # The Playground keeps the first value strictly larger in |.|; argmax keeps the first too.
    best = np.argmax(np.abs(values), axis=1)  # (N,)
    return points, values[np.arange(n), best]


_GENERATORS: Mapping[str, _Generator] = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
    "reg-plane": _reg_plane,
    "reg-gauss": _reg_gauss,
}


def _class_counts(n: int, k: int) -> np.ndarray:
    """Points per class: ``n // k`` each, the first ``n % k`` classes one more."""
    return np.array([n // k + (1 if c < n % k else 0) for c in range(k)])


def _blobs(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """K Gaussian clusters, their centres evenly on a circle of radius 3.5; noise widens them
    (variance 0.3 at noise 0 to 3 at 50 %)."""
    counts = _class_counts(n, k)
    labels = np.repeat(np.arange(k, dtype=np.float64), counts)  # (N,)
    angle = 2.0 * math.pi * np.arange(k) / k + math.pi / 2.0
    centres = 3.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (K, 2)
    variance = 0.3 + (3.0 - 0.3) * noise / 0.5
    points = centres[labels.astype(int)] + math.sqrt(variance) * rng.standard_normal((n, 2))
    return points, labels


def _spiral_k(rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """K interleaved spiral arms (the Playground's spiral, one arm per class, turned by 2π/K)."""
    counts = _class_counts(n, k)
    arms = []
    for c, m in enumerate(counts):
        frac = np.arange(m) / m
        t = 1.75 * 2.0 * math.pi * frac + 2.0 * math.pi * c / k
        arms.append(np.stack([5.0 * frac * np.sin(t), 5.0 * frac * np.cos(t)], axis=1))
    points = np.concatenate(arms) + rng.uniform(-1.0, 1.0, (n, 2)) * noise
    return points, np.repeat(np.arange(k, dtype=np.float64), counts)


_MULTI_GENERATORS: Mapping[str, Callable[[np.random.Generator, int, float, int], tuple[np.ndarray, np.ndarray]]] = {
    "blobs": _blobs,
    "spiral-k": _spiral_k,
}


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def make_dataset(
    name: str, n_samples: int | None = None, noise: float = 0.0, seed: int = 0, classes: int | None = None
) -> Dataset:
    """Make one of the Playground's data sets, shuffled once.

    All randomness (points, noise offsets, the final shuffle) comes from one
    ``np.random.default_rng(seed)``, so a seed reproduces the data exactly.

    Args:
        name: one of :data:`DATASETS` (``circle``, ``xor``, ``gauss``, ``spiral``,
            ``reg-plane``, ``reg-gauss``).
        n_samples: number of points, 2 to 100000. Default: ``None``, the data set's
            ``default_n`` (500 for classification, 1200 for regression).
        noise: the UI's noise percentage, 0 to 50 (the Playground's noise is this / 100).
            Default: 0.
        seed: a non-negative integer seed. Default: 0.
        classes: for ``blobs`` and ``spiral-k``, the number of classes, 3 to 10 (default 3);
            labels are then the class index 0 … K−1. Other sets take only their own count
            (2, or ``None`` for regression).

    Returns:
        A :class:`Dataset`; classification labels are exactly ±1.0. For circle, gauss and
        spiral the +1 class has ``ceil(N / 2)`` points.

    Shape:
        - points: :math:`(N, 2)`, float64.
        - labels: :math:`(N,)`, float64.

    Raises:
        DataError: unknown name, ``n_samples`` or ``noise`` out of range, bad seed, a
            class count the set does not take.

    Example:
        >>> ds = make_dataset("circle", n_samples=10, seed=1)
        >>> ds.points.shape, ds.labels.shape
        ((10, 2), (10,))
        >>> sorted(set(ds.labels.tolist()))
        [-1.0, 1.0]
        >>> make_dataset("xor").n, make_dataset("reg-plane").problem
        (500, 'regression')
    """
    info = DATASETS.get(name) if isinstance(name, str) else None
    if info is None:
        raise DataError("data.unknown_dataset", name=name, allowed=", ".join(DATASETS))
    n = info.default_n if n_samples is None else n_samples
    if not _is_int(n) or not MIN_SAMPLES <= n <= MAX_SAMPLES:
        raise DataError("data.bad_n_samples", value=n_samples, min=MIN_SAMPLES, max=MAX_SAMPLES)
    if isinstance(noise, bool) or not isinstance(noise, Real) or not 0.0 <= noise <= MAX_NOISE:
        raise DataError("data.bad_noise", value=noise, min=0, max=int(MAX_NOISE))
    if not _is_int(seed) or seed < 0:
        raise DataError("data.bad_seed", value=seed)

    k = check_classes(info, classes)
    rng = np.random.default_rng(int(seed))
    if info.multi_class:
        points, labels = _MULTI_GENERATORS[name](rng, int(n), float(noise) / 100.0, k)
    else:
        points, labels = _GENERATORS[name](rng, int(n), float(noise) / 100.0)
    order = rng.permutation(int(n))  # the Playground shuffles the list once
    return Dataset(name, info.problem, points[order], labels[order], k or 2)


def check_classes(info: DatasetInfo, classes: int | None) -> int | None:
    """The class count of data set ``info`` given the asked ``classes`` (``None``: its default).

    Raises:
        DataError: a count other than the set's own, or outside 3 to 10 for ``blobs`` and
            ``spiral-k``.
    """
    if classes is None:
        return info.classes
    if info.multi_class:
        if not _is_int(classes) or not MIN_CLASSES <= classes <= MAX_CLASSES:
            raise DataError("classes.bad_count", value=classes, min=MIN_CLASSES, max=MAX_CLASSES)
        return int(classes)
    if classes != info.classes:
        raise DataError("classes.fixed", name=info.name, value=classes, classes=info.classes if info.classes else "-")
    return info.classes


def split_dataset(ds: Dataset, train_pct: int, val_pct: int, test_pct: int) -> Splits:
    """Split ``ds`` in its stored order: training first, then validation, then test.

    Counts are ``n_train = N * train_pct // 100`` and ``n_val = N * val_pct // 100``; the
    test part gets the rest, so no point is lost or repeated.

    Args:
        ds: the (already shuffled) data set.
        train_pct, val_pct, test_pct: integer percentages 0 to 100 that sum to 100.

    Raises:
        DataError: a percentage that is not an integer in 0..100, or a sum other than 100.

    Example:
        >>> s = split_dataset(make_dataset("gauss", 10), 50, 20, 30)
        >>> s.train.n, s.val.n, s.test.n
        (5, 2, 3)
    """
    pcts = {"train": train_pct, "val": val_pct, "test": test_pct}
    for field, value in pcts.items():
        if not _is_int(value) or not 0 <= value <= 100:
            raise DataError("data.bad_split_pct", field=field, value=value)
    if train_pct + val_pct + test_pct != 100:
        raise DataError(
            "data.bad_split_sum", train=train_pct, val=val_pct, test=test_pct, total=train_pct + val_pct + test_pct
        )
    n_train = ds.n * train_pct // 100
    n_val = ds.n * val_pct // 100
    return Splits(ds.take(0, n_train), ds.take(n_train, n_train + n_val), ds.take(n_train + n_val, ds.n))
