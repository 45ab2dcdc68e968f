"""Reading and writing data sets as CSV files (``x1,x2,label``).

The format is deliberately small: one header line ``x1,x2,label`` and one row of three
decimal numbers per point. Writes are atomic (:mod:`torchground.atomic`) and keep full
float precision, so a write/read round trip gives the same arrays bit for bit. Reading
refuses anything else with a :class:`~torchground.errors.DataError` that names the file,
the line number and what is wrong, never a traceback.

Cells are split on commas by hand rather than with :mod:`csv`: the format has no quoting,
and a plain split makes "wrong number of cells" exact and easy to report.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from torchground.atomic import write_text
from torchground.data.datasets import CLASSIFICATION, MAX_SAMPLES, PROBLEMS, REGRESSION, Dataset
from torchground.errors import DataError

__all__ = ["CSV_HEADER", "write_csv", "read_csv"]

CSV_COLUMNS: tuple[str, ...] = ("x1", "x2", "label")
CSV_HEADER = ",".join(CSV_COLUMNS)

# A plain decimal number: rejects nan/inf and Python-only forms such as "1_000".
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def write_csv(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` to ``path`` as CSV, atomically.

    The header is ``x1,x2,label``; each value is written with ``repr`` (the shortest text
    that reads back to the same float64). Missing parent folders are created.

    Args:
        ds: the data set.
        path: the target file; replaced whole or not at all.
    """
    lines = [CSV_HEADER]
    for (x1, x2), label in zip(ds.points.tolist(), ds.labels.tolist()):
        lines.append(f"{x1!r},{x2!r},{label!r}")
    write_text(path, "\n".join(lines) + "\n")


def read_csv(path: str | os.PathLike[str], name: str = "csv", problem: str | None = None) -> Dataset:
    """Read a data set from a CSV file written by :func:`write_csv` (or by hand).

    The first line must be ``x1,x2,label``; every further line three finite decimal
    numbers. Spaces around cells, Windows line ends, a UTF-8 byte-order mark and blank
    lines at the end are accepted.

    Args:
        path: the CSV file.
        name: the name the data set gets. Default: ``"csv"``.
        problem: ``"classification"`` or ``"regression"``. Default: ``None``, inferred:
            classification when every label is -1 or 1, else regression.

    Returns:
        A :class:`~torchground.data.datasets.Dataset` with the rows in file order.

    Raises:
        DataError: missing or unreadable file, empty file, wrong header, wrong number of
            cells, a cell that is not a finite number, no data rows, more than 100000
            rows, or a label other than ±1 when ``problem`` is classification. The
            message names the line.
    """
    if problem is not None and problem not in PROBLEMS:
        raise DataError("data.bad_problem", value=problem, allowed=", ".join(PROBLEMS))
    shown = str(path)
    text = _read_text(Path(path), shown)
    lines = text.split("\n")  # universal newlines already turned \r\n and \r into \n
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError("data.csv_empty", path=shown)

    header = [cell.strip() for cell in lines[0].split(",")]
    if tuple(header) != CSV_COLUMNS:
        raise DataError("data.csv_bad_header", path=shown, line=1, found=lines[0].strip(), expected=CSV_HEADER)
    if len(lines) - 1 > MAX_SAMPLES:
        raise DataError("data.csv_too_many_rows", path=shown, line=MAX_SAMPLES + 2, max=MAX_SAMPLES)
    if len(lines) == 1:
        raise DataError("data.csv_no_rows", path=shown, line=2)

    values = np.empty((len(lines) - 1, 3), dtype=np.float64)
    for row, line in enumerate(lines[1:]):
        lineno = row + 2
        if not line.strip():
            raise DataError("data.csv_blank_line", path=shown, line=lineno)
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(CSV_COLUMNS):
            raise DataError("data.csv_bad_cells", path=shown, line=lineno, found=len(cells), expected=len(CSV_COLUMNS))
        for col, cell in enumerate(cells):
            number = float(cell) if _NUMBER.fullmatch(cell) else float("nan")
            if not np.isfinite(number):  # also catches overflow such as 1e999
                raise DataError("data.csv_bad_number", path=shown, line=lineno, column=CSV_COLUMNS[col], value=cell)
            values[row, col] = number

    labels = values[:, 2]
    is_class = np.isin(labels, (-1.0, 1.0))
    if problem is None:
        problem = CLASSIFICATION if is_class.all() else REGRESSION
    elif problem == CLASSIFICATION and not is_class.all():
        row = int(np.argmin(is_class))
        raise DataError("data.csv_bad_class_label", path=shown, line=row + 2, value=lines[row + 1].split(",")[2].strip())
    return Dataset(name, problem, values[:, :2].copy(), labels.copy())


def _read_text(path: Path, shown: str) -> str:
    """The file's text, or a DataError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("data.csv_missing", path=shown) from None
    except UnicodeDecodeError:
        raise DataError("data.csv_not_text", path=shown) from None
    except OSError as exc:
        raise DataError("data.csv_unreadable", path=shown, reason=exc.strerror or type(exc).__name__) from None
