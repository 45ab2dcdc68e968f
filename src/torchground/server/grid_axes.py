"""What the grid view may vary and how far: its fields, their default values, its caps.

The grid view (:mod:`~torchground.server.grid`) trains the session's spec with one or two
settings varied. An axis is a field and its values as text, in the sweep grid's syntax
(:mod:`~torchground.engine.sweep.grid`: ``0.01, 0.1``, ``0..7``; ``hidden`` as
``4|4,2|8,8``); :func:`grid_settings` reads the axes and applies every combination to the
base spec, so each value is checked by the spec itself. The caps live here, once, and
``GET /api/meta`` publishes them (:func:`grid_meta`).

Example:
    >>> from torchground.server.urlstate import DEFAULT_SPEC
    >>> shown, specs = grid_settings(DEFAULT_SPEC, [("lr", "0.01, 0.1"), ("init_seed", "0..1")])
    >>> shown[1], [s.lr for s in specs]
    ({'lr': '0.01', 'init_seed': 1}, [0.01, 0.01, 0.1, 0.1])
    >>> grid_settings(DEFAULT_SPEC, [("epochs", "1,2")])
    Traceback (most recent call last):
    ...
    torchground.errors.TorchgroundError: The grid view cannot vary epochs. It varies: lr, init_seed, seed, activation, hidden, batch_size, l2, l1, noise, optimizer, init, dataset
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torchground.engine.sweep.grid import apply_setting, parse_grid
from torchground.errors import TorchgroundError
from torchground.i18n import Text
from torchground.spec import Spec

__all__ = ["GRID_FIELDS", "GRID_MAP_SIZE", "GRID_MAX_AXES", "GRID_MAX_MODELS", "GRID_MAX_STEPS", "grid_meta", "grid_settings"]

#: Networks one grid trains at once.
GRID_MAX_MODELS = 64
#: Settings varied at once (a row and a column).
GRID_MAX_AXES = 2
#: The total work of one grid epoch: optimiser steps summed over the grid's stacked groups
#: (a group of models with one shape steps once for all of them; 64 shapes step 64 times).
GRID_MAX_STEPS = 2000
#: Side of each tile's output map, in cells.
GRID_MAP_SIZE = 32

#: The fields a grid may vary, in the page's order, with their default values (grid text).
GRID_FIELDS: dict[str, str] = {
    "lr": "0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1",
    "init_seed": "0..7",
    "seed": "0..7",
    "activation": "relu, tanh, sigmoid, identity",
    "hidden": "2 | 4 | 8 | 4,2 | 8,8 | 6,6,6",
    "batch_size": "1, 5, 10, 30",
    "l2": "0, 0.001, 0.01, 0.1",
    "l1": "0, 0.001, 0.01, 0.1",
    "noise": "0, 10, 25, 50",
    "optimizer": "sgd, adam, rmsprop, adagrad",
    "init": "playground, xavier, kaiming, torch",
    "dataset": "circle, xor, gauss, spiral",
}


def grid_settings(base: Spec, axes: Sequence[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[Spec]]:
    """Every combination of ``axes`` (field, values text) applied to ``base``, the first
    axis varying slowest: (the values as the spec reads them back, the specs).

    Raises:
        TorchgroundError: an axis count outside 1..:data:`GRID_MAX_AXES`, a field the grid
            does not vary or named twice, values the grid syntax or the spec refuses (named
            with the field), more than :data:`GRID_MAX_MODELS` networks.
    """
    if not 1 <= len(axes) <= GRID_MAX_AXES:
        raise TorchgroundError("grid.axes_count", count=len(axes), max=GRID_MAX_AXES)
    parsed = []
    for field, text in axes:
        if field not in GRID_FIELDS:
            raise TorchgroundError("grid.unknown_field", field=field, allowed=", ".join(GRID_FIELDS))
        if field in (f for f, _ in parsed):
            raise TorchgroundError("grid.same_field", field=field)
        try:
            grid = parse_grid(f"{field}={text}")
        except TorchgroundError as exc:
            raise TorchgroundError("grid.bad_values", field=field, reason=Text(exc.key, **exc.params)) from None
        values = grid.axes[0][1]
        if len(set(map(str, values))) != len(values):
            raise TorchgroundError("grid.repeated_value", field=field)
        parsed.append((field, values))
    count = 1
    for _, values in parsed:
        count *= len(values)
    if count > GRID_MAX_MODELS:
        raise TorchgroundError("grid.too_many", count=count, max=GRID_MAX_MODELS)
    combos: list[tuple[int, ...]] = [()]  # each tile's value index on each axis
    for _, values in parsed:
        combos = [(*c, j) for c in combos for j in range(len(values))]
    read: list[dict[int, Any]] = [{} for _ in parsed]  # per axis: value index -> the value as the spec holds it
    shown, specs = [], []
    for combo in combos:
        setting = {field: values[j] for (field, values), j in zip(parsed, combo)}
        try:
            one, spec = apply_setting(base, setting)
        except TorchgroundError as exc:
            field = str(exc.params.get("field", next(iter(setting))))
            raise TorchgroundError("grid.bad_values", field=field, reason=Text(exc.key, **exc.params)) from None
        for axis, ((field, _), j) in enumerate(zip(parsed, combo)):
            read[axis].setdefault(j, getattr(spec, field))
        shown.append(one)
        specs.append(spec)
    for (field, values), held in zip(parsed, read):
        _check_distinct(field, values, held)
    return shown, specs


def _check_distinct(field: str, values: Sequence[Any], held: dict[int, Any]) -> None:
    """Two values written differently that the spec reads as one (``0.1`` and ``1e-1``) would
    train the same network twice: refused, naming both."""
    first_of: dict[Any, int] = {}
    for j in range(len(values)):
        value = held[j]
        if value in first_of:
            i = first_of[value]
            raise TorchgroundError("grid.same_value", field=field, first=values[i], second=values[j], value=_text(value))
        first_of[value] = j


def _text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def grid_meta() -> dict[str, Any]:
    """The grid's part of ``GET /api/meta``: the fields with their default values, and the caps."""
    return {
        "fields": dict(GRID_FIELDS),
        "caps": {"models": GRID_MAX_MODELS, "axes": GRID_MAX_AXES, "steps": GRID_MAX_STEPS, "map_size": GRID_MAP_SIZE},
    }
