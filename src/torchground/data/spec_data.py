"""The spec's data fields: a data file, the number of classes, and the input scaling.

:class:`~torchground.spec.Spec` calls :func:`resolve_data` first when it is made; this
module resolves and checks the fields that say where the points come from and what the
labels mean, so the spec module stays about the experiment as a whole:

* ``dataset="csv"`` with ``data_file`` (a CSV file) and ``data_sha256`` (its bytes'
  SHA-256, so a stored spec repeats the run on exactly that file or refuses); ``problem``,
  ``n_samples``, ``classes`` and ``class_names`` then come from the file
  (:func:`csv_fields` reads them, the spec itself never opens a file);
* ``classes``: 2 for the Playground's sets (one ±1 output), 3 to 10 for ``blobs``,
  ``spiral-k`` and CSV files with that many classes (K outputs, softmax in
  ``nn.CrossEntropyLoss``, the default loss; the output activation is the identity so the
  outputs are the logits); ``None`` for regression;
* ``standardize`` (default on for data files, off for the generated sets, which already lie
  in the Playground's box) with ``input_mean`` and ``input_scale``: every consumer feeds the
  network ``(x − mean) / scale`` (:func:`standardize_points`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from torchground.data.csv_io import parse_csv, read_bytes, sha256_of
from torchground.data.datasets import (
    CLASSIFICATION, DATASETS, MAX_CLASSES, REGRESSION, Dataset, DatasetInfo, check_classes, class_names,
)
from torchground.errors import DataError, SpecError
from torchground.i18n import Text
from torchground.registry import LOSSES

__all__ = [
    "CSV", "DATA_FIELDS", "is_dataset", "resolve_data", "csv_fields", "standardize_points", "n_outputs", "load_data",
    "standardized", "carry_over", "split_text",
]

CSV = "csv"
#: The spec fields this module resolves (besides problem and n_samples for CSV data).
DATA_FIELDS = ("data_file", "data_sha256", "classes", "class_names", "standardize", "input_mean", "input_scale")
_SHA = re.compile(r"[0-9a-f]{64}")


def is_dataset(name: Any) -> bool:
    """Whether ``name`` is a data set a spec may name (a generated one, or ``csv``)."""
    return name == CSV or name in DATASETS


def n_outputs(spec: Any) -> int:
    """Output units of the spec's network: K for K ≥ 3 classes, else 1."""
    return spec.classes if (spec.classes or 2) > 2 else 1


def standardize_points(spec: Any, points: Any) -> Any:
    """``(points − input_mean) / input_scale`` where the spec standardises, else ``points`` as is.

    Works on NumPy arrays and torch tensors alike (the result keeps the input's kind).

    Shape:
        points (N, 2) → (N, 2).
    """
    if not spec.standardize:
        return points
    mean = points.new_tensor(spec.input_mean) if hasattr(points, "new_tensor") else np.asarray(spec.input_mean)
    scale = points.new_tensor(spec.input_scale) if hasattr(points, "new_tensor") else np.asarray(spec.input_scale)
    return (points - mean) / scale


def _refuse(field: str, shown: Any, key: str, **params: Any) -> SpecError:
    return SpecError("spec.refused", field=field, value=shown, reason=Text(key, **params))


def resolve_data(spec: Any, set_field: Callable[[Any, str, Any], None]) -> DatasetInfo:
    """Resolve and check the data fields of ``spec`` (see the module docstring).

    Sets ``classes``, ``class_names``, ``standardize``, ``loss`` and, for K classes,
    ``output_activation`` where they are ``None``; returns the data set's registry entry
    (for ``csv`` one made from the spec's own ``problem`` and ``n_samples``).

    Raises:
        SpecError: naming the field, the value and why.
    """
    if spec.dataset == CSV:
        info = _csv_info(spec, set_field)
    else:
        info = DATASETS[spec.dataset]
        for field in ("data_file", "data_sha256", "input_mean", "input_scale"):
            if getattr(spec, field) is not None:
                raise _refuse(field, getattr(spec, field), "classes.only_csv", dataset=spec.dataset)
        try:
            set_field(spec, "classes", check_classes(info, spec.classes))
        except DataError as exc:
            raise SpecError("spec.refused", field="classes", value=spec.classes, reason=Text(exc.key, **exc.params)) from None
        if spec.standardize:
            raise _refuse("standardize", True, "classes.standardize_generated", dataset=spec.dataset)
        set_field(spec, "standardize", False)
        set_field(spec, "class_names", class_names(spec.classes) if spec.classes else ())  # generated: by index
    if spec.classes is not None and (spec.class_names is None or len(spec.class_names) != spec.classes):
        raise _refuse("class_names", ", ".join(spec.class_names or ()), "classes.bad_names", classes=spec.classes, found=len(spec.class_names or ()))
    multi = (spec.classes or 2) > 2
    seed, loop = getattr(spec, "tf_playground_seed", None), getattr(spec, "training_loop", None)
    if multi and (seed is not None or loop == "tf-playground"):  # before the loss TensorFlow Playground's settings chose
        field, value = ("tf_playground_seed", seed) if seed is not None else ("training_loop", loop)
        raise _refuse(field, value, "classes.two_only", where=Text("classes.where.tfpg"), classes=spec.classes,
                      instead=Text("classes.instead.tfpg"))  # the one K-class refusal (classes.two_only)
    if seed is not None and spec.dataset == CSV:
        raise _refuse("tf_playground_seed", seed, "classes.tfpg_two_classes")
    if spec.loss is None:
        set_field(spec, "loss", "crossentropy" if multi else "mse")
    fits = "multiclass" in LOSSES.get(spec.loss).info["problems"]
    if multi and not fits:
        raise _refuse("loss", spec.loss, "classes.loss_binary", classes=spec.classes, allowed=_multi_losses())
    if not multi and fits:
        raise _refuse("loss", spec.loss, "classes.loss_multi", allowed=_multi_losses())
    if multi:
        if spec.output_activation is None:
            set_field(spec, "output_activation", "identity")
        elif spec.output_activation != "identity":
            raise _refuse("output_activation", spec.output_activation, "classes.output_identity", classes=spec.classes)
    return info


def _multi_losses() -> str:
    return ", ".join(n for n in LOSSES.names() if "multiclass" in LOSSES.get(n).info["problems"])


def _csv_info(spec: Any, set_field: Callable[[Any, str, Any], None]) -> DatasetInfo:
    """Check the fields a CSV spec carries from its file (see :func:`csv_fields`)."""
    if not isinstance(spec.data_file, str) or not spec.data_file:
        raise _refuse("data_file", spec.data_file, "classes.csv_needs_file")
    if not isinstance(spec.data_sha256, str) or not _SHA.fullmatch(spec.data_sha256):
        raise _refuse("data_sha256", spec.data_sha256, "classes.csv_needs_sha")
    if spec.problem is None or spec.n_samples is None:
        raise _refuse("dataset", CSV, "classes.csv_needs_file")
    if spec.problem == CLASSIFICATION:
        if spec.classes is None or not 2 <= spec.classes <= MAX_CLASSES:
            raise _refuse("classes", spec.classes, "classes.bad_count", value=spec.classes, min=2, max=MAX_CLASSES)
    elif spec.classes is not None or spec.class_names:
        raise _refuse("classes", spec.classes, "classes.regression_no_classes")
    else:
        set_field(spec, "class_names", ())
    if spec.standardize is None:
        set_field(spec, "standardize", True)
    if spec.standardize:
        for field in ("input_mean", "input_scale"):
            value = getattr(spec, field)
            ok = value is not None and all(math.isfinite(v) for v in value)
            if not ok or (field == "input_scale" and min(value) <= 0):
                raise _refuse(field, value, "classes.bad_scaling")
    return DatasetInfo(CSV, spec.problem, spec.n_samples, "classes.summary_csv", spec.classes, False)


def csv_fields(
    path: str | os.PathLike[str], problem: str | None = None, standardize: bool = True, data: bytes | None = None
) -> dict[str, Any]:
    """The spec fields of a CSV data file: read it once, check every rule, describe it.

    Args:
        path: the file (read unless ``data`` is given; stored in the spec as given).
        problem: ``"classification"`` or ``"regression"`` to override what the labels say.
        standardize: whether the inputs will be standardised (mean and scale are stored
            either way where the file has points).
        data: the file's bytes, when already read (an upload).

    Returns:
        ``dataset``, ``data_file``, ``data_sha256``, ``problem``, ``n_samples``, ``classes``,
        ``class_names``, ``standardize``, ``input_mean``, ``input_scale``.

    Raises:
        DataError: any refusal of :func:`~torchground.data.csv_io.parse_csv`.
    """
    raw = read_bytes(path) if data is None else data
    ds = parse_csv(raw, str(path), problem=problem)
    mean = ds.points.mean(axis=0)  # (2,)
    scale = ds.points.std(axis=0)  # (2,)
    scale = np.where(scale > 0, scale, 1.0)
    regression = ds.problem == REGRESSION
    return {
        "dataset": CSV,
        "data_file": str(Path(path)),
        "data_sha256": sha256_of(raw),
        "problem": ds.problem,
        "n_samples": ds.n,
        "classes": None if regression else ds.classes,
        "class_names": () if regression else ds.class_names,
        "standardize": standardize,
        "input_mean": (float(mean[0]), float(mean[1])) if standardize else None,
        "input_scale": (float(scale[0]), float(scale[1])) if standardize else None,
    }


def load_data(spec: Any) -> Dataset:
    """The spec's CSV data: its file read and checked against ``data_sha256``, the rows
    shuffled once with ``seed`` (a file is often sorted by class) and, where the spec says
    so, standardised (:func:`standardize_points`).

    Raises:
        DataError: the file is missing, refused (see :func:`~torchground.data.csv_io.parse_csv`)
            or no longer the file the spec was made from.
    """
    raw = read_bytes(spec.data_file)
    found = sha256_of(raw)
    if found != spec.data_sha256:
        raise DataError("classes.csv_changed", path=spec.data_file, expected=spec.data_sha256[:12], found=found[:12])
    ds = parse_csv(raw, spec.data_file, problem=spec.problem)
    order = np.random.default_rng(spec.seed).permutation(ds.n)
    ds = ds.reorder(order)
    return standardized(spec, ds)


def standardized(spec: Any, ds: Dataset) -> Dataset:
    """``ds`` with its points standardised as ``spec`` says (the same object where it does not)."""
    if not spec.standardize:
        return ds
    return Dataset(ds.name, ds.problem, standardize_points(spec, ds.points), ds.labels, ds.classes, ds.class_names)


def carry_over(data: dict[str, Any], changes: Any) -> None:
    """Adjust a spec's fields (``data``, a plain dict) for ``changes`` before they apply.

    :meth:`~torchground.spec.Spec.replace` calls this: leaving a data file for a generated
    set drops the file's fields, and a change between one output and K outputs lets the
    loss and the output activation follow (unless ``changes`` names them). With a data
    file, ``problem``, ``n_samples`` and ``classes`` are pinned in ``changes`` (a dict it may extend).
    """
    new_dataset = changes.get("dataset", data["dataset"])
    old_multi = (data.get("classes") or 2) > 2
    if new_dataset == CSV:  # a data file's problem and size are its own: never resolved from others
        for field in ("problem", "n_samples", "classes"):
            changes.setdefault(field, data[field])
    if data["dataset"] == CSV and new_dataset != CSV:
        for field in (*DATA_FIELDS, "problem", "n_samples"):
            if field not in changes:
                data[field] = None
    if new_dataset in DATASETS and not DATASETS[new_dataset].multi_class and "classes" not in changes:
        data["classes"] = None  # the Playground's sets have their own count
    asked = changes.get("classes")
    if isinstance(asked, str):  # the CLI's and URL's text form
        asked = int(asked) if asked.strip().isdigit() else None
    if isinstance(asked, int) and not isinstance(asked, bool):
        new_multi = asked > 2
    elif new_dataset in DATASETS:
        new_multi = DATASETS[new_dataset].multi_class
    else:
        new_multi = old_multi
    if new_multi != old_multi:
        for field in ("loss", "output_activation"):
            if field not in changes:
                data[field] = None
    if new_multi and data.get("training_loop") == "tf-playground" and "training_loop" not in changes:
        data["training_loop"] = "pytorch"  # TensorFlow Playground's loop has one output


def split_text(field: str, value: Any) -> Any:
    """``class_names``, ``input_mean`` and ``input_scale`` from their text form (``"a,b,c"``;
    ``"none"`` or ``""`` for none); other values as they are (the spec checks them).

    >>> split_text("class_names", "cat, dog"), split_text("input_mean", "1.5,-2"), split_text("input_scale", "none")
    (('cat', 'dog'), ('1.5', '-2'), None)
    """
    if not isinstance(value, str):
        return value
    if value.strip().lower() in ("", "none"):
        return () if field == "class_names" else None
    return tuple(part.strip() for part in value.split(","))
