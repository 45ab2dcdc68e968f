"""Compact per-epoch history rows for page sessions, which may play for hours.

A page session keeps its trainer's whole history (a saved session carries it), one row per
epoch, and a playing tab finishes many epochs a second. As dicts, each row costs hundreds
of bytes; :class:`CompactRows` keeps them as 8-byte numbers in one array (and one byte per
value saying whether it was ``None``, an ``int`` or a ``float``), so a long session's memory
stays nearly flat. It behaves as the list of dicts it replaces for what the trainer and the
checkpoint do with it: ``append``, ``len``, indexing (a fresh dict, equal to the one
appended), slicing (a list of them), iteration and ``==``. The newest row is kept as the dict
itself, since callbacks may still be filling it in; it is packed when the next one comes.
A row that does not fit (other keys than the first row's, or other kinds of values) is
kept as it was.

Example:
    >>> rows = CompactRows()
    >>> rows.append({"epoch": 1, "loss": 0.5, "val": None})
    >>> rows.append({"epoch": 2, "loss": 0.25, "val": None})
    >>> len(rows), rows[0], rows[-1]["loss"]
    (2, {'epoch': 1, 'loss': 0.5, 'val': None}, 0.25)
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

__all__ = ["CompactRows"]

_NONE, _INT, _FLOAT, _ODD = 0, 1, 2, 3
_EXACT_INT = 2**53  # integers up to this size are exact as doubles


def _kind(value: Any) -> int:
    if value is None:
        return _NONE
    if type(value) is int and -_EXACT_INT <= value <= _EXACT_INT:
        return _INT
    if type(value) is float:
        return _FLOAT
    return _ODD


class CompactRows(Sequence[dict[str, Any]]):
    """A list of history rows (dicts) stored as numbers; see the module docstring."""

    def __init__(self, rows: Iterable[dict[str, Any]] = ()) -> None:
        self._columns: tuple[str, ...] | None = None
        self._values = array("d")
        self._kinds = array("b")
        self._odd: dict[int, dict[str, Any]] = {}  # rows kept as they were, by index
        self._packed = 0
        self._tail: dict[str, Any] | None = None
        for row in rows:
            self.append(row)

    def append(self, row: dict[str, Any]) -> None:
        """Add a row (the previous newest one is packed now)."""
        if self._tail is not None:
            self._pack(self._tail)
        self._tail = row

    def __len__(self) -> int:
        return self._packed + (self._tail is not None)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("row index out of range")
        if i == self._packed:
            assert self._tail is not None
            return self._tail
        return self._unpack(i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, CompactRows)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"CompactRows({list(self)!r})"

    def _pack(self, row: dict[str, Any]) -> None:
        if self._columns is None:
            self._columns = tuple(row)
        width = len(self._columns)
        kinds = [_kind(v) for v in row.values()]
        if tuple(row) != self._columns or _ODD in kinds:
            self._odd[self._packed] = row
            kinds, values = [_ODD] * width, [0.0] * width
        else:
            values = [0.0 if v is None else float(v) for v in row.values()]
        self._kinds.extend(kinds)
        self._values.extend(values)
        self._packed += 1

    def _unpack(self, i: int) -> dict[str, Any]:
        if i in self._odd:
            return self._odd[i]
        assert self._columns is not None
        width = len(self._columns)
        start = i * width
        row: dict[str, Any] = {}
        for name, kind, value in zip(self._columns, self._kinds[start:start + width], self._values[start:start + width]):
            row[name] = None if kind == _NONE else int(value) if kind == _INT else value
        return row
