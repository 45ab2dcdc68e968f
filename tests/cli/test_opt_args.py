"""--opt and --sched: duplicates and bad lists refused, one wording for optimizer and scheduler, values as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchground.cli import main
from torchground.errors import SpecError
from torchground.spec import parse_optimizer_args


def _err(argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    assert main(["train", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "r"), *argv]) == 2
    assert not (tmp_path / "r").exists()
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, name", [(["--opt", "momentum=0.9", "--opt", "momentum=0.5"], "momentum"),
                                        (["--scheduler", "step", "--sched", "step_size=5", "--sched", "step_size=6"], "step_size")])
def test_a_repeated_setting_is_refused(argv, name, capsys, tmp_path) -> None:
    assert f"{name} is given twice" in _err(["--lang", "en", *argv], capsys, tmp_path)


def test_a_repeated_setting_in_a_link_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        parse_optimizer_args(["step_size=5", "step_size=6"], error_key="server.url.bad_sched")
    assert caught.value.key == "optargs.duplicate"


def test_a_bad_list_names_the_value(capsys, tmp_path) -> None:
    err = _err(["--lang", "en", "--scheduler", "multistep", "--sched", "milestones=30,a"], capsys, tmp_path)
    assert "milestones=30,a: the value is not a number" in err and "write NAME=VALUE" not in err


def test_optimizer_and_scheduler_refusals_share_one_wording(capsys, tmp_path) -> None:
    opt = _err(["--lang", "en", "--opt", "foo=1"], capsys, tmp_path)
    sched = _err(["--lang", "en", "--scheduler", "step", "--sched", "foo=1"], capsys, tmp_path)
    assert "optimizer sgd has no setting foo; its settings are:" in opt
    assert "scheduler step has no setting foo; its settings are:" in sched


def test_values_are_shown_as_written(capsys, tmp_path) -> None:
    err = _err(["--lang", "en", "--opt", "momentum=0", "--opt", "nesterov=true"], capsys, tmp_path)
    assert "optimizer sgd refuses momentum=0 nesterov=true:" in err and "True" not in err
    err = _err(["--lang", "en", "--optimizer", "adam", "--opt", "betas=0.9,2.0"], capsys, tmp_path)
    assert "not 0.9,2.0" in err and "(0.9, 2.0)" not in err


def test_japanese_refusal_is_spaced(capsys, tmp_path) -> None:
    err = _err(["--lang", "ja", "--optimizer", "adam", "--opt", "betas=0.9,2.0"], capsys, tmp_path)
    assert "それぞれ 0 以上" in err and "）でなければ" in err
    err = _err(["--lang", "ja", "--opt", "momentum"], capsys, tmp_path)
    assert "NAME=VALUE" in err and "名前=値" not in err


def test_milestones_stay_whole_numbers(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["train", "--epochs", "1", "--device", "cpu", "--out", str(out), "--quiet",
                 "--scheduler", "multistep", "--sched", "milestones=60,30"]) == 0
    assert json.loads((out / "spec.json").read_text())["scheduler_args"]["milestones"] == [60, 30]
    assert all(isinstance(v, int) for v in json.loads((out / "spec.json").read_text())["scheduler_args"]["milestones"])


def test_japanese_bool_refusal_is_spaced(capsys, tmp_path) -> None:
    err = _err(["--lang", "ja", "--opt", "nesterov=3"], capsys, tmp_path)
    assert "true か false のどちらかでなければ" in err and "falseでなければ" not in err
