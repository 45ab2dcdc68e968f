"""K classes (3 to 10) and data files through the spec, the trainer, the history and the pictures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from torchground.data.spec_data import csv_fields
from torchground.errors import DataError, SpecError
from torchground.model import build_model
from torchground.spec import Spec
from torchground.train import make_data, train
from torchground.train.metrics import confusion_matrix, precision_recall
from torchground.train.own_data import data_spec
from torchground.train.rundir import load_spec, save_run
from torchground.viz.boundary import boundary_grid
from torchground.viz.plots import class_picture


def three_class_file(tmp_path: Path, offset: float = 1000.0) -> Path:
    """Three named clusters far from the origin (standardisation needed), sorted by class."""
    rng = np.random.default_rng(3)
    rows = ["x1,x2,label"]
    for name, (cx, cy) in (("red", (0, 0)), ("green", (40, 0)), ("blue", (20, 40))):
        for _ in range(60):
            rows.append(f"{offset + cx + rng.normal() * 3!r},{-offset + cy + rng.normal() * 3!r},{name}")
    path = tmp_path / "three.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_k_class_spec_defaults_and_refusals():
    spec = Spec(dataset="blobs", classes=5)
    assert (spec.classes, spec.loss, spec.output_activation) == (5, "crossentropy", "identity")
    assert spec.class_names == ("0", "1", "2", "3", "4")
    assert build_model(spec)(torch.zeros(7, 2)).shape == (7, 5)
    assert Spec().classes == 2 and Spec().loss == "mse" and Spec(dataset="reg-gauss").classes is None
    for fields, part in (
        ({"dataset": "blobs", "loss": "mse"}, "crossentropy, multimargin"),
        ({"dataset": "blobs", "loss": "bce"}, "one output"),
        ({"loss": "crossentropy"}, "one output per class"),
        ({"dataset": "spiral-k", "output_activation": "tanh"}, "identity"),
        ({"dataset": "blobs", "classes": 11}, "3 to 10"),
        ({"dataset": "xor", "classes": 4}, "blobs and spiral-k"),
        ({"standardize": True}, "data files"),
        ({"dataset": "csv"}, "--data"),
    ):
        with pytest.raises(SpecError) as err:
            Spec(**fields)
        assert part in err.value.message("en"), (fields, err.value.message("en"))


@pytest.mark.slow
def test_k_class_training_metrics_and_summary(tmp_path):
    run = train(Spec(dataset="blobs", classes=4, n_samples=240, hidden=(8,), lr=0.1, epochs=15, batch_size=10,
                     train_pct=60, val_pct=20, test_pct=20))
    last = run.history.last
    assert last["val_acc"] > 0.9 and run.history.status == "completed"
    for s in ("train", "val", "test"):
        for k in range(4):
            assert 0 <= last[f"{s}_recall_{k}"] <= 1
    matrix = run.summary["confusion"]["val"]
    assert np.array(matrix).sum() == run.data.val.n
    assert np.trace(np.array(matrix)) / run.data.val.n == pytest.approx(last["val_acc"])
    assert run.summary["class_names"] == ["0", "1", "2", "3"]
    paths = save_run(run, tmp_path / "r")
    header = paths["history.csv"].read_text().splitlines()[0].split(",")
    assert "test_precision_3" in header and "val_recall_0" in header
    assert json.loads(paths["summary.json"].read_text())["confusion"]["test"] == run.summary["confusion"]["test"]


def test_confusion_matrix_and_precision_recall():
    out = torch.tensor([[3.0, 0, 0], [3.0, 0, 0], [0, 0, 1], [0, 2, 0]])
    y = torch.tensor([[0.0], [1.0], [2.0], [1.0]])
    m = confusion_matrix(out, y, 3)
    assert m.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    precision, recall = precision_recall(m)
    assert precision == [0.5, 1.0, 1.0] and recall == [1.0, 0.5, 1.0]
    precision, _ = precision_recall(torch.tensor([[1, 0], [1, 0]]))
    assert precision[1] is None  # nothing predicted as class 1


@pytest.mark.slow
def test_csv_far_from_origin_trains_standardised_and_repeats(tmp_path):
    path = three_class_file(tmp_path)
    fields = csv_fields(path)
    assert fields["classes"] == 3 and fields["class_names"] == ("red", "green", "blue")
    assert abs(fields["input_mean"][0] - 1020) < 5 and fields["input_scale"][0] > 5
    spec = Spec(**fields, hidden=(6,), lr=0.1, epochs=20, batch_size=10)
    splits = make_data(spec)
    assert abs(splits.train.points.mean()) < 0.5  # standardised, and shuffled (all classes in training)
    assert set(splits.train.labels.tolist()) == {0.0, 1.0, 2.0}
    run = train(spec)
    assert run.history.last["val_acc"] > 0.95
    unscaled = train(spec.replace(standardize=False, input_mean=None, input_scale=None))
    assert unscaled.spec.standardize is False
    out = tmp_path / "run"
    save_run(run, out)
    assert (out / "data.csv").read_bytes() == path.read_bytes()
    again = load_spec(out / "spec.json")
    assert again.data_file == str(out / "data.csv") and again.data_sha256 == spec.data_sha256
    assert train(again).history.rows == run.history.rows
    path.write_text(path.read_text().replace("red", "pink"), encoding="utf-8")
    with pytest.raises(DataError) as err:
        make_data(spec)
    assert err.value.key == "classes.csv_changed"


def test_arrays_and_boundary_of_k_classes(tmp_path):
    points = np.array([[0.0, 0.0], [0.1, 0.2], [5.0, 5.0], [5.2, 5.1], [10.0, 0.0], [10.1, 0.3]] * 5)
    spec = data_spec((points, [1, 1, 2, 2, 3, 3] * 5), save_as=tmp_path / "a.csv", epochs=30, lr=0.3, batch_size=5,
                     hidden=(5,))
    assert spec.classes == 3 and spec.class_names == ("1", "2", "3")
    run = train(spec)
    grid = boundary_grid(run.model, spec.features, resolution=9, box=(-2.0, 2.0, -1.0, 3.0))
    assert grid["probabilities"].shape == (9, 9, 3) and grid["output"].shape == (9, 9)
    assert np.allclose(grid["probabilities"].sum(axis=2), 1.0)
    assert grid["xs"][0] == -2.0 and grid["ys"][-1] == 3.0
    picture = class_picture(grid["probabilities"])
    assert picture.shape == (9, 9, 3) and picture.min() >= 0 and picture.max() <= 1
    with pytest.raises(DataError) as err:
        data_spec((points, [1] * 30))
    assert err.value.key == "classes.arrays_need_path"


def test_switching_data_sets_carries_classes_loss_and_data_fields(tmp_path):
    spec = Spec(dataset="blobs", classes=5)
    assert (spec.replace(dataset="circle").classes, spec.replace(dataset="circle").loss) == (2, "mse")
    assert spec.replace(dataset="spiral-k").classes == 5
    assert spec.replace(dataset="reg-plane").classes is None
    fields = csv_fields(three_class_file(tmp_path))
    mine = Spec().replace(**fields)
    assert (mine.classes, mine.loss, mine.output_activation) == (3, "crossentropy", "identity")
    back = mine.replace(dataset="xor")
    assert (back.data_file, back.classes, back.standardize, back.loss, back.n_samples) == (None, 2, False, "mse", 500)
    assert Spec.preset("playground").replace(dataset="blobs").training_loop == "pytorch"
