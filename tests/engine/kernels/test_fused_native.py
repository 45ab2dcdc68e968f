"""The fused C steps (torchground.engine.kernels.native), the CPU's default with compile=True:
the same results as the eager engine, every compiled epoch fused and the first one checked,
a disagreeing kernel or a missing compiler refused with a warning, builds cached whole."""

from __future__ import annotations

import math
import shutil
import warnings

import pytest
import torch

from torchground import Spec
from torchground.engine import StackedGroup
from torchground.engine.kernels import native as fused_native
from torchground.engine.kernels.dispatch import CompiledEpoch, Path
from torchground.engine.kernels.native import NativeSteps, build, cache_dir
from torchground.i18n import set_language

from fused_cases import CASES as SHARED_CASES

pytestmark = pytest.mark.skipif(
    not any(shutil.which(c) for c in ("gcc", "cc", "clang")), reason="no C compiler: the engine uses Inductor or trains eagerly"
)

CASES = {
    **SHARED_CASES,
    # 200 models 2-8-8-1, AdamW, three batch orders: the models are spread over OpenMP's threads
    "adamw-200": [Spec(hidden=(8, 8), optimizer="adamw", lr=0.01, weight_decay=0.01, n_samples=60, batch_size=7, epochs=3,
                       init_seed=i, shuffle_seed=i % 3) for i in range(200)],
    # the curriculum's recipe, one model
    "curriculum": [Spec(epochs=3)],
    # classification with a test set and no validation set, the full batch, a sigmoid output
    "test-only-full-batch": [Spec(hidden=(2,), output_activation="sigmoid", n_samples=50, train_pct=60, val_pct=0, test_pct=40,
                                  batch_size="full", epochs=3, init_seed=i) for i in range(4)],
}


@pytest.fixture(autouse=True)
def _kernel_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path_factory.getbasetemp() / "kernels"))
    set_language("en")


def run(specs: list[Spec]) -> tuple[StackedGroup, list, list[str]]:
    group = StackedGroup(specs, compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = group.run()
    return group, results, [str(w.message) for w in caught if "fused" in str(w.message)]


def worst_difference(a: list, b: list) -> float:
    return max(abs(x[k] - y[k]) for p, q in zip(a, b) for x, y in zip(p.history().rows, q.history().rows)
               for k in x if k != "epoch" and x[k] is not None and not math.isnan(x[k]))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "fused_epochs"), [("sgd-shared", 3), ("adam-orders", 3), ("momentum-l2", 3), ("adamw-200", 3),
                                                     ("curriculum", 3),
                                                     ("own-data-val-test", 3), ("test-only-full-batch", 3),
                                                     ("l1-dead-weights", 3)])
def test_fused_steps_agree_with_the_eager_engine(name, fused_epochs):
    specs = CASES[name]
    group, fast, messages = run(specs)
    plain = StackedGroup(specs).run()
    assert isinstance(group._compiled._kernel, NativeSteps) and group._compiled.fused_epochs == fused_epochs
    assert group._compiled.path is Path.FUSED
    assert not messages
    assert [r.steps for r in fast] == [r.steps for r in plain]
    assert worst_difference(plain, fast) <= 1e-5
    assert all(torch.allclose(p.params, f.params, atol=1e-5) for p, f in zip(plain, fast))
    if name == "l1-dead-weights":  # the rule took weights out, the same ones as the eager engine
        reference = StackedGroup(specs)
        reference.run()
        assert group.net.dead.any() and torch.equal(group.net.dead, reference.net.dead)


@pytest.mark.slow
@pytest.mark.parametrize("vector", [4, 8])
def test_narrower_vectors_agree(vector, monkeypatch):
    """Machines without AVX-512 build 8 models to a vector; 4 is the narrowest."""
    monkeypatch.setattr(fused_native, "_vector_width", lambda: vector)
    specs = CASES["adamw-200"][:37]  # a partial last vector, three orders
    group, fast, messages = run(specs)
    assert group._compiled._kernel.vector == vector and group._compiled.fused_epochs == 3 and not messages
    assert worst_difference(StackedGroup(specs).run(), fast) <= 1e-5


@pytest.mark.slow
def test_groups_outside_the_scope_use_inductor():
    specs = CASES["not-covered"]
    group, fast, messages = run(specs)
    assert group._compiled.path is Path.INDUCTOR and group._compiled._kernel is None
    assert group._compiled.fused_epochs == 0 and group._compiled.epochs == 3 and not messages
    assert worst_difference(StackedGroup(specs).run(), fast) <= 1e-5


def test_a_diverging_model_leaves_the_others_training():
    base = Spec(activation="relu", output_activation="identity", epochs=8, n_samples=120)
    specs = [base, base.replace(lr=50.0), base.replace(lr=0.01, init_seed=3)]
    group, fast, messages = run(specs)
    assert [r.status for r in fast] == ["completed", "diverged", "completed"] and group._compiled.fused_epochs > 0
    plain = StackedGroup(specs).run()
    assert fast[1].history().epochs == plain[1].history().epochs
    assert worst_difference([plain[0], plain[2]], [fast[0], fast[2]]) <= 1e-5


@pytest.mark.slow
def test_a_kernel_that_disagrees_is_refused(monkeypatch):
    original = NativeSteps._launch

    def wrong(self, *args):
        original(self, *args)
        self.twin.params.add_(0.01)

    monkeypatch.setattr(NativeSteps, "_launch", wrong)
    specs = CASES["sgd-shared"]
    group, fast, messages = run(specs)
    assert group._compiled.fused_epochs == 0 and group._compiled.path is Path.INDUCTOR  # refused: never again in this group
    assert len(messages) == 1 and "fused steps are not used" in messages[0] and "differs from the eager steps" in messages[0]
    assert worst_difference(StackedGroup(specs).run(), fast) <= 1e-5  # the checked epoch redone eagerly, then Inductor


@pytest.mark.slow
def test_without_a_compiler_the_group_trains_on(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    specs = CASES["sgd-shared"][:3]
    group, fast, messages = run(specs)
    assert group._compiled.fused_epochs == 0 and len(messages) == 1 and "/nonexistent/cc" in messages[0]
    assert worst_difference(StackedGroup(specs).run(), fast) <= 1e-5


@pytest.mark.slow
def test_builds_are_cached_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    specs = [Spec(hidden=(5,), n_samples=30, batch_size=4, epochs=2, init_seed=i) for i in range(2)]
    run(specs)
    built = sorted(p.name for p in cache_dir().iterdir())
    assert len(built) == 3 and built[0].startswith("native_") and built[0].endswith(".c")  # the source, with its rules
    assert built[1].startswith("steps-") and built[1].endswith(".so")  # no temporary files left
    assert built[2] == built[1] + ".sha256"  # the library's hash, recorded when it was built
    stamp = (cache_dir() / built[1]).stat().st_mtime_ns
    run(specs)
    assert sorted(p.name for p in cache_dir().iterdir()) == built and (cache_dir() / built[1]).stat().st_mtime_ns == stamp


def test_an_unwritable_cache_falls_back_to_the_temporary_directory(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a directory")
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "a-file" / "cache"))
    group, fast, messages = run(CASES["sgd-shared"][:2])
    assert group._compiled.fused_epochs == 3 and not messages
    assert (tmp_path / "a-file").read_text() == "not a directory"


def test_a_failed_build_names_the_compiler_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"failed with exit status \d+: \S") as failed:
        build({"NL": 1})  # most constants missing: the compiler refuses the source
    assert "\n" not in str(failed.value)  # the first line on stderr only
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".so"]


def test_compiled_epoch_kernel_choice():
    assert CompiledEpoch("cpu").fused == "native" and CompiledEpoch("cuda").fused == "triton"
    assert CompiledEpoch("cpu", fused=False).fused is False
