"""The fused C kernel flushes subnormal numbers to zero (native.c's tg_epoch: x86's FTZ and
DAZ, for the kernel's threads only, restored after): a weight below float32's smallest normal
number reads and stays as 0 there, where the eager engine keeps it, and torch's own
arithmetic after the kernel still has its subnormals."""

from __future__ import annotations

import platform

import pytest
import torch

from torchground.engine import StackedGroup
from torchground.engine.net import layer_layout
from torchground.spec import Spec

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86's FTZ/DAZ")

SUBNORMAL = 1e-39  # below torch.finfo(torch.float32).tiny, above 0


def _run(fused: bool) -> torch.Tensor:
    """200 models 2-4-1 (relu), SGD without weight decay, 3 epochs; hidden unit 0 dead (bias −100)
    with subnormal incoming weights, whose gradient is then exactly 0. → the final parameters."""
    specs = [Spec(hidden=(4,), activation="relu", optimizer="sgd", lr=0.01, weight_decay=0.0, epochs=3, init_seed=i) for i in range(200)]
    group = StackedGroup(specs, fused=fused, compile=fused)
    w_off, _, n_in, b_off = layer_layout(group.net.sizes)[0]
    with torch.no_grad():
        group.net.params[:, w_off : w_off + n_in] = SUBNORMAL  # unit 0's weights (row 0 of the first layer)
        group.net.params[:, b_off] = -100.0
    group.run()
    assert group.path == ("fused" if fused else "eager")
    return group.net.params[:, w_off : w_off + n_in]


def test_the_kernel_flushes_subnormals_the_eager_engine_keeps():
    eager, fused = _run(False), _run(True)
    assert (eager == torch.tensor(SUBNORMAL)).all()  # no gradient reached them: unchanged
    assert (fused == 0).all()


def test_torch_keeps_its_subnormals_after_the_kernel():
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the kernel's OpenMP workers are torch's
    try:
        _run(True)
        # the calling thread's and the workers' floating-point mode were restored
        assert (torch.tensor([1e-38]) * 0.5).item() > 0
        assert (torch.full((1 << 20,), 1e-38) * 0.5 > 0).all()
    finally:
        torch.set_num_threads(before)
