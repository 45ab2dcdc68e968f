"""The stacked engine's K-class histories carry per-epoch precision and recall, the trainer's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchground.cli import main
from torchground.engine import train_fast
from torchground.spec import Spec
from torchground.train import train


@pytest.mark.parametrize(
    "spec",
    [
        Spec(dataset="blobs", classes=4, epochs=2, device="cpu"),
        # a class never predicted (precision None), three sets, a rate that is not the last column's value
        Spec(dataset="spiral-k", classes=5, epochs=2, device="cpu", train_pct=60, val_pct=20, test_pct=20, lr=0.5),
    ],
)
def test_per_class_columns_match_the_trainer(spec: Spec) -> None:
    fast, eager = train_fast(spec).history, train(spec).history
    assert fast.columns == eager.columns
    per_class = [c for c in eager.columns if "_precision_" in c or "_recall_" in c]
    assert per_class and any(r[c] is not None for r in fast.rows for c in per_class)
    for got, want in zip(fast.rows, eager.rows, strict=True):
        assert got["lr"] == want["lr"]
        for c in per_class:
            assert (got[c] is None) == (want[c] is None), c
            if want[c] is not None:
                assert got[c] == pytest.approx(want[c], abs=1e-9), c


def test_train_engine_fast_writes_the_columns(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["train", "--engine", "fast", "--dataset", "blobs", "--epochs", "2", "--device", "cpu", "--out", str(out), "-q"]) == 0
    header, first = (out / "history.csv").read_text().splitlines()[:2]
    values = dict(zip(header.split(","), first.split(",")))
    assert values["train_precision_0"] and values["val_recall_1"] and values["lr"] == "0.03"
