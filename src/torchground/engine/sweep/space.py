"""Search spaces: ``"lr=loguniform(1e-4,1); activation=choice(tanh,relu); hidden=choice(4|8,8)"``.

A space is ``field=distribution(arguments)`` items separated by ``;``; the fields are those
a grid may vary (any :class:`~torchground.spec.Spec` field, or an optimiser argument).
The distributions are Optuna's:

* ``uniform(a,b)`` and ``loguniform(a,b)`` — a float in [a, b] (``a > 0`` for the log one);
* ``int(a,b)`` and ``logint(a,b)`` — an integer in [a, b];
* ``choice(v1,v2,…)`` — one of the values; list-valued fields (``hidden``, ``features``,
  ``betas`` …) separate their values by ``|`` and the elements by ``,``, as in grids.

Every bound and every choice is checked against the base spec when the space is parsed,
so a value the spec refuses is reported before anything trains; a malformed space is
refused with the column (1-based) and the reason.

Example:
    >>> space = parse_space("lr=loguniform(1e-4,1); hidden=choice(4|8,8); init_seed=int(0,1000)")
    >>> [(p.field, p.kind, p.args) for p in space.params]
    [('lr', 'loguniform', (0.0001, 1.0)), ('hidden', 'choice', ('4', '8,8')), ('init_seed', 'int', (0, 1000))]
    >>> parse_space("lr=normal(0,1)")
    Traceback (most recent call last):
    ...
    torchground.errors.TorchgroundError: Search space, column 4: unknown distribution normal. Allowed: uniform, loguniform, int, logint, choice
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from torchground.engine.sweep.grid import FIELDS, LIST_FIELDS, OPTIMIZER_ARGS, apply_setting
from torchground.errors import SpecError, TorchgroundError
from torchground.i18n import Text
from torchground.spec import Spec

__all__ = ["Param", "Space", "parse_space", "DISTRIBUTIONS"]

#: Distribution name → kind of its two bounds (``choice`` takes values instead).
DISTRIBUTIONS = {"uniform": float, "loguniform": float, "int": int, "logint": int, "choice": None}

_ITEM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)


def _error(column: int, reason: str, **params: Any) -> TorchgroundError:
    return TorchgroundError("search.space.error", column=column, reason=Text(f"search.space.{reason}", **params))


@dataclass(frozen=True)
class Param:
    """One searched field: its distribution ``kind`` and ``args`` (two bounds, or the choices as text)."""

    field: str
    kind: str
    args: tuple[Any, ...]

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna ``trial`` draws for this field."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.field, list(self.args))
        low, high = self.args
        if self.kind in ("int", "logint"):
            return trial.suggest_int(self.field, low, high, log=self.kind == "logint")
        return trial.suggest_float(self.field, low, high, log=self.kind == "loguniform")


@dataclass(frozen=True)
class Space:
    """A parsed search space: its text and its parameters, in order."""

    text: str
    params: tuple[Param, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.field for p in self.params)


def parse_space(text: str, base: Spec | None = None) -> Space:
    """Parse ``text`` (see the module docstring) and check every bound and choice against
    ``base`` (default ``Spec()``); refused with the column and the reason."""
    base = base or Spec()
    if not text.strip():
        raise _error(1, "empty")
    params: list[Param] = []
    offset = 0
    for n, item in enumerate(text.split(";")):
        start, offset = offset, offset + len(item) + 1
        if not item.strip():
            if n > 0 and not text[offset:].strip(";").strip():  # a trailing ";" is fine
                continue
            raise _error(start + 1, "empty_item")
        col = start + len(item) - len(item.lstrip()) + 1
        name, eq, raw = item.partition("=")
        field = name.strip()
        if not eq or not field:
            raise _error(col, "no_equals", item=item.strip())
        if field not in FIELDS and field not in OPTIMIZER_ARGS:
            raise _error(col, "unknown_field", field=field, allowed=", ".join([*FIELDS, *OPTIMIZER_ARGS]))
        if field in (p.field for p in params):
            raise _error(col, "duplicate", field=field)
        raw_col = start + len(name) + 2 + len(raw) - len(raw.lstrip())
        params.append(_param(field, raw, raw_col, base))
    return Space(text, tuple(params))


def _param(field: str, raw: str, col: int, base: Spec) -> Param:
    match = _ITEM.match(raw)
    if not match:
        raise _error(col, "no_distribution", field=field, allowed=", ".join(DISTRIBUTIONS))
    kind, inner = match.group(1), match.group(2)
    if kind not in DISTRIBUTIONS:
        raise _error(col, "unknown_distribution", value=kind, allowed=", ".join(DISTRIBUTIONS))
    if kind == "choice":
        sep = "|" if field in LIST_FIELDS else ","
        values = tuple(v.strip() for v in inner.split(sep))
        if not all(values):
            raise _error(col, "empty_value", field=field)
        if len(set(values)) != len(values):
            raise _error(col, "repeated_choice", field=field)
        for value in values:
            _check(base, field, value, col)
        return Param(field, kind, values)
    number = DISTRIBUTIONS[kind]
    bounds = [b.strip() for b in inner.split(",")]
    try:
        if len(bounds) != 2:
            raise ValueError
        low, high = (number(b) for b in bounds)
    except ValueError:
        raise _error(col, "bad_bounds", field=field, kind=kind, number="integers" if number is int else "numbers") from None
    if not low < high or (kind.startswith("log") and low <= 0):
        raise _error(col, "bad_order", field=field, low=low, high=high, kind=kind)
    for value in (low, high):
        _check(base, field, value, col)
    return Param(field, kind, (low, high))


def _check(base: Spec, field: str, value: Any, col: int) -> None:
    """A bound or choice the spec refuses is reported with the space's column."""
    try:
        apply_setting(base, {field: value})
    except SpecError as err:
        raise _error(col, "refused", field=field, value=value, why=str(err)) from None
