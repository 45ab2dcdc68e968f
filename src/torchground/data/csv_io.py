"""Reading and writing data sets as CSV files (``x1,x2,label``), and what their labels mean.

The format is deliberately small: one header line ``x1,x2,label`` and one row per point:
two finite decimal numbers and a label. Writes are atomic (:mod:`torchground.atomic`) and
keep full float precision, so a write/read round trip gives the same arrays bit for bit.
Reading refuses anything else with a :class:`~torchground.errors.DataError` that names the
file, the line number and what is wrong, never a traceback.

Labels decide the problem unless the caller says which (:func:`labels_to_targets`): ±1,
0/1 or two names give the Playground's two classes (±1 targets); 3 to 10 distinct
integers or names give that many classes (targets the class index, integers in ascending
order, names in their order of first appearance); any other numbers give regression.

Cells are split on commas by hand rather than with :mod:`csv`: the format has no quoting,
and a plain split makes "wrong number of cells" exact and easy to report.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from torchground.atomic import write_text
from torchground.data.datasets import CLASSIFICATION, MAX_CLASSES, MAX_SAMPLES, PROBLEMS, REGRESSION, Dataset
from torchground.errors import DataError

__all__ = [
    "CSV_HEADER", "MAX_CSV_BYTES", "write_csv", "read_csv", "parse_csv", "csv_text", "sha256_of", "labels_to_targets",
]

CSV_COLUMNS: tuple[str, ...] = ("x1", "x2", "label")
CSV_HEADER = ",".join(CSV_COLUMNS)
#: Largest CSV file read (bytes).
MAX_CSV_BYTES = 10 * 1024 * 1024

# A plain decimal number: rejects nan/inf and Python-only forms such as "1_000".
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Words float() would read as NaN or infinity: refused as labels rather than taken as names.
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def csv_text(ds: Dataset) -> str:
    """The CSV text :func:`write_csv` writes (labels as class names where ``ds`` has names)."""
    lines = [CSV_HEADER]
    names = ds.class_names if ds.problem == CLASSIFICATION else ()
    for (x1, x2), label in zip(ds.points.tolist(), ds.labels.tolist()):
        shown = names[_index(label, ds.classes)] if names else repr(label)
        lines.append(f"{x1!r},{x2!r},{shown}")
    return "\n".join(lines) + "\n"


def _index(label: float, classes: int) -> int:
    return (0 if label < 0 else 1) if classes == 2 else int(label)


def write_csv(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` to ``path`` as CSV, atomically.

    The header is ``x1,x2,label``; each number is written with ``repr`` (the shortest text
    that reads back to the same float64), a named class with its name. Missing parent
    folders are created.

    Args:
        ds: the data set.
        path: the target file; replaced whole or not at all.
    """
    write_text(path, csv_text(ds))


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (how a spec pins the exact file it was made from)."""
    return hashlib.sha256(data).hexdigest()


def read_csv(
    path: str | os.PathLike[str], name: str = "csv", problem: str | None = None, shown: str | None = None
) -> Dataset:
    """Read a data set from a CSV file (see :func:`parse_csv` for the rules).

    Args:
        path: the CSV file, at most 10 MB.
        name: the name the data set gets. Default: ``"csv"``.
        problem: ``"classification"`` or ``"regression"``. Default: ``None``, from the labels.
        shown: how messages name the file (default: ``path``).

    Raises:
        DataError: missing, unreadable or too large file, or any refusal of :func:`parse_csv`.
    """
    return parse_csv(read_bytes(path, shown), str(path) if shown is None else shown, name, problem)


def read_bytes(path: str | os.PathLike[str], shown: str | None = None) -> bytes:
    """The bytes of a CSV file of at most 10 MB, or a DataError saying why not."""
    p, shown = Path(path), str(path) if shown is None else shown
    try:
        size = p.stat().st_size
        if p.is_file() and size > MAX_CSV_BYTES:
            raise DataError("data.csv_too_big", path=shown, size=size, max=MAX_CSV_BYTES)
        return p.read_bytes()
    except FileNotFoundError:
        raise DataError("data.csv_missing", path=shown) from None
    except OSError as exc:
        raise DataError("data.csv_unreadable", path=shown, reason=exc.strerror or type(exc).__name__) from None


def parse_csv(data: bytes, shown: str = "csv", name: str = "csv", problem: str | None = None) -> Dataset:
    """Parse the bytes of a CSV file into a data set.

    The first line must be ``x1,x2,label``; every further line two finite decimal numbers
    and a label (a number or a name). Spaces around cells, Windows line ends, a UTF-8
    byte-order mark and blank lines at the end are accepted.

    Args:
        data: the file's bytes (at most 10 MB).
        shown: how messages name the file.
        name: the name the data set gets.
        problem: ``"classification"`` or ``"regression"``, or ``None`` to decide from the labels.

    Returns:
        A :class:`~torchground.data.datasets.Dataset` with the rows in file order, its
        ``classes`` and ``class_names`` set for classification.

    Raises:
        DataError: too large, binary or not UTF-8, empty, wrong header, wrong number of
            cells, a coordinate that is not a finite number, no data rows, more than 100000
            rows, or labels that do not fit (see :func:`labels_to_targets`). The message
            names the line.
    """
    if problem is not None and problem not in PROBLEMS:
        raise DataError("data.bad_problem", value=problem, allowed=", ".join(PROBLEMS))
    if len(data) > MAX_CSV_BYTES:
        raise DataError("data.csv_too_big", path=shown, size=len(data), max=MAX_CSV_BYTES)
    lines = _lines(data, shown)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError("data.csv_empty", path=shown)

    header = [cell.strip().lower() for cell in lines[0].split(",")]
    if tuple(header) != CSV_COLUMNS:
        raise DataError("data.csv_bad_header", path=shown, line=1, found=lines[0].strip(), expected=CSV_HEADER)
    if len(lines) - 1 > MAX_SAMPLES:
        raise DataError("data.csv_too_many_rows", path=shown, line=MAX_SAMPLES + 2, max=MAX_SAMPLES)
    if len(lines) == 1:
        raise DataError("data.csv_no_rows", path=shown, line=2)

    points = np.empty((len(lines) - 1, 2), dtype=np.float64)
    labels: list[str] = []
    for row, line in enumerate(lines[1:]):
        lineno = row + 2
        if not line.strip():
            raise DataError("data.csv_blank_line", path=shown, line=lineno)
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(CSV_COLUMNS):
            raise DataError("data.csv_bad_cells", path=shown, line=lineno, found=len(cells), expected=len(CSV_COLUMNS))
        for col in (0, 1):
            points[row, col] = _number(cells[col], shown, lineno, CSV_COLUMNS[col])
        if not cells[2] or _NOT_FINITE.fullmatch(cells[2]):
            raise DataError("data.csv_bad_number", path=shown, line=lineno, column="label", value=cells[2])
        labels.append(cells[2])
    problem, classes, names, targets = labels_to_targets(labels, problem, shown)
    return Dataset(name, problem, points, targets, classes, names)


def _lines(data: bytes, shown: str) -> list[str]:
    """The file's lines (any line ends), or a DataError for non-UTF-8 or binary data."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError("data.csv_not_text", path=shown, line=line) from None
    if "\x00" in text:
        raise DataError("data.csv_binary", path=shown, line=data[: data.index(b"\x00")].count(b"\n") + 1)
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _number(cell: str, shown: str, lineno: int, column: str) -> float:
    number = float(cell) if _NUMBER.fullmatch(cell) else float("nan")
    if not np.isfinite(number):  # also catches overflow such as 1e999
        raise DataError("data.csv_bad_number", path=shown, line=lineno, column=column, value=cell)
    return number


def labels_to_targets(
    labels: Sequence[str], problem: str | None = None, shown: str = "csv", first_line: int = 2
) -> tuple[str, int, tuple[str, ...], np.ndarray]:
    """Decide what the label cells mean and turn them into training targets.

    ±1, 0/1 or two names → two classes, targets ±1 (the first class −1); 3 to 10 distinct
    integers or names → that many classes, targets the class index (integers ascending,
    names in order of first appearance); other numbers → regression, targets the numbers.
    A given ``problem`` overrides the guess where the labels allow it.

    Args:
        labels: the label cells, as text, in row order.
        problem: ``"classification"``, ``"regression"`` or ``None`` (decide).
        shown: how messages name the source.
        first_line: the line of the first label (for messages).

    Returns:
        ``(problem, classes, class_names, targets)``; ``classes`` is 2 and ``class_names``
        empty for regression. Shape: targets (N,), float64.

    Raises:
        DataError: a name where numbers are needed, non-integers for classification, one
            class only, more than 10 classes; each naming the line.

    Example:
        >>> labels_to_targets(["cat", "dog", "cat"])[:3]
        ('classification', 2, ('cat', 'dog'))
        >>> labels_to_targets(["2", "0", "1"])[3].tolist()
        [2.0, 0.0, 1.0]
    """
    numeric = all(_NUMBER.fullmatch(v) for v in labels)
    if problem is None and numeric and len({float(v) for v in labels}) == 1:
        raise DataError("data.csv_one_class", path=shown, line=first_line, value=labels[0])
    if problem == REGRESSION or (problem is None and numeric and not _classes_from_numbers(labels)):
        if not numeric:
            row = next(i for i, v in enumerate(labels) if not _NUMBER.fullmatch(v))
            raise DataError("data.csv_bad_number", path=shown, line=row + first_line, column="label", value=labels[row])
        return REGRESSION, 2, (), np.array([float(v) for v in labels], dtype=np.float64)
    if numeric:
        values = np.array([float(v) for v in labels], dtype=np.float64)
        bad = np.flatnonzero(values != np.round(values))
        if bad.size:
            row = int(bad[0])
            raise DataError("data.csv_bad_class_label", path=shown, line=row + first_line, value=labels[row])
        distinct = sorted(set(values.tolist()))
        names = tuple(_int_text(v) for v in distinct)
        index = {v: i for i, v in enumerate(distinct)}
        keys: list[object] = values.tolist()
    else:
        names = tuple(dict.fromkeys(labels))
        index = {v: i for i, v in enumerate(names)}
        keys = list(labels)
    if len(names) > MAX_CLASSES:
        extra = names[MAX_CLASSES] if not numeric else distinct[MAX_CLASSES]
        row = keys.index(extra)
        raise DataError("data.csv_too_many_classes", path=shown, line=row + first_line, value=labels[row], max=MAX_CLASSES)
    if len(names) < 2:
        raise DataError("data.csv_one_class", path=shown, line=first_line, value=labels[0])
    idx = np.array([index[k] for k in keys], dtype=np.float64)  # (N,)
    if len(names) == 2:
        return CLASSIFICATION, 2, names, np.where(idx == 0, -1.0, 1.0)
    return CLASSIFICATION, len(names), names, idx


def _classes_from_numbers(labels: Sequence[str]) -> bool:
    """Whether numeric labels read as classes: ±1 or 0/1 (both present), or 3 to 10 integers."""
    values = {float(v) for v in labels}
    if len(values) == 2 and values in ({-1.0, 1.0}, {0.0, 1.0}):
        return True
    return 3 <= len(values) <= MAX_CLASSES and all(v == round(v) for v in values)


def _int_text(v: float) -> str:
    return str(int(v)) if abs(v) < 2**53 else repr(v)
