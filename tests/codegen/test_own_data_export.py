"""Exported code of your own data and of K classes reproduces the trainer's numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from torchground.codegen import to_script
from torchground.codegen.own_data import EMBED_ROWS
from torchground.data.spec_data import csv_fields
from torchground.spec import Spec
from torchground.train import train


def _file(tmp_path: Path, rows: int, labels: list[str], offset: float = 50.0) -> Path:
    rng = np.random.default_rng(rows)
    lines = ["x1,x2,label"]
    for i in range(rows):
        k = i % len(labels)
        lines.append(f"{offset + 4 * k + rng.normal()!r},{-offset + 3 * (k % 2) + rng.normal()!r},{labels[k]}")
    path = tmp_path / f"d{rows}.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def _specs(tmp_path: Path) -> dict[str, Spec]:
    small = _file(tmp_path, 120, ["cat", "dog", "emu"])
    big = _file(tmp_path, EMBED_ROWS + 10, ["1", "-1"])
    reg = tmp_path / "reg.csv"
    reg.write_text("x1,x2,label\n" + "".join(f"{i},{i % 7},{i * 0.01 - 0.3}\n" for i in range(60)), encoding="utf-8")
    return {
        "small_3_classes": Spec(**csv_fields(small), hidden=(5,), epochs=3, lr=0.1, device="cpu"),
        "big_2_classes_unscaled": Spec(**csv_fields(big, standardize=False), hidden=(3,), epochs=2, device="cpu"),
        "regression": Spec(**csv_fields(reg), epochs=3, device="cpu"),
        "blobs_4": Spec(dataset="blobs", classes=4, n_samples=160, epochs=3, device="cpu"),
        "spiral_k_5_multimargin": Spec(dataset="spiral-k", classes=5, n_samples=150, epochs=2, loss="multimargin", device="cpu"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["small_3_classes", "big_2_classes_unscaled", "regression", "blobs_4", "spiral_k_5_multimargin"])
def test_script_reproduces_the_run(tmp_path: Path, name: str) -> None:
    spec = _specs(tmp_path)[name]
    code = to_script(spec, lang="en")
    assert ("DATA_FILE" in code) == (name == "big_2_classes_unscaled")
    assert ("INPUT_MEAN" in code) == bool(spec.standardize)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "train.py").write_text(code, encoding="utf-8")
    env = dict(os.environ, TORCHGROUND_HISTORY_JSON=str(folder / "h.json"))
    proc = subprocess.run([sys.executable, "train.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((folder / "h.json").read_text())
    expected = train(spec).history.rows
    assert len(rows) == len(expected)
    for row, exp in zip(rows, expected):
        for key, value in row.items():
            if value is None:
                assert exp[key] is None
            else:
                assert value == pytest.approx(exp[key], abs=1e-6), key
