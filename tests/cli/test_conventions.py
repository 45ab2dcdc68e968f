"""Command-line conventions: --version, python -m, completion, typed placeholders, exit statuses, plurals, NO_COLOR, list --json."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from torchground import __version__
from torchground.cli import main
from torchground.i18n import plural

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": SRC, "TORCHGROUND_LANG": "en", "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "torchground", *args], capture_output=True, text=True, env=full, timeout=300)


@pytest.mark.slow
def test_version_and_python_m(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"torchground {__version__}"
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"torchground {__version__}"


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--install-completion" in out and "--show-completion" in out


def test_placeholders_name_the_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for flag, kind in (("--lr", "FLOAT"), ("--epochs", "INTEGER"), ("--out", "PATH"), ("--log-every", "INTEGER"),
                       ("--batch-size", "INTEGER|full"), ("--resume", "RUN"), ("--scheduler", "NAME")):
        assert re.search(rf"{re.escape(flag)} {re.escape(kind)}\b", out), (flag, kind)
    assert "<str>" not in out and "<int" not in out and "<path>" not in out
    assert "3 the run diverged" in " ".join(out.split())  # the exit statuses are documented in the help


def test_plurals() -> None:
    assert plural("clix.epochs", 1) == "1 epoch" and plural("clix.epochs", 3) == "3 epochs"
    assert plural("clix.steps", 1) == "1 step"


@pytest.mark.slow
def test_finished_one_epoch_in_english(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epochs", "1", "--batch-size", "full", "--device", "cpu", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Finished 1 epoch (1 step) in" in out


@pytest.mark.slow
def test_exit_statuses(tmp_path: Path) -> None:
    assert main(["train", "--epochs", "0"]) == 2
    diverged = main(["train", "--dataset", "reg-plane", "--lr", "3", "--n-samples", "200", "--epochs", "5", "--device", "cpu",
                     "--out", str(tmp_path / "d"), "--quiet"])
    assert diverged == 3
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["status"] == "diverged"


@pytest.mark.slow
def test_no_color_is_respected() -> None:
    colour = re.compile(r"\x1b\[(?:\d+;)*3\dm")  # a foreground colour
    forced = _cli("train", "--epochs", "0", env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"})
    assert forced.returncode == 2 and colour.search(forced.stderr), forced.stderr
    plain = _cli("train", "--epochs", "0", env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert plain.returncode == 2 and "Error:" in plain.stderr and not colour.search(plain.stderr), plain.stderr


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "activations", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    names = {e["name"]: e for e in entries}
    assert names["tanh"]["usable"] is True and names["softmax"]["usable"] is False and names["softmax"]["reason"]
    for kind in ("losses", "optimizers", "inits", "datasets", "features", "presets", "schedulers"):
        assert main(["list", kind, "--json"]) == 0
        assert isinstance(json.loads(capsys.readouterr().out), list)
