"""Tests for torchground.data.tfpg_datasets against TensorFlow Playground's own numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from torchground.data.tfpg_datasets import (
    PLAYGROUND_SAMPLES,
    generate,
    initial_weights,
    playground_start,
    shuffle_in_place,
)
from torchground.data.tfpg_link import parse_link
from torchground.data.tfpg_random import PlaygroundRandom

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"
NAMES = ("default-circle", "reg-gauss-relu", "spiral-features-l1")


def reference(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def start_of(ref: dict):
    s = parse_link(ref["url"])
    v = s.values
    sizes = (len(s.inputs), *v["networkShape"], 1)
    return playground_start(s.data_set, v["noise"], v["percTrainData"], v["seed"], sizes, v["initZero"])


@pytest.mark.parametrize("name", NAMES)
def test_points_are_tf_playgrounds_in_its_order(name: str) -> None:
    ref = reference(name)
    start = start_of(ref)
    train = np.c_[start.train.points, start.train.labels]
    test = np.c_[start.test.points, start.test.labels]
    assert train.shape == np.array(ref["train"]).shape and test.shape == np.array(ref["test"]).shape
    assert np.abs(train - np.array(ref["train"])).max() <= 1e-12
    assert np.abs(test - np.array(ref["test"])).max() <= 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_initial_weights_are_tf_playgrounds(name: str) -> None:
    ref = reference(name)
    start = start_of(ref)
    assert len(start.weights) == len(ref["init"])
    for (w, b), layer in zip(start.weights, ref["init"]):
        np.testing.assert_array_equal(w, np.array(layer["weight"]))
        np.testing.assert_array_equal(b, np.array(layer["bias"]))


@pytest.mark.parametrize("name", ["circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss"])
def test_every_generator_gives_its_count_and_labels(name: str) -> None:
    points = generate(name, PlaygroundRandom("7"), 20)
    problem = "regression" if name.startswith("reg") else "classification"
    assert len(points) == PLAYGROUND_SAMPLES[problem]
    labels = np.array([p[2] for p in points])
    if problem == "classification":
        assert set(labels.tolist()) == {-1.0, 1.0}
    else:  # reg-plane is not clamped: (x + y + noise offsets) / 10 may pass 1
        assert np.all(np.abs(labels) <= (1.0 if name == "reg-gauss" else (12 + 2 * 6 * 0.2) / 10))
    xy = np.array([p[:2] for p in points])
    assert np.all(np.abs(xy) <= 12)


def test_circle_and_xor_noise_moves_labels_not_points() -> None:
    quiet = generate("circle", PlaygroundRandom("s"), 0)
    noisy = generate("circle", PlaygroundRandom("s"), 50)
    assert [p[:2] for p in quiet] == [p[:2] for p in noisy]
    assert [p[2] for p in quiet] != [p[2] for p in noisy]
    # at noise 0 the circle's labels are exact: inside radius 2.5 is +1
    assert all((np.hypot(x, y) < 2.5) == (label == 1.0) for x, y, label in quiet)


def test_gauss_variance_follows_noise() -> None:
    tight = np.array([p[:2] for p in generate("gauss", PlaygroundRandom("g"), 0)])
    wide = np.array([p[:2] for p in generate("gauss", PlaygroundRandom("g"), 50)])
    assert tight[:250].std() < wide[:250].std()
    assert np.allclose(tight[:250].mean(axis=0), [2, 2], atol=0.2)
    assert np.allclose(tight[250:].mean(axis=0), [-2, -2], atol=0.2)


def test_shuffle_is_fisher_yates_from_the_end() -> None:
    items = list(range(10))
    rng, copy = PlaygroundRandom("sh"), PlaygroundRandom("sh")
    shuffle_in_place(items, rng)
    expected = list(range(10))
    for counter in range(10, 0, -1):
        index = int(copy.random() * counter)
        expected[counter - 1], expected[index] = expected[index], expected[counter - 1]
    assert items == expected and sorted(items) == list(range(10))


def test_init_zero_draws_the_same_numbers() -> None:
    a, b = PlaygroundRandom("z"), PlaygroundRandom("z")
    zero = initial_weights(a, (3, 4, 1), init_zero=True)
    plain = initial_weights(b, (3, 4, 1))
    assert all(not w.any() and not bias.any() for w, bias in zero)
    assert all(np.all(bias == 0.1) for _, bias in plain)
    assert a.random() == b.random()  # the stream stands at the same place


def test_split_floors_the_training_count() -> None:
    start = playground_start("reg-plane", 0, 33, "split")
    assert (start.train.n, start.test.n) == (396, 804)  # floor(1200 * 33 / 100)
    assert start.weights == []
