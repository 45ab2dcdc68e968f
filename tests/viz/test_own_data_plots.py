"""Pictures of your own data and of K classes: the data's own extent, class colours, a legend of names."""

from __future__ import annotations

import pytest
from pathlib import Path

import numpy as np

from torchground.data.csv_io import read_csv
from torchground.data.datasets import make_dataset
from torchground.data.spec_data import csv_fields
from torchground.spec import Spec
from torchground.train import train
from torchground.viz.boundary import data_box
from torchground.viz.plots import CLASS_COLOURS, class_picture, plot_boundary, plot_dataset


@pytest.mark.slow
def test_boundary_of_a_file_spans_its_extent_in_its_units(tmp_path: Path) -> None:
    path = tmp_path / "far.csv"
    rows = [f"{1000 + i % 10},{-50 + (i % 7) * 2},{('lo', 'mid', 'hi')[i % 3]}" for i in range(60)]
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    spec = Spec(**csv_fields(path), epochs=2, hidden=(3,))
    run = train(spec)
    fig = plot_boundary(run.model, spec.features, run.data, lang="en", spec=spec)
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    assert 998 < x0 < 1000 and 1009 < x1 < 1011  # 1000..1009 with a 10 % margin
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[-3:] == ["lo", "mid", "hi"]
    assert len(fig.axes) >= 2  # the neuron maps stay beside it


def test_class_picture_colours_by_the_most_likely_class() -> None:
    probs = np.zeros((2, 2, 3))
    probs[0, 0] = [1, 0, 0]
    probs[0, 1] = [0, 1, 0]
    probs[1, 0] = [0, 0, 1]
    probs[1, 1] = [1 / 3, 1 / 3, 1 / 3]  # a tie: grey
    picture = class_picture(probs)
    assert np.allclose(picture[0, 0] * 255, [int(CLASS_COLOURS[0][i : i + 2], 16) for i in (1, 3, 5)], atol=1)
    assert np.allclose(picture[1, 0] * 255, [int(CLASS_COLOURS[2][i : i + 2], 16) for i in (1, 3, 5)], atol=1)
    assert np.allclose(picture[1, 1] * 255, [232, 234, 235], atol=1)


def test_dataset_pictures_of_k_classes_and_files(tmp_path: Path) -> None:
    fig = plot_dataset(make_dataset("spiral-k", n_samples=90, classes=5), lang="en")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2", "3", "4"]
    path = tmp_path / "d.csv"
    path.write_text("x1,x2,label\n10,20,a\n30,60,b\n", encoding="utf-8")
    ds = read_csv(path)
    ax = plot_dataset(ds, lang="en").axes[0]
    assert ax.get_xlim() == data_box(ds.points)[:2]
