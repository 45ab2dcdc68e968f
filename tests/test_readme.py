"""Every example in the README runs: the Python tour, and each `torchground` command line."""

import re
import shlex
import shutil
import warnings
from pathlib import Path

import pytest

from torchground.cli import main
from torchground.spec import Spec

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def _commands() -> list[str]:
    lines = []
    for block in _blocks("bash"):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("torchground "):
                lines.append(line)
    return lines


def test_readme_opens_with_make_run_and_make_test():
    head = README.read_text(encoding="utf-8").split("\n## ")[0]
    assert "make run" in head and "make test" in head


def test_python_tour_runs():
    (code,) = _blocks("python")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # our own README, not user input
    assert namespace["run"].history.epochs == 50
    assert namespace["history"].status in ("completed", "early_stopped")


# Examples that train (or sweep, or need a trained run) are marked slow: `make test-fast` runs the others.
_TRAINING = ("train", "sweep", "lesson", "predict")


def _example(command: str) -> object:
    trains = shlex.split(command)[1] in _TRAINING or "runs/demo" in command
    return pytest.param(command, marks=pytest.mark.slow) if trains else command


@pytest.mark.parametrize("command", [_example(c) for c in _commands()])
def test_cli_example_runs(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my.toml").write_text(Spec(epochs=5).to_toml(), encoding="utf-8")
    if "--run runs/demo" in command:  # examples that use a finished run and a points file: made first
        assert main(["train", "--epochs", "3", "--out", "runs/demo", "--quiet"]) == 0
    if "--data points.csv" in command:
        assert main(["data", "circle", "--out", "points.csv"]) == 0
    argv = shlex.split(command)[1:]
    with warnings.catch_warnings():
        if shutil.which("c++") or shutil.which("g++"):  # then the compiled engine must compile, not fall back
            warnings.filterwarnings("error", message="torch.compile failed")
        status = main(argv)
    expected = 2 if "--hidden 3,300" in command else 0
    assert status == expected, command
