"""Predictions for points in a CSV file: ``x1,x2,output|p_<class>...,label``.

The input needs columns ``x1`` and ``x2`` (others are ignored), numbers in the data's own
coordinates. The output has ``x1,x2``, then ``output`` (the network's output; regression
and two classes) or one ``p_<class>`` column per class (K classes, softmax
probabilities), then ``label`` (the predicted class: ±1 for two classes, the class name
or index for K classes; none for regression).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchground.atomic import write_text
from torchground.deploy.loaded import LoadedRun, n_classes
from torchground.errors import TorchgroundError

__all__ = ["predict_points", "predict_csv", "read_points", "MAX_ROWS"]

MAX_ROWS = 1_000_000


@torch.no_grad()
def predict_points(run: LoadedRun, points: np.ndarray) -> tuple[list[str], np.ndarray, list[Any] | None]:
    """Column names, values (N, C) and labels (``None`` for regression) for ``points`` (N, 2)."""
    predictor = run.predictor()
    out = predictor(torch.as_tensor(points)).double().numpy()  # (N, 1) or (N, K)
    k = n_classes(run.spec)
    if k == 0:
        return ["output"], out, None
    if k == 2:
        return ["output"], out, [1 if v >= 0 else -1 for v in out[:, 0]]
    names = list(getattr(run.spec, "class_names", None) or range(k))
    return [f"p_{n}" for n in names], out, [names[i] for i in out.argmax(axis=1)]


def read_points(path: str | Path) -> np.ndarray:
    """The ``x1,x2`` columns of a CSV file as a float64 (N, 2) array (refused clearly when unusable)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TorchgroundError("deploy.points_unreadable", path=str(p), reason=getattr(exc, "strerror", None) or str(exc)) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "x1" not in header or "x2" not in header:
        raise TorchgroundError("deploy.points_header", path=str(p), header=",".join(header) or "-")
    i1, i2 = header.index("x1"), header.index("x2")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            a, b = float(row[i1]), float(row[i2])
        except (ValueError, IndexError):
            raise TorchgroundError("deploy.points_row", path=str(p), line=line, row=",".join(row)[:80]) from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise TorchgroundError("deploy.points_row", path=str(p), line=line, row=",".join(row)[:80])
        rows.append((a, b))
        if len(rows) > MAX_ROWS:
            raise TorchgroundError("deploy.points_too_many", path=str(p), max=MAX_ROWS)
    if not rows:
        raise TorchgroundError("deploy.points_empty", path=str(p))
    return np.asarray(rows, dtype=np.float64)


def predict_csv(run: LoadedRun, data: str | Path, out: str | Path) -> int:
    """Predict every point of ``data`` and write ``out`` atomically; returns the number of points."""
    points = read_points(data)
    columns, values, labels = predict_points(run, points)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["x1", "x2", *columns, *(["label"] if labels is not None else [])])
    for i, (a, b) in enumerate(points):
        writer.writerow([repr(float(a)), repr(float(b)), *(repr(float(v)) for v in values[i]), *([labels[i]] if labels is not None else [])])
    write_text(out, buf.getvalue())
    return len(points)
