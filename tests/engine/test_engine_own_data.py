"""The stacked engine on your own data and K classes: agreement with the eager trainer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

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


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-9)])
def test_k_classes_agree_with_the_trainer(dtype: str, tol: float) -> None:
    base = Spec(dataset="blobs", classes=4, n_samples=200, noise=20, hidden=(5, 3), epochs=6, batch_size=10,
                dtype=dtype, device="cpu")
    groups = [[base, base.replace(lr=0.1), base.replace(init_seed=2)], [base.replace(optimizer="adam", lr=0.01)]]
    for specs in groups:
        _agree(specs, tol)


def _agree(specs: list[Spec], tol: float) -> None:
    for spec, result in zip(specs, StackedGroup(specs).run()):
        reference = train(spec)
        rows, expected = result.history().rows, reference.history.rows
        assert len(rows) == len(expected) == 6
        for row, exp in zip(rows, expected):
            for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
                assert abs(row[key] - exp[key]) <= tol, (key, row[key], exp[key])
        params = torch.cat([p.detach().flatten() for p in reference.model.parameters()])
        torch.testing.assert_close(result.params, params, rtol=0, atol=tol * 10)


def test_k_classes_compiled_fall_back_to_the_eager_engine() -> None:
    spec = Spec(dataset="spiral-k", classes=3, n_samples=150, epochs=3, device="cpu")
    fast, compiled = train_fast(spec), train_fast(spec, compile=True)
    assert fast.history.rows == compiled.history.rows  # the same group, trained eagerly
    assert fast.summary["confusion"]["val"] == train(spec).summary["confusion"]["val"]  # the final model's
    assert fast.summary["class_names"] == ["0", "1", "2"]


def test_k_class_losses_without_engine_ops_are_refused_by_name() -> None:
    with pytest.raises(TorchgroundError) as info:
        train_fast(Spec(dataset="blobs", classes=3, loss="multimargin", device="cpu"))
    assert info.value.key == "engine.unsupported" and info.value.params["value"] == "multimargin"
    assert "crossentropy" in info.value.message("en")
