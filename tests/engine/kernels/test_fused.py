"""The fused Triton steps and metrics (torchground.engine.kernels.triton_steps) inside the engine, on CPU through
Triton's interpreter: the same results as the eager engine, the first fused epoch checked,
a disagreeing kernel refused. Skipped where Triton is not installed (it is in the test extra).

Each case runs in a subprocess: the interpreter is chosen when the kernels are defined
(TRITON_INTERPRET=1 before the first import of the module).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("triton")

SCRIPT = textwrap.dedent(
    """
    import json, math, sys, warnings
    import torch
    from torchground import Spec
    from torchground.engine import StackedGroup
    from torchground.engine.kernels.dispatch import CompiledEpoch
    from torchground.engine.kernels.triton_steps import TritonSteps
    from torchground.i18n import set_language

    set_language("en")

    sys.path.insert(0, sys.argv[2])  # tests/, for the cases both kernels are tested on
    from fused_cases import CASES

    name, kernels = sys.argv[1], sys.argv[3]
    if kernels == "tiled":  # every net above the unrolled kernels' size: the tiled kernels
        import torchground.engine.kernels.triton_unrolled as unrolled
        unrolled.MAX_PARAMS = 0
    if name == "corrupted":  # a kernel that gets the parameters wrong must be refused
        original = TritonSteps.epoch
        def wrong(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            self.twin.params.add_(0.01)
            return out
        TritonSteps.epoch = wrong
        specs = CASES["sgd-shared"]
    else:
        specs = CASES[name]
    group = StackedGroup(specs, compile=True)
    group._compiled = CompiledEpoch("cpu", fused="triton")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fast = group.run()
    plain = StackedGroup(specs).run()
    # a diverging model amplifies rounding without bound: models that completed are compared
    worst = max(abs(a[k] - b[k]) for p, f in zip(plain, fast) if p.status == "completed" for a, b in zip(p.history().rows, f.history().rows)
                for k in a if k != "epoch" and a[k] is not None and not math.isnan(a[k]))
    kernel = group._compiled._kernel
    print(json.dumps({"fused_epochs": group._compiled.fused_epochs, "worst": worst,
                      "unrolled": kernel.unrolled if kernel else None, "status": [r.status for r in fast],
                      "epochs": [r.history().epochs for r in fast] == [r.history().epochs for r in plain],
                      "warnings": [str(w.message) for w in caught], "steps": [r.steps for r in fast] == [r.steps for r in plain]}))
    """
)


def run_case(name: str, kernels: str = "unrolled") -> dict:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, name, os.path.dirname(__file__), kernels], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "fused_epochs", "kernels"),
    [(name, 3, kernels) for name in ("sgd-shared", "adam-orders", "momentum-l2", "own-data-val-test", "l1-dead-weights")
     for kernels in ("unrolled", "tiled")] + [("not-covered", 0, "unrolled")],
)
def test_fused_steps_agree_with_the_eager_engine(name, fused_epochs, kernels):
    """Every compiled epoch is fused (steps and metrics), the first one checked against a few
    models' eager steps; SGD with momentum starts compiling at its second epoch. Every metric
    (losses, accuracy, RMSE, R²) as the eager engine's. Both kernels: the unrolled ones (a
    thread per model; every net here is small enough) and the tiled ones."""
    got = run_case(name, kernels)
    assert got["worst"] <= 1e-5 and got["steps"]
    assert got["fused_epochs"] == fused_epochs
    assert got["unrolled"] == (None if name == "not-covered" else kernels == "unrolled")
    assert not [w for w in got["warnings"] if "fused" in w]


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["unrolled", "tiled"])
def test_a_diverging_model_leaves_and_the_others_train_on(kernels):
    """The diverged model is put back and leaves; the kernels go on with the two others (new,
    smaller buffers), as the eager engine does."""
    got = run_case("one-diverges", kernels)
    assert got["status"] == ["completed", "diverged", "completed"]
    assert got["worst"] <= 1e-5 and got["steps"] and got["epochs"] and got["fused_epochs"] == 5
    assert got["unrolled"] == (kernels == "unrolled")


@pytest.mark.slow
def test_a_kernel_that_disagrees_is_refused():
    got = run_case("corrupted")
    assert got["fused_epochs"] == 0 and got["worst"] <= 1e-5  # Inductor took over; results as eager
    assert any("fused steps are not used" in w and "differs from the eager steps" in w for w in got["warnings"])


# ----------------------------------------------------------------------------- the unrolled kernels' plumbing
def test_unrolled_kernels_are_written_for_the_net_and_cached(tmp_path, monkeypatch):
    import ast

    from torchground.engine.kernels import triton_unrolled as unrolled

    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path))
    monkeypatch.setattr(unrolled, "_modules", {})
    text = unrolled.source((2, 3, 1))
    ast.parse(text)
    assert "w0_2_1" in text and "w0_3_0" not in text and "b1_0" in text and "w1_0_2" in text  # exactly the net's units
    module = unrolled.kernels((2, 3, 1))
    assert unrolled.kernels((2, 3, 1)) is module  # once per process
    files = list(tmp_path.glob("triton_unrolled_*.py"))
    assert len(files) == 1 and files[0].read_text() == text and not list(tmp_path.glob("*.tmp"))
    assert hasattr(module, "epoch_kernel") and hasattr(module, "eval_kernel")


def test_which_kernels_a_net_gets_and_the_blocked_layout():
    import torch

    from torchground import Spec
    from torchground.engine import StackedGroup
    from torchground.engine.kernels.triton_steps import TritonSteps

    small = StackedGroup([Spec(hidden=(8, 8), init_seed=i) for i in range(5)]).net.models_last()  # 105 parameters
    wide = StackedGroup([Spec(hidden=(8, 8, 8), init_seed=i) for i in range(2)]).net.models_last()  # 177
    assert TritonSteps(small).unrolled and not TritonSteps(wide).unrolled
    assert not TritonSteps(small, unrolled=False).unrolled
    kernel = TritonSteps(small, block=2)
    assert kernel.weight_rows.tolist()[:16] == [1.0] * 16 and kernel.weight_rows.tolist()[16:24] == [0.0] * 8  # 8×2 weights, 8 biases
    pb, gb = kernel._blocked(5)
    assert pb.shape == gb.shape == (3, 105, 2)
    kernel._to_blocks(small.params, pb)
    assert torch.equal(pb[1, :, 1], small.params[:, 3]) and torch.equal(pb[2, :, 0], small.params[:, 4])
    back = torch.zeros_like(small.params)
    kernel._from_blocks(pb, back)
    assert torch.equal(back, small.params)
