"""Searches beyond the grid: Optuna's samplers asking for trials, the stacked engine training them.

:func:`run_search` asks Optuna (ask/tell) for ``batch`` trials at a time, turns each into a
spec (:func:`~torchground.engine.sweep.grid.apply_setting` on the base spec), trains the
batch together as stacked groups, reports every trial's monitored loss (about
:data:`REPORTS` times over its epochs) and stops the trials Optuna prunes (status ``pruned``), then tells Optuna how each ended:
its final monitored loss, ``PRUNED``, or ``FAIL`` for a diverged model. The result is a
:class:`~torchground.engine.sweep.runner.SweepResult`, so the table, ``results.csv`` and
``grid.png`` are the grid's.

The monitored loss is the validation loss, or the training loss without validation data.
Optuna is an optional extra (``pip install "torchground[search]"``), imported only here.
With a fixed ``seed``, the same space, trials and batch give the same trials and, on the
CPU, the same results; ``storage`` (an Optuna storage URL such as ``sqlite:///study.db``)
keeps the study where ``optuna-dashboard`` can follow it.

Example:
    >>> from torchground.engine.sweep.space import parse_space
    >>> base = Spec(epochs=3)
    >>> result = run_search(base, parse_space("lr=loguniform(0.01,0.3)", base), trials=4, method="random")
    >>> len(result.results), sorted(result.settings[0])
    (4, ['lr'])
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from torchground.engine.stacked import StackedGroup
from torchground.engine.sweep.grid import MAX_SETTINGS, apply_setting
from torchground.engine.sweep.runner import SweepResult, final_row, group_specs
from torchground.engine.sweep.space import Space
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train.run import resolve_device

__all__ = ["run_search", "METHODS", "DEFAULT_BATCH"]

METHODS = ("random", "tpe")
#: Trials asked and trained together when ``batch`` is not given: at most this many.
DEFAULT_BATCH = 64
#: Reports per trial (every ``epochs // REPORTS`` epochs, and the last): each is a write to
#: the study's storage, which a database makes costly at every epoch of every trial.
REPORTS = 20
#: Completed trials the median pruner waits for before it prunes anything.
STARTUP_TRIALS = 5


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise TorchgroundError("search.optuna_missing") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _study(optuna: Any, method: str, seed: int, storage: str | None, name: str | None, prune: bool) -> Any:
    if method == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:  # a "liar" stands in for the unfinished trials of a batch, so a batch is not asked twice the same
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS) if prune else optuna.pruners.NopPruner()
    try:
        return optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner, storage=storage,
                                   study_name=name, load_if_exists=storage is not None)
    except Exception as err:  # Optuna raises many kinds for a bad URL or database; the user needs the reason
        raise TorchgroundError("search.storage_failed", url=str(storage), error=type(err).__name__) from None


def default_batch(trials: int, method: str) -> int:
    """Random search asks for everything at once (up to :data:`DEFAULT_BATCH`); TPE in eight
    rounds or more, so that later trials learn from the earlier ones."""
    if method == "random":
        return min(trials, DEFAULT_BATCH)
    return max(1, min(DEFAULT_BATCH, math.ceil(trials / 8)))


def run_search(
    base: Spec,
    space: Space,
    trials: int,
    method: str = "tpe",
    batch: int | None = None,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    prune: bool = True,
    compile: bool = False,
    progress: Callable[[float], None] | None = None,
    fused: bool = True,
) -> SweepResult:
    """Search ``space`` around ``base`` with ``trials`` trials; see the module docstring.

    Args:
        base: the spec every trial starts from.
        space: from :func:`~torchground.engine.sweep.space.parse_space`.
        trials: how many trials (1 to :data:`~torchground.engine.sweep.grid.MAX_SETTINGS`).
        method: "random" or "tpe" (default).
        batch: trials asked and trained together (default :func:`default_batch`).
        seed: the sampler's seed (default 0).
        storage, study_name: an Optuna storage URL and study name (default: in memory).
        prune: stop unpromising trials early with Optuna's median pruner (default True).
        compile: compile the groups' epochs (see :class:`~torchground.engine.stacked.StackedGroup`).
        progress: called with the number of trials newly done (may be fractional).
        fused: our fused kernels where they cover a group (default; see :func:`~torchground.engine.sweep.runner.run_sweep`).

    Raises:
        TorchgroundError: a bad method, trial count or batch, Optuna missing, or a storage
            that cannot be opened.
    """
    if method not in METHODS:
        raise TorchgroundError("search.unknown_method", value=method, allowed=", ".join(METHODS))
    if not 1 <= trials <= MAX_SETTINGS:
        raise TorchgroundError("search.bad_trials", value=trials, max=MAX_SETTINGS)
    batch = default_batch(trials, method) if batch is None else batch
    if not 1 <= batch <= trials:
        raise TorchgroundError("search.bad_batch", value=batch, trials=trials)
    optuna = _optuna()
    study = _study(optuna, method, seed, storage, study_name, prune)
    done = progress or (lambda n: None)
    specs: list[Spec] = []
    settings: list[dict[str, Any]] = []
    results: list[Any] = []
    groups, paths = 0, []
    finished = [0]  # trials told complete so far (the pruner's start-up count)
    start = time.perf_counter()
    while len(specs) < trials:
        asked = [study.ask() for _ in range(min(batch, trials - len(specs)))]
        made = [apply_setting(base, {p.field: p.suggest(trial) for p in space.params}) for trial in asked]
        batch_specs = [spec for _, spec in made]
        batch_results: list[Any] = [None] * len(asked)
        for members in group_specs(batch_specs):
            groups += 1
            group = StackedGroup([batch_specs[i] for i in members], compile=compile, fused=fused)
            column = group.columns.index("val_loss" if group.n_val > 0 else "train_loss")
            trial_of = [asked[i] for i in members]

            every = max(1, group.epochs // REPORTS)

            def pruner(epoch: int, ids: np.ndarray, rows: np.ndarray, trial_of: list[Any] = trial_of, column: int = column,
                       every: int = every, epochs: int = group.epochs) -> np.ndarray | None:
                if epoch % every and epoch != epochs:
                    return None
                ask = prune and finished[0] >= STARTUP_TRIALS  # the median pruner decides nothing before
                stop = np.zeros(len(ids), dtype=bool)
                for k, (i, value) in enumerate(zip(ids.tolist(), rows[:, column].tolist())):
                    if math.isfinite(value):
                        trial_of[i].report(value, epoch)
                        stop[k] = ask and trial_of[i].should_prune()
                return stop

            last = [0.0]

            def advance(epoch: int, epochs: int, size: int = len(members), last: list[float] = last) -> None:
                now = size * epoch / epochs
                done(now - last[0])
                last[0] = now

            for i, result in zip(members, group.run(advance, prune=pruner)):
                batch_results[i] = result
            done(len(members) - last[0])
            paths.append(group.path)
        for trial, result in zip(asked, batch_results):
            finished[0] += _tell(optuna, study, trial, result, column_name="val_loss" if base.val_pct > 0 else "train_loss")
        specs += batch_specs
        settings += [shown for shown, _ in made]
        results += batch_results
    wall = time.perf_counter() - start
    devices = sorted({str(resolve_device(s.device)) for s in specs})
    return SweepResult(specs, results, settings, groups, wall, "local", ",".join(devices), space.text, compile, paths=paths)


def _tell(optuna: Any, study: Any, trial: Any, result: Any, column_name: str) -> bool:
    """Optuna hears how a trial ended: its final monitored loss, pruned, or failed (diverged).
    Returns whether it completed."""
    states = optuna.trial.TrialState
    if result.status == "pruned":
        study.tell(trial, state=states.PRUNED)
        return False
    value = final_row(result).get(column_name) if len(result.metrics) else None
    if result.status == "diverged" or value is None or not math.isfinite(value):
        study.tell(trial, state=states.FAIL)
        return False
    study.tell(trial, value)
    return True
