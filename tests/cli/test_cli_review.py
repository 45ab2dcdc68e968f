"""The command line's review items: sweep --quiet, --out folders, data --url pictures, link notices, Japanese help headings."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchground.cli import main


def test_sweep_quiet_prints_nothing_but_writes_its_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert main(["sweep", "--grid", "lr=0.01,0.1", "--epochs", "2", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "results.csv", "summary.json"]
    assert main(["sweep", "--grid", "lr=0.01,0.1", "--epochs", "2", "--device", "cpu", "--out", str(out), "--quiet",
                 "--optimizer", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err  # errors are still shown


@pytest.mark.parametrize(
    "argv, out",
    [
        (["train", "--epochs", "1", "--device", "cpu"], "new/deeper/run"),
        (["sweep", "--grid", "lr=0.1", "--epochs", "1", "--device", "cpu"], "new/deeper/sweep"),
        (["data", "circle"], "new/deeper/points.csv"),
        (["graph"], "new/deeper/graph.svg"),
        (["export", "script"], "new/deeper/train.py"),
    ],
)
def test_every_out_creates_missing_folders_and_says_so(argv, out, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--out", out]) == 0
    err = capsys.readouterr().err
    assert (tmp_path / out).exists() and "new/deeper/ did not exist; it was created for --out" in err
    assert main([*argv, "--out", out.replace("new", "other"), "--lang", "xx"]) == 2  # refused: nothing made
    assert not (tmp_path / "other").exists() and "did not exist" not in capsys.readouterr().err


def test_out_into_existing_folders_adds_no_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "circle", "--out", str(tmp_path / "p.csv")]) == 0
    assert "did not exist" not in capsys.readouterr().err


LINK = "https://playground.tensorflow.org/#dataset=xor&seed=0.5"


def test_data_from_a_link_speaks_of_rows_in_a_csv_and_of_dots_in_a_picture(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "--url", LINK, "--out", str(tmp_path / "p.png")]) == 0
    err = capsys.readouterr().err
    assert "rows" not in err and "250 training points and 250 test points" in err and "Drew the 500 points" in err
    assert main(["data", "--url", LINK, "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "rows 1 to 250" in err and "Wrote 500 points" in err
    assert main(["data", "--url", LINK, "--out", str(tmp_path / "p.svg"), "--lang", "ja"]) == 0
    err = capsys.readouterr().err
    assert "行" not in err and "描きました" in err


def test_train_from_a_link_says_what_its_flags_make_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--url", LINK, "--hidden", "9,9", "--epochs", "1", "--out", str(tmp_path / "a"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "differs from what TensorFlow Playground shows" in err and "hidden = 9,9" in err and "at most 8 neurons" in err
    argv = ["train", "--url", LINK, "--training-loop", "pytorch", "--optimizer", "adam", "--loss", "mse", "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "b"), "-q", "--lang", "ja"]) == 0
    err = capsys.readouterr().err
    assert "異なります" in err and "optimizer = adam" in err and "loss = mse" in err
    assert main(["train", "--url", LINK, "--epochs", "1", "--out", str(tmp_path / "c"), "-q"]) == 0
    assert "differs" not in capsys.readouterr().err  # the link as it is: nothing to say


@pytest.mark.parametrize("argv", [["--lang", "ja", "train", "--help"], ["train", "--lang", "ja", "--help"], ["--lang", "ja", "--help"]])
def test_japanese_help_has_japanese_headings(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("使い方: torchground") and "オプション:" in out and "このヘルプを表示して終了します。" in out
    assert "Usage:" not in out and "Options:" not in out and "Show this message" not in out
    if "train" not in argv:
        assert "コマンド:" in out and "Install completion" not in out
    else:
        assert "[既定: 0" in out and "default:" not in out  # Typer's bracketed extras too
    assert main([a for a in argv if a not in ("--lang", "ja")]) == 0
    english = capsys.readouterr().out
    assert english.startswith("Usage: torchground") and "Options:" in english and "使い方" not in english


def test_a_usage_error_in_japanese_has_the_japanese_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--lang", "ja", "--no-such-flag"]) == 2
    assert capsys.readouterr().err.startswith("使い方: torchground train")
