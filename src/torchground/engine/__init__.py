"""The stacked engine: many small networks trained at once as stacked tensors.

Layer 2, beside the eager :mod:`torchground.train.trainer`: it imports the core and the
trainer's helpers, never a front end. Results agree with the eager trainer within
float rounding (tested: per-epoch losses within 1e-5 in float32 and 1e-9 in float64).

* :func:`train_fast` — one spec through the engine, returning the trainer's
  :class:`~torchground.train.trainer.Run` (``torchground train --engine fast``).
* :class:`~torchground.engine.stacked.StackedGroup` — M specs of one shape in lockstep.
* :func:`~torchground.engine.sweep.runner.run_sweep` — any list of specs, grouped and run on a
  backend (local or Ray); :func:`~torchground.engine.sweep.grid.parse_grid` reads sweep grids.

Example:
    >>> from torchground.spec import Spec
    >>> run = train_fast(Spec(epochs=3))
    >>> run.history.epochs, run.history.status
    (3, 'completed')
"""

from __future__ import annotations

import time

from torchground.engine.stacked import (
    SUPPORTED,
    ModelResult,
    StackedGroup,
    check_supported,
    group_key,
)
from torchground.engine.sweep.grid import Grid, expand_grid, parse_grid
from torchground.engine.sweep.runner import SweepResult, group_specs, run_sweep
from torchground.spec import Spec
from torchground.train.run import Run, resolve_device, summarize

__all__ = [
    "train_fast", "StackedGroup", "ModelResult", "SUPPORTED", "check_supported", "group_key",
    "Grid", "parse_grid", "expand_grid", "group_specs", "run_sweep", "SweepResult",
]


def train_fast(spec: Spec | None = None, compile: bool = False) -> Run:
    """Train ``spec`` (default :class:`Spec()`) through the stacked engine.

    Same result as :func:`torchground.train.trainer.train` within float rounding: the same
    :class:`~torchground.train.trainer.Run` (spec, trained model, data, history, summary).

    Args:
        spec: the experiment.
        compile: compile each epoch: our fused kernel where it covers the spec (built once
            per configuration and cached), else ``torch.compile``; see
            :mod:`torchground.engine.kernels.dispatch` (measured speed: ``bench/RESULTS.md``).
            Default False.

    Raises:
        TorchgroundError: ``engine.unsupported`` for a spec the engine does not train
            (e.g. ``optimizer="lbfgs"``), naming what it supports.
    """
    spec = spec or Spec()
    check_supported(spec)
    start = time.perf_counter()
    result = StackedGroup([spec], compile=compile).run()[0]
    wall = time.perf_counter() - start
    history = result.history()
    return Run(spec, result.model(), result.data, history, summarize(spec, history, wall, resolve_device(spec.device)))
