"""Batch orders drawn in C (torchground.engine.batch_orders.NativeOrders) for compiled groups: the same
permutations as torch's generators, epoch after epoch and after models leave; a probe that
disagrees, or no library, leaves the drawing to torch."""

from __future__ import annotations

import shutil

import pytest
import torch

from torchground import Spec
from torchground.engine import StackedGroup
from torchground.engine import batch_orders
from torchground.engine.batch_orders import NATIVE_MIN_KEYS, BatchOrders, NativeOrders, agrees_with_torch, torch_orders

pytestmark = pytest.mark.skipif(not any(shutil.which(c) for c in ("gcc", "cc", "clang")), reason="no C compiler")


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path_factory.getbasetemp() / "kernels"))


def specs_with_seeds(count: int) -> list[Spec]:
    # every seventh loader does not shuffle; the seeds reach past 2³¹ (the generator takes 32 bits)
    return [Spec(shuffle_seed=(i * 2_654_435_761) % 2**32, shuffle=i % 7 != 3) for i in range(count)]


def test_the_c_draws_are_torchs():
    specs = specs_with_seeds(40)
    native, reference = BatchOrders(specs, 53, native=True), BatchOrders(specs, 53)
    assert native.native and not reference.native
    for _ in range(3):
        assert torch.equal(native.orders(), reference.orders())
    keep = [i for i in range(40) if i % 3 != 1]  # models leave: their generators stop
    native.select(keep)
    reference.select(keep)
    for _ in range(2):
        assert torch.equal(native.orders(), reference.orders())


def test_few_keys_or_eager_groups_draw_with_torch():
    assert not BatchOrders(specs_with_seeds(NATIVE_MIN_KEYS - 1), 20, native=True).native
    assert not BatchOrders(specs_with_seeds(NATIVE_MIN_KEYS), 20).native


def test_a_disagreeing_or_missing_library_leaves_torch_to_draw(monkeypatch):
    wrong = lambda keys, n, epochs: [torch.arange(n).repeat(len(keys), 1)] * epochs  # noqa: E731
    assert agrees_with_torch(torch_orders) and not agrees_with_torch(wrong)

    def no_library():
        raise RuntimeError("no C compiler found (gcc, cc, clang or $CC)")

    monkeypatch.setattr(batch_orders, "_library", no_library)
    assert not agrees_with_torch.__wrapped__(torch_orders)
    with pytest.raises(RuntimeError):
        NativeOrders([1, 2], 10)


@pytest.mark.slow
def test_a_compiled_group_with_many_shuffle_seeds_trains_as_the_eager_engine():
    specs = [Spec(hidden=(3,), n_samples=40, batch_size=7, epochs=3, shuffle_seed=i, init_seed=i) for i in range(NATIVE_MIN_KEYS + 4)]
    group = StackedGroup(specs, compile=True)
    fast = group.run()
    assert group.orders.native
    for plain, mine in zip(StackedGroup(specs).run(), fast):
        assert plain.steps == mine.steps
        for a, b in zip(plain.history().rows, mine.history().rows):
            assert abs(a["train_loss"] - b["train_loss"]) <= 1e-5 and abs(a["val_loss"] - b["val_loss"]) <= 1e-5


@pytest.mark.slow
def test_models_leaving_a_compiled_group_keep_the_others_orders():
    """A model diverges and leaves the group: the C streams of the others go on as torch's would."""
    base = Spec(activation="relu", output_activation="identity", n_samples=60, batch_size=6, epochs=6)
    specs = [base.replace(shuffle_seed=i, init_seed=i, lr=50.0 if i == 5 else 0.03) for i in range(NATIVE_MIN_KEYS + 2)]
    group = StackedGroup(specs, compile=True)
    fast = group.run()
    assert group.orders.native and fast[5].status == "diverged"
    for plain, mine in zip(StackedGroup(specs).run(), fast):
        assert plain.status == mine.status and plain.steps == mine.steps
        for a, b in zip(plain.history().rows, mine.history().rows):
            if plain.status == "completed":
                assert abs(a["train_loss"] - b["train_loss"]) <= 1e-5 and abs(a["val_loss"] - b["val_loss"]) <= 1e-5
