"""Sweep grids: ``"lr=0.003,0.03,0.3; activation=tanh,relu; hidden=4,2|8,8; seed=0..9"``.

A grid is ``field=values`` items separated by ``;``. Values are separated by ``,``,
except for list-valued fields (``hidden``, ``features``, and the tuple arguments
``betas``, ``etas``, ``step_sizes``), whose values are separated by ``|`` and whose
elements by ``,``. ``a..b`` stands for the integers a to b inclusive. A field is any
:class:`~torchground.spec.Spec` field or an optimiser argument (``momentum``, ``betas``,
…, put into ``optimizer_args``). The settings are the cartesian product, applied to a
base spec with :meth:`~torchground.spec.Spec.replace`, so the spec validates every value
and a bad one is refused naming its field. A malformed grid is refused with the column
(1-based) and the reason.

Example:
    >>> grid = parse_grid("lr=0.01,0.1; hidden=4|8,8; seed=0..1")
    >>> len(grid), grid.fields
    (8, ('lr', 'hidden', 'seed'))
    >>> grid.settings()[0]
    {'lr': '0.01', 'hidden': '4', 'seed': 0}
    >>> parse_grid("lr=0.1;; seed=1")
    Traceback (most recent call last):
    ...
    torchground.errors.TorchgroundError: Sweep grid, column 8: empty item (two ";" in a row?)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable

from torchground.errors import TorchgroundError
from torchground.i18n import Text
from torchground.registry import OPTIMIZERS, optimizer_params
from torchground.schedules import SCHEDULERS, allowed_args
from torchground.spec import SPEC_FIELDS, Spec, parse_optimizer_args

__all__ = ["Grid", "parse_grid", "expand_grid", "apply_setting", "MAX_SETTINGS", "LIST_FIELDS", "FIELDS", "OPTIMIZER_ARGS"]

#: Most settings one grid may expand to.
MAX_SETTINGS = 100_000
#: Settings validated between two calls of :func:`expand_grid`'s ``progress``.
PROGRESS_EVERY = 500
#: Fields whose values are lists: values separated by "|", elements by ",".
LIST_FIELDS = frozenset({"hidden", "features", "betas", "etas", "step_sizes", "sched.milestones"})

_OPTIMIZER_ARGS = sorted({name for opt in OPTIMIZERS.names() for name in optimizer_params(opt)})
_FIELDS = [f for f in SPEC_FIELDS if f not in ("problem", "optimizer_args", "scheduler_args")]
# Learning-rate schedule settings, written sched.NAME (sched.gamma=0.1,0.5), put into scheduler_args.
_SCHEDULER_ARGS = sorted({f"sched.{a}" for name in SCHEDULERS for a in allowed_args(name)})
#: What a grid or a search may vary: spec fields, and optimiser arguments.
FIELDS, OPTIMIZER_ARGS = tuple(_FIELDS), tuple(_OPTIMIZER_ARGS)


def _error(column: int, reason: str, **params: Any) -> TorchgroundError:
    return TorchgroundError("sweep.grid.error", column=column, reason=Text(f"sweep.grid.{reason}", **params))


@dataclass(frozen=True)
class Grid:
    """A parsed grid: the text and, per field, its values (strings; ints from ranges)."""

    text: str
    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.axes)

    def __len__(self) -> int:
        n = 1
        for _, values in self.axes:
            n *= len(values)
        return n

    def settings(self) -> list[dict[str, Any]]:
        """Every combination, the first field varying slowest."""
        names = self.fields
        return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in self.axes))]


def parse_grid(text: str) -> Grid:
    """Parse a grid (see the module docstring); refused with column and reason when malformed."""
    if not text.strip():
        raise _error(1, "empty")
    axes: list[tuple[str, tuple[Any, ...]]] = []
    found: list[tuple[str, tuple[str, int]]] = []  # (field, (values text, its column))
    items, start = [], 0
    for part in text.split(";"):
        items.append((start, part))
        start += len(part) + 1
    for n, (offset, item) in enumerate(items):
        if not item.strip():
            if n == len(items) - 1 and n > 0:  # a trailing ";" is fine
                continue
            raise _error(offset + 1, "empty_item")
        col = offset + len(item) - len(item.lstrip()) + 1  # first non-blank character
        name, eq, raw = item.partition("=")
        if not eq:
            raise _error(col, "no_equals", item=item.strip())
        field = name.strip()
        if not field:
            raise _error(offset + len(name) + 1, "no_field")
        if field not in _FIELDS and field not in _OPTIMIZER_ARGS and field not in _SCHEDULER_ARGS:
            raise _error(col, "unknown_field", field=field, allowed=", ".join([*_FIELDS, *_OPTIMIZER_ARGS, *_SCHEDULER_ARGS]))
        if field in dict(axes) or field in dict(found):
            raise _error(col, "duplicate", field=field)
        found.append((field, (raw, offset + len(name) + 2)))
    # The size first, from the texts alone (a range counts b - a + 1): a grid too large is
    # refused before a single value is expanded.
    total = 1
    for field, (raw, col0) in found:
        total *= _count(field, raw, col0)
    if total > MAX_SETTINGS:
        raise _error(1, "too_many", count=total, max=MAX_SETTINGS)
    for field, (raw, col0) in found:
        axes.append((field, tuple(_values(field, raw, col0))))
    return Grid(text, tuple(axes))


def _count(field: str, raw: str, col0: int) -> int:
    """How many values ``raw`` stands for, without expanding it (a malformed range counts 1:
    :func:`_values` then refuses it with its column); one range too large alone is refused at its column."""
    sep = "|" if field in LIST_FIELDS else ","
    n, pos = 0, 0
    for token in raw.split(sep):
        col = col0 + pos + len(token) - len(token.lstrip())
        pos += len(token) + 1
        value = token.strip()
        size = 1
        if ".." in value and sep == ",":
            low, _, high = value.partition("..")
            try:
                size = max(int(high) - int(low) + 1, 1)
            except ValueError:
                pass
        if size > MAX_SETTINGS:
            raise _error(col, "too_many", count=size, max=MAX_SETTINGS)
        n += size
    return n


def _values(field: str, raw: str, col0: int) -> list[Any]:
    """The values of one item; ``col0`` is the column of ``raw``'s first character."""
    sep = "|" if field in LIST_FIELDS else ","
    out: list[Any] = []
    pos = 0
    for token in raw.split(sep):
        col = col0 + pos + len(token) - len(token.lstrip())
        pos += len(token) + 1
        value = token.strip()
        if not value:
            raise _error(col, "empty_value", field=field)
        if ".." in value and sep == ",":
            out.extend(_range(value, col))
        else:
            out.append(value)
    return out


def _range(value: str, col: int) -> range:
    low, _, high = value.partition("..")
    try:
        a, b = int(low), int(high)
    except ValueError:
        raise _error(col, "bad_range", value=value) from None
    if a > b:
        raise _error(col, "bad_range", value=value)
    if b - a + 1 > MAX_SETTINGS:
        raise _error(col, "too_many", count=b - a + 1, max=MAX_SETTINGS)
    return range(a, b + 1)


def _opt_value(field: str, raw: Any) -> Any:
    """An optimiser argument from grid text: bool, int, float, tuple of floats, else the text."""
    if not isinstance(raw, str):
        return raw
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if field in LIST_FIELDS:
        try:
            return tuple(float(v) for v in raw.split(","))
        except ValueError:
            return raw
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def expand_grid(base: Spec, grid: Grid, progress: Callable[[int], None] | None = None) -> list[tuple[dict[str, Any], Spec]]:
    """Every setting of ``grid`` applied to ``base``: (the varied values, the validated spec).

    The varied values are read back from the spec (``hidden`` as ``"4,2"``), so they show
    what was trained. Raises :class:`~torchground.errors.SpecError` for a value the spec refuses.
    ``progress(n)``, if given, hears of every :data:`PROGRESS_EVERY` settings validated, and of the rest at the end.
    """
    out = []
    for setting in grid.settings():
        out.append(apply_setting(base, setting))
        if progress is not None and len(out) % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None and len(out) % PROGRESS_EVERY:
        progress(len(out) % PROGRESS_EVERY)
    return out


def apply_setting(base: Spec, setting: dict[str, Any]) -> tuple[dict[str, Any], Spec]:
    """One setting (field → value; optimiser arguments go into ``optimizer_args``) applied to
    ``base``: (the values read back from the spec, the validated spec). Grids and searches use it.

    Raises :class:`~torchground.errors.SpecError` for a value the spec refuses.
    """
    changes: dict[str, Any] = {}
    opt_args, sched_args = dict(base.optimizer_args), dict(base.scheduler_args)
    for field, value in setting.items():
        if field in _FIELDS:
            changes[field] = value
        elif field.startswith("sched."):
            sched_args[field[6:]] = value if isinstance(value, int) else parse_optimizer_args([f"v={value}"])["v"]
        else:
            opt_args[field] = _opt_value(field, value)
    if opt_args != base.optimizer_args:
        changes["optimizer_args"] = opt_args
    if sched_args != base.scheduler_args:
        changes["scheduler_args"] = sched_args
    spec = base.replace(**changes)
    shown = {f: _show(getattr(spec, f) if f in _FIELDS else spec.scheduler_args.get(f[6:]) if f.startswith("sched.")
                      else spec.optimizer_args.get(f)) for f in setting}
    return shown, spec


def _show(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return ",".join(str(_show(v)) for v in value) if value else "-"
    if isinstance(value, float):
        return f"{value:g}"
    return value
