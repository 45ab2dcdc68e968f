"""The stacked engine on your own data: a standardised two-class file agrees with the trainer;
K classes are refused by name (the eager trainer trains them)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from torchground.data.spec_data import csv_fields
from torchground.engine import StackedGroup, train_fast
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train import train


def _two_classes(tmp_path: Path) -> Path:
    path = tmp_path / "two.csv"
    rows = [f"{2000 + (i % 13) * 0.7},{-400 + (i % 11) * 0.9},{'yes' if (i % 13) + (i % 11) > 11 else 'no'}" for i in range(120)]
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _worst(a, b) -> float:
    assert (a.epochs, a.status, a.steps) == (b.epochs, b.status, b.steps)
    worst = 0.0
    for ra, rb in zip(a.rows, b.rows):
        assert ra.keys() == rb.keys()
        for key, va in ra.items():
            vb = rb[key]
            if va is None or vb is None:
                assert va is vb, key
            elif not (isinstance(va, float) and math.isnan(va)):
                worst = max(worst, abs(va - vb))
    return worst


def test_a_standardised_file_agrees_with_the_trainer(tmp_path: Path) -> None:
    base = Spec(**csv_fields(_two_classes(tmp_path)), hidden=(4,), epochs=8, batch_size=10, device="cpu")
    specs = [base, base.replace(lr=0.1), base.replace(init_seed=3)]
    results = StackedGroup(specs).run()
    for spec, result in zip(specs, results):
        assert _worst(train(spec).history, result.history()) <= 1e-5


def test_k_classes_are_refused_by_name() -> None:
    with pytest.raises(TorchgroundError) as info:
        train_fast(Spec(dataset="blobs", classes=3, device="cpu"))
    assert info.value.key == "engine.unsupported" and info.value.params["value"] == "crossentropy"
    assert "eager trainer" in info.value.message("en")
