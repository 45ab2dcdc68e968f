"""native.c built in parts (native.PARTS, compiled side by side and linked) trains exactly as
the same source built whole: the same per-epoch metrics and final weights, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchground.engine import StackedGroup
from torchground.engine.kernels import native
from torchground.spec import Spec

CASES = {
    # 160 models: more than one thread's share (native.MIN_MODELS_PER_THREAD), where cores are free
    "tanh-sgd-one-order": [Spec(hidden=(8, 8), batch_size=10, epochs=3, init_seed=i, lr=0.01 * (1 + i % 5)) for i in range(160)],
    "relu-adam-own-orders-last-batch": [
        Spec(hidden=(6, 3), activation="relu", optimizer="adam", batch_size=7, epochs=3, init_seed=i, shuffle_seed=i, lr=0.01)
        for i in range(20)
    ],
    "sigmoid-regression-l1-momentum": [
        Spec(problem="regression", dataset="reg-plane", hidden=(5,), activation="sigmoid", l1=0.001,
             optimizer="sgd", optimizer_args={"momentum": 0.9}, batch_size=10, epochs=3, init_seed=i)
        for i in range(24)
    ],
}


def _train(specs: list[Spec]) -> tuple[np.ndarray, torch.Tensor]:
    group = StackedGroup(specs, fused=True, compile=True)
    results = group.run()
    assert group.path == "fused"
    return np.stack([r.metrics for r in results]), torch.stack([r.params for r in results])


@pytest.mark.parametrize("name", sorted(CASES))
def test_parts_train_as_the_whole(name, monkeypatch):
    parts = _train(CASES[name])
    monkeypatch.setattr(native, "PARTS", 1)
    whole = _train(CASES[name])
    assert native.PARTS == 1 and np.array_equal(parts[0], whole[0], equal_nan=True)
    assert torch.equal(parts[1], whole[1])
