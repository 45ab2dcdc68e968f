"""Click's usage errors and the command list in the command's language; --help and --version whatever the environment."""

from __future__ import annotations

import pytest

from torchground.cli import main


def test_unknown_option_is_refused_in_japanese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "ja", "train", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "使い方:" in err and "ヘルプは 'torchground train --help' で表示できます。" in err
    assert "エラー: そのようなオプションはありません: --bogus" in err
    assert "Try '" not in err and "Error:" not in err and "No such option" not in err


def test_unknown_command_is_refused_in_japanese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "ja", "trian"]) == 2
    err = capsys.readouterr().err
    assert "そのようなコマンドはありません: 'trian'。'train' のことですか？" in err
    assert "No such command" not in err and "Try '" not in err


def test_unknown_option_in_english_keeps_clicks_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "en", "train", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "Usage: torchground train" in err and "Try 'torchground train --help' for help." in err
    assert "Error: No such option: --bogus" in err


def test_missing_value_is_refused_in_japanese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "ja", "train", "--epochs"]) == 2
    assert "オプション '--epochs' には値が必要です。" in capsys.readouterr().err


def test_japanese_command_list_is_not_cut(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "ja", "--help"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch 入門のレッスンを実行します。" in out
    assert "..." not in out.split("コマンド:")[1]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"]])
def test_bad_threads_do_not_block_help_or_version(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TORCHGROUND_THREADS", "abc")
    assert main(argv) == 0
    assert "TORCHGROUND_THREADS" not in capsys.readouterr().err


def test_bad_threads_still_refuse_a_command_in_japanese(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TORCHGROUND_THREADS", "abc")
    assert main(["--lang", "ja", "list", "activations"]) == 2
    assert "エラー: TORCHGROUND_THREADS=abc" in capsys.readouterr().err


def test_sweep_summary_uses_singular_for_one(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "en", "sweep", "--grid", "lr=0.1", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "Trained 1 model in 1 group:" in out and "1 models" not in out and "1 groups" not in out


def test_no_fused_on_the_eager_engine_is_refused(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["--lang", "en", "train", "--no-fused", "--epochs", "1", "--device", "cpu", "--out", str(out)]) == 2
    assert "--no-fused applies to --engine fast or compiled" in capsys.readouterr().err
    assert not out.exists()


def test_eager_summary_names_its_path(tmp_path) -> None:
    import json

    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["path"] == "trainer"


@pytest.mark.parametrize("argv, expected", [
    (["--lang", "ja", "train", "--log-every", "abc"], "エラー: '--log-every' の値が正しくありません: 整数ではありません"),
    (["--lang", "ja", "train", "--log-every", "-1"], "エラー: '--log-every' の値が正しくありません: 0 以上にしてください"),
    (["--lang", "ja", "lesson"], "エラー: 引数 'number' がありません。"),
    (["--lang", "en", "train", "--log-every", "abc"], "Error: Invalid value for '--log-every': not a whole number"),
])
def test_parameter_errors_are_in_the_command_language(argv, expected, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Input should" not in err
