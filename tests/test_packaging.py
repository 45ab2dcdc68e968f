"""Packaging metadata: an SPDX license with its file, classifiers, the extras; the wheel builds without deprecation warnings."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_license_is_an_spdx_expression_with_its_file() -> None:
    project = PROJECT["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # superseded by the expression
    floor = next(r for r in PROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    assert int(floor.split(">=")[1].split(".")[0]) >= 77  # the first setuptools that reads license-files


def test_extras() -> None:
    extras = PROJECT["project"]["optional-dependencies"]
    assert {"onnx", "tensorboard", "all", "test"} <= set(extras)
    assert extras["all"] == [f"torchground[{','.join(sorted(set(extras) - {'all', 'test'}, key=list(extras).index))}]"]
    for needed in ("onnxruntime", "tensorboard", "onnx", "onnxscript"):
        assert any(r.startswith(needed + ">") for r in extras["test"]), needed


@pytest.mark.slow
def test_the_wheel_builds_without_deprecation_warnings(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SetuptoolsDeprecationWarning" not in done.stdout + done.stderr
    assert "License" not in "".join(line for line in (done.stdout + done.stderr).splitlines() if "deprecat" in line.lower())
    assert list(tmp_path.glob("torchground-*.whl"))
