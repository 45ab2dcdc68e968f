"""A trained run used elsewhere: load_run, predict (Python and CLI), ONNX export checked with onnxruntime."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from torchground.cli import main
from torchground.deploy import export_onnx, load_run, predict_points
from torchground.spec import Spec
from torchground.train import train
from torchground.train.rundir import save_run

ort = pytest.importorskip("onnxruntime")


def _run(tmp: Path, name: str, spec: Spec) -> Path:
    folder = tmp / name
    save_run(train(spec), folder)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(3)
    pts = rng.normal([40.0, -7.0], [10.0, 3.0], size=(200, 2))  # far from the Playground's box: standardised
    labels = np.where(pts[:, 0] - 40 > 3 * (pts[:, 1] + 7), 1, -1)
    data = tmp / "points.csv"
    data.write_text("x1,x2,label\n" + "".join(f"{float(a)!r},{float(b)!r},{int(c)}\n" for (a, b), c in zip(pts, labels)), encoding="utf-8")
    csv_run = tmp / "csv"
    assert main(["train", "--data", str(data), "--features", "x1,x2,x1sq,sinx2,x1x2", "--epochs", "3", "--device", "cpu",
                 "--out", str(csv_run), "--quiet"]) == 0
    return {
        "csv": csv_run,
        "regression": _run(tmp, "reg", Spec(dataset="reg-gauss", n_samples=200, epochs=2, dtype="float64", device="cpu")),
        "three": _run(tmp, "three", Spec(dataset="blobs", classes=3, epochs=2, device="cpu")),
    }


def test_load_run_gives_spec_model_and_history(runs: dict[str, Path]) -> None:
    loaded = load_run(runs["regression"])
    spec = Spec.from_json((runs["regression"] / "spec.json").read_text(encoding="utf-8"))
    assert loaded.spec == spec
    again = train(spec)
    assert loaded.history.rows == again.history.rows
    assert loaded.history.status == "completed" and loaded.summary["status"] == "completed"
    for (name, a), (_, b) in zip(loaded.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    import torchground

    assert torchground.load_run(runs["regression"]).spec == spec


def test_the_csv_run_standardises_inside_the_predictor(runs: dict[str, Path]) -> None:
    loaded = load_run(runs["csv"])
    assert loaded.spec.standardize and loaded.spec.input_mean[0] > 30
    assert loaded.predictor().mean[0] == pytest.approx(loaded.spec.input_mean[0])


@pytest.mark.slow
@pytest.mark.parametrize("name, width", [("csv", 1), ("regression", 1), ("three", 3)])
def test_onnx_matches_the_model_on_10000_points(runs: dict[str, Path], tmp_path: Path, name: str, width: int) -> None:
    loaded = load_run(runs[name])
    out = tmp_path / "model.onnx"
    assert main(["export", "onnx", "--run", str(runs[name]), "--out", str(out)]) == 0
    session = ort.InferenceSession(str(out))
    assert [i.name for i in session.get_inputs()] == ["points"]
    lo, hi = (0.0, 80.0) if name == "csv" else (-6.0, 6.0)
    points = np.random.default_rng(0).uniform(lo, hi, size=(10_000, 2)).astype(np.float32)
    got = session.run(None, {"points": points})[0]
    with torch.no_grad():
        want = loaded.predictor()(torch.as_tensor(points)).double().numpy()
    assert got.shape == (10_000, width)
    assert np.abs(got - want).max() <= 1e-5
    if width > 1:
        assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_predict_cli_columns(runs: dict[str, Path], tmp_path: Path) -> None:
    points = tmp_path / "p.csv"
    points.write_text("id,x2,x1\n7,0.5,1.0\n8,-2,3\n\n", encoding="utf-8")  # other columns, other order, blank line
    for name, header in (("csv", ["x1", "x2", "output", "label"]), ("regression", ["x1", "x2", "output"]),
                         ("three", ["x1", "x2", "p_0", "p_1", "p_2", "label"])):
        out = tmp_path / f"{name}.csv"
        assert main(["predict", "--run", str(runs[name]), "--data", str(points), "--out", str(out)]) == 0
        rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
        assert rows[0] == header and len(rows) == 3
        assert [float(v) for v in rows[1][:2]] == [1.0, 0.5]
        if name == "csv":
            assert rows[1][3] in ("1", "-1") and (float(rows[1][2]) >= 0) == (rows[1][3] == "1")
        if name == "three":
            probs = [float(v) for v in rows[1][2:5]]
            assert sum(probs) == pytest.approx(1.0) and rows[1][5] == str(int(np.argmax(probs)))
    columns, values, labels = predict_points(load_run(runs["regression"]), np.array([[1.0, 0.5]]))
    assert columns == ["output"] and labels is None and values.shape == (1, 1)


@pytest.mark.parametrize("content, part", [
    ("a,b\n1,2\n", "x1 and x2"), ("x1,x2\n1,zz\n", "line 2"), ("x1,x2\n1,nan\n", "line 2"), ("x1,x2\n", "no points"),
])
def test_predict_refuses_bad_points(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    content: str, part: str) -> None:
    points = tmp_path / "p.csv"
    points.write_text(content, encoding="utf-8")
    assert main(["predict", "--run", str(runs["csv"]), "--data", str(points), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert part in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_export_onnx_needs_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "--run" in capsys.readouterr().err
    assert main(["export", "onnx", "--run", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_python_export(runs: dict[str, Path], tmp_path: Path) -> None:
    path = export_onnx(load_run(runs["three"]), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path))
    assert session.get_outputs()[0].name == "probabilities"
    assert json.loads((runs["three"] / "summary.json").read_text())["status"] == "completed"
