"""The fused Triton steps and metrics (torchground.engine.fused_triton) inside the engine, on CPU through
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
    from torchground.engine.compiled import CompiledEpoch
    from torchground.engine.fused_triton import TritonSteps
    from torchground.i18n import set_language

    set_language("en")

    sys.path.insert(0, sys.argv[2])  # tests/, for the cases both kernels are tested on
    from fused_cases import CASES

    name = sys.argv[1]
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
    worst = max(abs(a[k] - b[k]) for p, f in zip(plain, fast) for a, b in zip(p.history().rows, f.history().rows)
                for k in a if k != "epoch" and a[k] is not None and not math.isnan(a[k]))
    print(json.dumps({"fused_epochs": group._compiled.fused_epochs, "worst": worst,
                      "warnings": [str(w.message) for w in caught], "steps": [r.steps for r in fast] == [r.steps for r in plain]}))
    """
)


def run_case(name: str) -> dict:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, name, os.path.dirname(__file__)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("name", "fused_epochs"),
    [("sgd-shared", 3), ("adam-orders", 3), ("momentum-l2", 3), ("own-data-val-test", 3), ("l1-dead-weights", 3), ("not-covered", 0)],
)
def test_fused_steps_agree_with_the_eager_engine(name, fused_epochs):
    """Every compiled epoch is fused (steps and metrics), the first one checked against a few
    models' eager steps; SGD with momentum starts compiling at its second epoch. Every metric
    (losses, accuracy, RMSE, R²) as the eager engine's."""
    got = run_case(name)
    assert got["worst"] <= 1e-5 and got["steps"]
    assert got["fused_epochs"] == fused_epochs
    assert not [w for w in got["warnings"] if "fused" in w]


def test_a_kernel_that_disagrees_is_refused():
    got = run_case("corrupted")
    assert got["fused_epochs"] == 0 and got["worst"] <= 1e-5  # Inductor took over; results as eager
    assert any("fused steps are not used" in w and "differs from the eager steps" in w for w in got["warnings"])
