"""CLI tests for TensorFlow Playground links: train --url, data --url, export url."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from torchground.cli import main
from torchground.data.csv_io import read_csv
from torchground.spec import Spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"


def reference(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_train_url_runs_tf_playgrounds_curve(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ref = reference("reg-gauss-relu")
    out = tmp_path / "r"
    code, stdout, err = run(capsys, "train", "--url", ref["url"], "--epochs", "4", "--device", "cpu", "--out", str(out), "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["epochs"] == 4
    assert abs(summary["train_loss"] - ref["losses"][3][0]) <= 1e-12
    assert abs(summary["test_loss"] - ref["losses"][3][1]) <= 1e-12
    saved = Spec.from_json((out / "spec.json").read_text(encoding="utf-8"))
    assert saved.training_loop == "tf-playground" and saved.tf_playground_seed == "0.13579"


@pytest.mark.slow
def test_train_url_with_the_fast_engine_falls_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "train", "--url", "#seed=1&networkShape=2", "--epochs", "1", "--engine", "fast",
                       "--out", str(tmp_path / "f"), "--quiet")
    assert code == 0, err
    assert "eager trainer" in err


@pytest.mark.parametrize(
    "link, parts",
    [
        ("#speed=3&activation=tanh", ["speed", "Known:", "batchSize"]),
        ("#activation=softmax", ["activation=softmax", "relu, tanh, sigmoid, linear"]),
        ("#networkShape=4,,2", ["networkShape"]),
        ("#percTrainData=95&seed=1", ["percTrainData", "train_pct = 95"]),
    ],
)
def test_bad_links_exit_2_naming_the_parameter(capsys: pytest.CaptureFixture[str], tmp_path: Path, link: str, parts: list[str]) -> None:
    out = tmp_path / "never"
    code, stdout, err = run(capsys, "train", "--url", link, "--out", str(out))
    assert code == 2 and "Traceback" not in stdout + err
    for part in parts:
        assert part in err
    assert not out.exists()


def test_url_and_preset_do_not_mix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "train", "--url", "#seed=1", "--preset", "playground", "--out", str(tmp_path / "x"))
    assert code == 2 and "--preset" in err


def test_data_url_writes_tf_playgrounds_points_in_its_order(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ref = reference("spiral-features-l1")
    path = tmp_path / "points.csv"
    code, _, err = run(capsys, "data", "--url", ref["url"], "--out", str(path))
    assert code == 0, err
    ds = read_csv(path)
    want = np.array(ref["train"] + ref["test"])
    assert np.abs(np.c_[ds.points, ds.labels] - want).max() <= 1e-12
    assert "250" in err


def test_data_needs_a_name_or_a_url(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "data", "circle", "--url", "#seed=1", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "--url" in err
    code, _, err = run(capsys, "data", "--out", str(tmp_path / "x.csv"))
    assert code == 2


def test_data_url_without_seed_names_the_fresh_seed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "data", "--url", "https://playground.tensorflow.org/#dataset=xor", "--out", str(tmp_path / "x.png"))
    assert code == 0
    assert "seed=" in err and (tmp_path / "x.png").stat().st_size > 0


@pytest.mark.parametrize("name", ["default-circle", "reg-gauss-relu", "spiral-features-l1"])
def test_export_url_gives_the_link_back(capsys: pytest.CaptureFixture[str], name: str) -> None:
    url = reference(name)["url"]
    code, stdout, err = run(capsys, "export", "url", "--url", url)
    assert code == 0, err
    assert stdout == url + "\n"


def test_export_url_of_a_preset_and_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "link.txt"
    code, _, err = run(capsys, "export", "url", "--preset", "playground", "--tf-playground-seed", "0.80000", "--out", str(path))
    assert code == 0, err
    assert path.read_text(encoding="utf-8") == reference("default-circle")["url"] + "\n"


def test_export_url_names_what_tf_playground_cannot_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = run(capsys, "export", "url", "--optimizer", "adam", "--lang", "en")
    assert code == 2 and stdout == ""
    for part in ("training_loop = pytorch", "optimizer = adam", "tf_playground_seed"):
        assert part in err


def test_export_script_writes_tf_playgrounds_loop_and_a_links_stream(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "export", "script", "--preset", "playground", "--out", "-")
    assert code == 0, err
    assert "def accumulate(x, y):" in out and "optim.SGD" not in out and "DataLoader(" not in out
    code, out, err = run(capsys, "export", "script", "--url", "#seed=0.5", "--out", "-")
    assert code == 0, err
    assert "TF_SEED = '0.5'" in out and "class PlaygroundRandom" in out
