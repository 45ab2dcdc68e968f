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
