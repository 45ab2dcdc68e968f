"""Your own data from Python: a spec made from a CSV file or from arrays.

:func:`data_spec` is what ``--data FILE.csv`` does on the command line: the file is read
once, checked by every rule of :mod:`torchground.data.csv_io`, and the spec pins it by
its SHA-256. Arrays are written to a CSV file first (atomically), so the run stays
reproducible from that file.

Example:
    >>> import numpy as np, tempfile, os
    >>> from torchground.train import train
    >>> points = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [6.0, 6.0], [10.0, 0.0], [11.0, 1.0]])
    >>> path = os.path.join(tempfile.mkdtemp(), "mine.csv")
    >>> spec = data_spec((points, ["a", "a", "b", "b", "c", "c"]), save_as=path, epochs=2, batch_size=1)
    >>> spec.classes, spec.class_names, spec.loss
    (3, ('a', 'b', 'c'), 'crossentropy')
    >>> train(spec).history.epochs
    2
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from torchground.atomic import atomic_path
from torchground.data.csv_io import CSV_HEADER
from torchground.data.spec_data import csv_fields
from torchground.errors import DataError
from torchground.spec import Spec

__all__ = ["data_spec"]


def data_spec(
    source: str | os.PathLike[str] | tuple[Any, Sequence[Any]],
    problem: str | None = None,
    standardize: bool = True,
    save_as: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Spec:
    """A spec that trains on your own data.

    Args:
        source: a CSV file (header ``x1,x2,label``), or ``(points, labels)``: points of
            shape (N, 2), labels N numbers or names.
        problem: ``"classification"`` or ``"regression"`` to override what the labels say.
        standardize: feed the network standardised inputs (default True).
        save_as: for arrays, the CSV file they are written to (required then).
        overrides: any other spec fields (``hidden=(8,)``, ``epochs=200``, …).

    Raises:
        DataError: a refused file or arrays (the message names the line and the reason).
        SpecError: a refused spec field.
    """
    if isinstance(source, tuple) and len(source) == 2:
        if save_as is None:
            raise DataError("classes.arrays_need_path")
        if os.path.isdir(save_as):
            raise DataError("data.save_as_dir", path=str(save_as))
        text = _csv_text(source[0], source[1])
        with atomic_path(save_as) as tmp:  # checked before it becomes the file: a refused one leaves nothing
            tmp.write_text(text, encoding="utf-8")
            csv_fields(tmp, problem=problem, standardize=standardize)
        source = save_as
    elif not isinstance(source, (str, os.PathLike)):
        raise DataError("data.bad_source", kind=type(source).__name__)
    fields = csv_fields(source, problem=problem, standardize=standardize)
    return Spec(**{**overrides, **fields})


def _csv_text(points: Any, labels: Any) -> str:
    """``points`` (N, 2) and N ``labels`` as the CSV text the reader takes; malformed arrays refused."""
    try:
        xy, names = np.asarray(points, dtype=np.float64), list(labels)
    except (TypeError, ValueError) as exc:
        raise DataError("data.bad_arrays", reason=type(exc).__name__) from None
    if xy.ndim != 2 or xy.shape[1] != 2 or len(names) != xy.shape[0]:
        raise DataError("data.bad_shape", points=tuple(xy.shape), labels=(len(names),))
    cells = [_label(v) for v in names]
    for cell in cells:
        if any(ch in cell for ch in ',"\r\n'):  # the CSV reader splits on commas: such a name cannot be read back
            raise DataError("data.bad_label_text", label=cell[:40])
    rows = [f"{x1!r},{x2!r},{c}" for (x1, x2), c in zip(xy.tolist(), cells)]
    return "\n".join([CSV_HEADER, *rows]) + "\n"


def _label(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value).strip()
