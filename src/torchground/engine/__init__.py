"""The stacked engine: many small networks trained at once as stacked tensors.

Layer 3, beside the eager :mod:`torchground.train.trainer`: it imports the core and the
trainer's run-level helpers (:mod:`torchground.train.run`), never the trainer's module or
a front end. Results agree with the eager trainer within float rounding (tested:
per-epoch losses within 1e-5 in float32 and 1e-9 in float64).

* :func:`train_fast` — one spec through the engine, returning the trainer's
  :class:`~torchground.train.run.Run` (``torchground train --engine fast``).
* :class:`~torchground.engine.stacked.StackedGroup` — M specs of one shape in lockstep.
* :func:`~torchground.engine.sweep.runner.run_sweep` — any list of specs, grouped and run on a
  backend (local or Ray); :func:`~torchground.engine.sweep.grid.parse_grid` reads sweep grids.

Where each rule lives (one description each; the other places are made from it or held
equal to it by a test):

=================================  ==========================================  ======================================
rule                               written once in                             used by
=================================  ==========================================  ======================================
activations, their derivatives     ``ops.py`` (eager, aten's backward);        fused C and Triton kernels (generated),
                                   ``kernels/rules.py`` (the kernels')         ``tests/engine/kernels/test_rules.py``
losses and their gradients         ``ops.py``; MSE in ``kernels/rules.py``     the same
optimiser updates                  ``optim.py`` (torch.optim's foreach ops);   fused kernels (generated); tested equal
                                   SGD/Adam(W) in ``kernels/rules.py``
Adam's bias corrections            ``kernels/rules.py`` (``adam_bias``)        ``optim.py``, ``kernels/fused_steps.py``
L1/L2 penalties, L1 dead weights   ``kernels/rules.py`` (``penalize``,         ``net.py``, fused kernels; the trainer
                                   ``l1_dead``)                                and the exported script tested equal
initialisers                       ``registry.INIT_STEPS`` / ``init_layer``    ``data.py``, ``model.py``, exported code
data, features                     ``torchground.data``                        ``data.py`` via ``train/run.py``
batch orders                       ``batch_orders.py`` (torch's draws; the     ``stacked.py``
                                   same in C: ``kernels/batch_orders.c``)
an epoch: gather, steps, metrics   ``epoch.py`` (both parameter layouts)       eager, CUDA graph, ``torch.compile``
=================================  ==========================================  ======================================

Which code trains a group's epoch (``StackedGroup(..., compile=..., fused=...)``; the front
ends, :func:`train_fast` and ``run_sweep``, pass ``fused=True``: the fused C kernel where it
covers a group, else the eager engine; ``compile=True`` makes ``torch.compile`` that fallback):

=========================  ======================================================================
path                       where
=========================  ======================================================================
eager                      ``stacked.py`` → ``epoch.py`` → ``net.py`` (models first, ``bmm``)
CUDA graph (CUDA default)  ``kernels/cuda_graph.py``: the eager steps captured once
compiled: the router       ``kernels/dispatch.py`` (``CompiledEpoch``; its state ``Path``:
                           CHOOSE → CHECK → FUSED, or INDUCTOR, or EAGER on failure)
fused C kernel (CPU)       ``kernels/native.py`` + ``native.c`` (rules written in at ``@RULES@``)
fused Triton (CUDA)        ``kernels/triton_steps.py``: ``triton_unrolled.py`` (small nets, generated
                           per layer sizes) or ``triton_tiled.py``; helpers ``triton_rules.py``
what both fused share      ``kernels/fused_steps.py`` (scope, per-model tables)
``torch.compile``          ``kernels/dispatch.py`` compiles ``epoch.py``'s functions (models last)
a kernel built ahead       ``kernels/prebuild.py`` (in the background while the data are made;
                           ``torchground warmup``)
built C and generated      ``kernels/build_cache.py`` (compiling, the private cache),
source                     ``kernels/generated.py`` (generated text saved for the compiler/Triton)
=========================  ======================================================================

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
from torchground.train.metrics import model_confusion
from torchground.train.run import Run, resolve_device, summarize

__all__ = [
    "train_fast", "StackedGroup", "ModelResult", "SUPPORTED", "check_supported", "group_key",
    "Grid", "parse_grid", "expand_grid", "group_specs", "run_sweep", "SweepResult",
]


def train_fast(spec: Spec | None = None, compile: bool = False, fused: bool = True) -> Run:
    """Train ``spec`` (default :class:`Spec()`) through the stacked engine.

    Same result as :func:`torchground.train.trainer.train` within float rounding: the same
    :class:`~torchground.train.trainer.Run` (spec, trained model, data, history, summary).

    Args:
        spec: the experiment.
        compile: where our fused kernel does not cover the spec, ``torch.compile`` instead
            of the eager steps; see :mod:`torchground.engine.kernels.dispatch` (measured
            speed: ``bench/RESULTS.md``). Default False.
        fused: our fused C kernel where it covers the spec (built once per configuration,
            in the background while the data are made, and cached; its first epoch checked
            against the eager steps). Default True; False: the eager steps (or
            ``torch.compile`` alone with ``compile``). ``run.summary["path"]`` says which
            code trained it ("fused", "eager", "inductor", "cuda_graph").

    Raises:
        TorchgroundError: ``engine.unsupported`` for a spec the engine does not train
            (e.g. ``optimizer="lbfgs"``), naming what it supports.
    """
    spec = spec or Spec()
    check_supported(spec)
    start = time.perf_counter()
    group = StackedGroup([spec], compile=compile, fused=fused)
    result = group.run()[0]
    wall = time.perf_counter() - start
    history = result.history()
    model = result.model()
    if (spec.classes or 2) > 2 and history.rows:  # K classes: the final model's confusion matrices for the summary
        epoch = history.best_epoch if history.status == "early_stopped" and spec.restore_best else history.epochs
        history.confusion[epoch or history.epochs] = model_confusion(model, result.data, spec)
    summary = summarize(spec, history, wall, resolve_device(spec.device))
    summary["path"] = group.path
    return Run(spec, model, result.data, history, summary)
