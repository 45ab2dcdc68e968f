"""TensorFlow Playground's data and initial weights, drawn from its random stream.

What TensorFlow Playground does when it opens a link, reproduced number for number
(:class:`~torchground.data.tfpg_random.PlaygroundRandom` is its ``Math.random``):

1. seed the stream with the link's ``seed`` string;
2. generate 500 points (classification) or 1200 (regression) with its generator for the
   data set, one point at a time in its order of draws;
3. shuffle them in place (Fisher–Yates from the end: ``index = floor(random · counter)``);
4. split at ``floor(N · percTrainData / 100)``: training points first, then test points;
5. build the network, whose weights keep drawing from the same stream: layer by layer,
   unit by unit, one ``random() − 0.5`` per incoming link in the order of the units
   below; biases 0.1. With ``initZero`` every weight and bias is 0, yet each weight
   still draws its number (TensorFlow Playground draws it before zeroing it), so the
   stream stays where it would be.

The generators follow its ``dataset.ts`` (also described in ``shared/PLAYGROUND.md``),
including its arithmetic where the rounding shows: distances are
``sqrt(dx² + dy²)``, its linear scales compute ``a·(1 − t) + b·t`` with
``t = (v − v₀)/(v₁ − v₀)`` as d3 3.5 does, and the Gaussian sampler is its polar method
(two uniforms per try, the second thrown away). These differ from
:mod:`torchground.data.datasets`, which draws whole arrays from NumPy.

Pure and I/O-free.

Example:
    >>> start = playground_start("circle", 0, 50, "0.80000", sizes=(2, 4, 2, 1))
    >>> start.train.n, start.test.n, [w.shape for w, _ in start.weights]
    (250, 250, [(4, 2), (2, 4), (1, 2)])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from torchground.data.datasets import CLASSIFICATION, DATASETS, REGRESSION, Dataset
from torchground.data.tfpg_random import PlaygroundRandom
from torchground.errors import DataError

__all__ = [
    "PLAYGROUND_SAMPLES",
    "PlaygroundStart",
    "generate",
    "shuffle_in_place",
    "initial_weights",
    "playground_start",
    "playground_points",
    "playground_weights",
    "MAX_RESETS",
]

#: Points TensorFlow Playground makes per problem.
PLAYGROUND_SAMPLES: Mapping[str, int] = {CLASSIFICATION: 500, REGRESSION: 1200}

_Point = tuple[float, float, float]
_Generator = Callable[[PlaygroundRandom, int, float], list[_Point]]


def _dist(x: float, y: float) -> float:
    return math.sqrt(x * x + y * y)


def _scale(v: float, v0: float, v1: float, a: float, b: float, clamp: bool = False) -> float:
    """d3 3.5's linear scale from [v0, v1] to [a, b] (clamped to [0, 1] in t when asked)."""
    t = (v - v0) / (v1 - v0)
    if clamp:
        t = max(0.0, min(1.0, t))
    return a * (1 - t) + b * t


def _circle(rng: PlaygroundRandom, n: int, noise: float) -> list[_Point]:
    radius = 5.0
    points: list[_Point] = []
    for low, high in ((0.0, radius * 0.5), (radius * 0.7, radius)):
        i = 0
        while i < n / 2:
            r = rng.uniform(low, high)
            angle = rng.uniform(0.0, 2 * math.pi)
            x, y = r * math.sin(angle), r * math.cos(angle)
            nx = rng.uniform(-radius, radius) * noise
            ny = rng.uniform(-radius, radius) * noise
            label = 1.0 if _dist(x + nx, y + ny) < radius * 0.5 else -1.0
            points.append((x, y, label))
            i += 1
    return points


def _xor(rng: PlaygroundRandom, n: int, noise: float) -> list[_Point]:
    padding = 0.3
    points: list[_Point] = []
    for _ in range(n):
        x = rng.uniform(-5.0, 5.0)
        x += padding if x > 0 else -padding
        y = rng.uniform(-5.0, 5.0)
        y += padding if y > 0 else -padding
        nx = rng.uniform(-5.0, 5.0) * noise
        ny = rng.uniform(-5.0, 5.0) * noise
        points.append((x, y, 1.0 if (x + nx) * (y + ny) >= 0 else -1.0))
    return points


def _normal(rng: PlaygroundRandom, mean: float, variance: float) -> float:
    """Its ``normalRandom``: the polar method, keeping ``v1`` only."""
    while True:
        v1 = 2 * rng.random() - 1
        v2 = 2 * rng.random() - 1
        s = v1 * v1 + v2 * v2
        if not s > 1:
            break
    result = math.sqrt(-2 * math.log(s) / s) * v1
    return mean + math.sqrt(variance) * result


def _gauss(rng: PlaygroundRandom, n: int, noise: float) -> list[_Point]:
    variance = _scale(noise, 0.0, 0.5, 0.5, 4.0)
    points: list[_Point] = []
    for cx, cy, label in ((2.0, 2.0, 1.0), (-2.0, -2.0, -1.0)):
        i = 0
        while i < n / 2:
            x = _normal(rng, cx, variance)
            y = _normal(rng, cy, variance)
            points.append((x, y, label))
            i += 1
    return points


def _spiral(rng: PlaygroundRandom, n: int, noise: float) -> list[_Point]:
    half = n / 2
    points: list[_Point] = []
    for delta, label in ((0.0, 1.0), (math.pi, -1.0)):
        i = 0
        while i < half:
            r = i / half * 5
            t = 1.75 * i / half * 2 * math.pi + delta
            x = r * math.sin(t) + rng.uniform(-1.0, 1.0) * noise
            y = r * math.cos(t) + rng.uniform(-1.0, 1.0) * noise
            points.append((x, y, label))
            i += 1
    return points


def _plane_draws(rng: PlaygroundRandom, noise: float) -> tuple[float, float, float, float]:
    radius = 6.0
    x = rng.uniform(-radius, radius)
    y = rng.uniform(-radius, radius)
    nx = rng.uniform(-radius, radius) * noise
    ny = rng.uniform(-radius, radius) * noise
    return x, y, x + nx, y + ny


def _reg_plane(rng: PlaygroundRandom, n: int, noise: float) -> list[_Point]:
    points: list[_Point] = []
    for _ in range(n):
        x, y, px, py = _plane_draws(rng, noise)
        points.append((x, y, _scale(px + py, -10.0, 10.0, -1.0, 1.0)))
    return points


_REG_GAUSSIANS = ((-4.0, 2.5, 1.0), (0.0, 2.5, -1.0), (4.0, 2.5, 1.0), (-4.0, -2.5, -1.0), (0.0, -2.5, 1.0), (4.0, -2.5, -1.0))


def _reg_gauss(rng: PlaygroundRandom, n: int, noise: float) -> list[_Point]:
    points: list[_Point] = []
    for _ in range(n):
        x, y, px, py = _plane_draws(rng, noise)
        label = 0.0
        for cx, cy, sign in _REG_GAUSSIANS:  # the value largest in |.|; the first one wins ties
            value = sign * _scale(_dist(px - cx, py - cy), 0.0, 2.0, 1.0, 0.0, clamp=True)
            if abs(value) > abs(label):
                label = value
        points.append((x, y, label))
    return points


_GENERATORS: Mapping[str, _Generator] = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
    "reg-plane": _reg_plane,
    "reg-gauss": _reg_gauss,
}


def generate(name: str, rng: PlaygroundRandom, noise: float) -> list[_Point]:
    """TensorFlow Playground's points of data set ``name``, before the shuffle.

    Args:
        name: circle, xor, gauss, spiral, reg-plane or reg-gauss.
        rng: the stream to draw from (advanced by the call).
        noise: the link's noise in percent, 0 to 50 (its generators take noise / 100).

    Returns:
        ``(x, y, label)`` tuples, 500 for classification and 1200 for regression.
    """
    if name not in _GENERATORS:
        raise DataError("data.unknown_dataset", name=name, allowed=", ".join(_GENERATORS))
    n = PLAYGROUND_SAMPLES[DATASETS[name].problem]
    return _GENERATORS[name](rng, n, noise / 100)


def shuffle_in_place(items: list, rng: PlaygroundRandom) -> None:
    """Its Fisher–Yates shuffle: from the end, swap with ``floor(random · counter)``."""
    counter = len(items)
    while counter > 0:
        index = math.floor(rng.random() * counter)
        counter -= 1
        items[counter], items[index] = items[index], items[counter]


def initial_weights(rng: PlaygroundRandom, sizes: Sequence[int], init_zero: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """The initial weights of a network with layer sizes ``sizes`` (inputs first, output last).

    Returns:
        One ``(weight, bias)`` pair per layer after the input, float64;
        ``weight[j, i]`` is the link from unit ``i`` below into unit ``j``.

    Shape:
        - weight: :math:`(sizes[k], sizes[k-1])`.
        - bias: :math:`(sizes[k],)`.
    """
    layers = []
    for below, width in zip(sizes[:-1], sizes[1:]):
        weight = np.empty((width, below), dtype=np.float64)
        for j in range(width):
            for i in range(below):
                weight[j, i] = rng.random() - 0.5  # drawn even with initZero
        if init_zero:
            weight[:] = 0.0
        layers.append((weight, np.full(width, 0.0 if init_zero else 0.1)))
    return layers


@dataclass(frozen=True)
class PlaygroundStart:
    """What TensorFlow Playground has once a link is open: its data and initial weights.

    Args:
        train: the training points, in its order.
        test: the test points, in its order.
        weights: :func:`initial_weights` of the network.
        rng: the stream where it stands after the weights (its "reset" draws on from here).
    """

    train: Dataset
    test: Dataset
    weights: list[tuple[np.ndarray, np.ndarray]]
    rng: PlaygroundRandom


def _dataset(name: str, problem: str, points: list[_Point]) -> Dataset:
    array = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return Dataset(name, problem, array[:, :2], array[:, 2])


def playground_points(dataset: str, noise: float, seed: str) -> tuple[Dataset, PlaygroundRandom]:
    """All points of a link in TensorFlow Playground's order (after its shuffle, before the
    split), and the stream where it then stands (its weights draw on from there)."""
    rng = PlaygroundRandom(seed)
    points = generate(dataset, rng, noise)
    shuffle_in_place(points, rng)
    return _dataset(dataset, DATASETS[dataset].problem, points), rng


#: Most "reset" presses :func:`playground_weights` replays (each draws one network's weights).
MAX_RESETS = 1000


def playground_weights(
    dataset: str, noise: float, seed: str, sizes: Sequence[int], init_zero: bool = False, resets: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The initial weights a link's network gets (the data's draws are made first, as there).

    ``resets``: how many times TensorFlow Playground's reset button was pressed since the
    link opened; each press builds a new network whose weights go on drawing from the
    stream, so the result is the network after that many presses (0 to :data:`MAX_RESETS`).
    """
    if not 0 <= resets <= MAX_RESETS:
        raise DataError("tfpg.bad_resets", value=resets, limit=MAX_RESETS)
    _, rng = playground_points(dataset, noise, seed)
    for _ in range(resets):
        initial_weights(rng, sizes)
    return initial_weights(rng, sizes, init_zero)


def playground_start(
    dataset: str,
    noise: float,
    perc_train: float,
    seed: str,
    sizes: Sequence[int] | None = None,
    init_zero: bool = False,
) -> PlaygroundStart:
    """Seed, generate, shuffle, split and (if ``sizes`` is given) draw the initial weights.

    Args:
        dataset: the data set of the link's problem (``dataset`` or ``regDataset``).
        noise: noise in percent, 0 to 50.
        perc_train: ``percTrainData``, the percentage of training points.
        seed: the link's seed string.
        sizes: layer sizes, inputs first and the single output last; ``None`` for no
            network (then ``weights`` is empty).
        init_zero: the link's ``initZero``.
    """
    rng = PlaygroundRandom(seed)
    points = generate(dataset, rng, noise)
    shuffle_in_place(points, rng)
    split = math.floor(len(points) * perc_train / 100)
    problem = DATASETS[dataset].problem
    weights = initial_weights(rng, sizes, init_zero) if sizes is not None else []
    return PlaygroundStart(_dataset(dataset, problem, points[:split]), _dataset(dataset, problem, points[split:]), weights, rng)
