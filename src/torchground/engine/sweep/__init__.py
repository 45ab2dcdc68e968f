"""Sweeps: the grid language, running many specs grouped by shape, and the backends.

* :mod:`~torchground.engine.sweep.grid` — :func:`parse_grid`, :func:`expand_grid`.
* :mod:`~torchground.engine.sweep.runner` — :func:`run_sweep`, :func:`group_specs`.
* :mod:`~torchground.engine.sweep.backends` — local and Ray.
"""

from torchground.engine.sweep.grid import Grid, expand_grid, parse_grid
from torchground.engine.sweep.runner import SweepResult, group_specs, run_sweep

__all__ = ["Grid", "parse_grid", "expand_grid", "group_specs", "run_sweep", "SweepResult"]
