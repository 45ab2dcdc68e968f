"""export onnx and predict refuse an --out that is not a file of their kind (exit 2, nothing written)."""

import pytest

from torchground.cli import main  # imported at collection, before the autouse English fixture runs


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "run"
    assert main(["train", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("argv, words", [
    (["export", "onnx", "--out", "-"], "--out -: not allowed. Allowed: a file name ending in .onnx"),
    (["export", "onnx", "--out", "m.txt"], "--out m.txt: not allowed"),
    (["predict", "--data", "p.csv", "--out", "-"], "--out -: not allowed. Allowed: a file name ending in .csv"),
    (["predict", "--data", "p.csv", "--out", "preds.txt"], "--out preds.txt: not allowed"),
])
def test_out_of_the_wrong_kind_is_refused(run_folder, tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("x1,x2\n0,0\n", encoding="utf-8")
    code = main([*argv, "--run", str(run_folder)])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]


def test_one_point_is_one_point(run_folder, tmp_path, capsys):
    (tmp_path / "p.csv").write_text("x1,x2\n0.5,-1\n", encoding="utf-8")
    assert main(["predict", "--run", str(run_folder), "--data", str(tmp_path / "p.csv"), "--out", str(tmp_path / "o.csv")]) == 0
    assert "for 1 point to" in capsys.readouterr().err
