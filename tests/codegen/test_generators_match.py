"""The exported script's data generators are the same functions as ``torchground.data.datasets``.

The script's generator text (:data:`torchground.codegen.sources.GENERATORS`, put in the
script with its seeded stream and shuffle by ``Parts.data``) is executed here and its
points and labels compared, exactly, with :func:`~torchground.data.datasets.make_dataset`
for every data set it exports, several seeds, noises and sizes (odd ones too), in both languages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from torchground.codegen.parts import Parts
from torchground.codegen.sources import GENERATORS
from torchground.data.datasets import DATASETS, make_dataset
from torchground.spec import Spec

SEEDS = (0, 1, 7, 123456, 2**32 - 1)
NOISES = (0, 5, 25, 50)
SIZES = (2, 3, 101, 500)


def _exported_data(name: str, n: int, noise: float, seed: int, lang: str = "en") -> tuple[np.ndarray, np.ndarray]:
    """Run the data section of the exported script for this data set and return its points and labels."""
    spec = Spec(dataset=name, n_samples=n, noise=noise, seed=seed, batch_size="full")
    scope = {"np": np, "math": math, "DATA_SEED": seed, "N_SAMPLES": n, "NOISE": noise}
    exec(compile(Parts(spec, lang).data(), f"<exported {name}>", "exec"), scope)
    return scope["points"], scope["labels"]


def test_exported_texts_are_of_library_data_sets() -> None:
    assert GENERATORS and set(GENERATORS) <= set(DATASETS)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GENERATORS))
def test_exported_generator_is_the_library_generator(name: str) -> None:
    for seed in SEEDS:
        for noise in NOISES:
            for n in SIZES:
                ds = make_dataset(name, n_samples=n, noise=noise, seed=seed)
                points, labels = _exported_data(name, n, noise, seed)
                assert points.shape == ds.points.shape == (n, 2)
                np.testing.assert_array_equal(points, ds.points, err_msg=f"{name} seed={seed} noise={noise} n={n}")
                np.testing.assert_array_equal(labels, ds.labels, err_msg=f"{name} seed={seed} noise={noise} n={n}")


def test_exported_generator_is_the_same_in_japanese() -> None:
    for name in GENERATORS:
        ds = make_dataset(name, n_samples=33, noise=10, seed=3)
        points, labels = _exported_data(name, 33, 10, 3, lang="ja")
        np.testing.assert_array_equal(points, ds.points)
        np.testing.assert_array_equal(labels, ds.labels)


def test_a_changed_generator_would_be_noticed() -> None:
    """The comparison can fail: the circle's text with its ring moved differs from the library."""
    spec = Spec(dataset="circle", n_samples=50, seed=1)
    text = Parts(spec, "en").data().replace("radius * 0.7", "radius * 0.8")
    scope = {"np": np, "math": math, "DATA_SEED": 1, "N_SAMPLES": 50, "NOISE": 0}
    exec(compile(text, "<changed>", "exec"), scope)
    assert not np.array_equal(scope["points"], make_dataset("circle", n_samples=50, seed=1).points)
