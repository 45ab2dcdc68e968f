"""Your own data on the command line: --data FILE.csv for train, sweep, export, graph and data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchground.cli import main

THREE = "x1,x2,label\n" + "".join(
    f"{500 + 9 * (i % 3) + (i % 5) * 0.4},{-300 + 7 * ((i % 3) == 1) + (i % 7) * 0.3},{('red', 'green', 'blue')[i % 3]}\n"
    for i in range(120)
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def three(tmp_path: Path) -> Path:
    path = tmp_path / "three.csv"
    path.write_text(THREE, encoding="utf-8")
    return path


@pytest.mark.slow
def test_train_on_a_file_and_repeat_from_the_run_folder(capsys, tmp_path, three):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "--data", str(three), "--hidden", "6", "--epochs", "12", "--lr", "0.1",
                          "--out", str(out), "--json", "--quiet")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["class_names"] == ["red", "green", "blue"] and len(summary["confusion"]["val"]) == 3
    spec = json.loads((out / "spec.json").read_text())
    assert spec["data_file"] == "data.csv" and spec["classes"] == 3 and spec["loss"] == "crossentropy"
    assert (out / "data.csv").read_text() == THREE and len(spec["data_sha256"]) == 64
    assert "val_precision_2" in (out / "history.csv").read_text().splitlines()[0]
    again = tmp_path / "again"
    code, _, _ = run(capsys, "train", "--config", str(out / "spec.json"), "--out", str(again), "--quiet")
    assert code == 0
    assert (again / "history.csv").read_text() == (out / "history.csv").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    "text, fragment",
    [
        ("1,2,a\n3,4,b\n", "line 1"),
        ("x1,x2,label\n1,2,a\n3,4\n", "line 3"),
        ("x1,x2,label\n1,2,a\n3,inf,b\n", "line 3"),
        ("x1,x2,label\n1,2,a\n3,4,a\n", "two classes"),
        ("x1,x2,label\n", "no data rows"),
    ],
)
def test_bad_files_exit_2_and_write_nothing(capsys, tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, stderr = run(capsys, "train", "--data", str(path), "--out", str(out))
    assert code == 2 and fragment in stdout + stderr and "Traceback" not in stdout + stderr
    assert not out.exists()


@pytest.mark.slow
def test_problem_and_no_standardize(capsys, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{i % 9},{i % 4},{1 + i % 2}\n" for i in range(40)), encoding="utf-8")
    out = tmp_path / "r"
    code, _, _ = run(capsys, "train", "--data", str(path), "--problem", "classification", "--no-standardize",
                     "--epochs", "2", "--out", str(out), "--quiet")
    assert code == 0
    spec = json.loads((out / "spec.json").read_text())
    assert spec["problem"] == "classification" and spec["classes"] == 2 and spec["standardize"] is False
    assert spec["class_names"] == ["1", "2"] and spec["input_mean"] is None


def test_export_graph_and_data_take_the_file(capsys, tmp_path, three):
    script = tmp_path / "train.py"
    code, _, _ = run(capsys, "export", "script", "--data", str(three), "--out", str(script))
    assert code == 0 and "DATA_CSV" in script.read_text() and "CrossEntropyLoss" in script.read_text()
    code, stdout, _ = run(capsys, "graph", "--data", str(three), "--values")
    assert code == 0 and "LogSoftmaxBackward0" in stdout
    picture = tmp_path / "three.png"
    code, _, _ = run(capsys, "data", "--data", str(three), "--out", str(picture))
    assert code == 0 and picture.stat().st_size > 1000
    blobs = tmp_path / "blobs.csv"
    code, _, _ = run(capsys, "data", "blobs", "--classes", "5", "--out", str(blobs))
    assert code == 0 and len(blobs.read_text().splitlines()) == 501


def test_sweep_of_a_two_class_file(capsys, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{1000 + i % 10},{i % 7},{'yes' if i % 10 > 4 else 'no'}\n" for i in range(60)),
                    encoding="utf-8")
    out = tmp_path / "sweep"
    code, stdout, stderr = run(capsys, "sweep", "--data", str(path), "--grid", "lr=0.03,0.3", "--epochs", "3",
                               "--batch-size", "full", "--out", str(out))
    assert code == 0, stdout + stderr
    assert out.exists()
