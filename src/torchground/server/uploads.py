"""Data files the page uploads (``POST /api/data``), and the one folder a session may read them from.

An upload is the CSV file's bytes (at most 10 MB; the token guard in front, as for every
route). It is checked by every rule of :mod:`torchground.data.csv_io` before anything is
written, then kept as ``<sha256>.csv`` in :func:`upload_dir` (one folder per user, under
the system's temporary folder), and answered with the spec fields of
:func:`~torchground.data.spec_data.csv_fields` (with K classes also cross-entropy and
PyTorch's loop; under :data:`SMALL_FILE` rows full batches); the page sends them back in a ``set``.
A spec from the page (``set``, URL state) may only name a data file in that folder
(:func:`check_data_file`), so a page cannot make the server read any other file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from torchground.atomic import write_bytes
from torchground.data.csv_io import MAX_CSV_BYTES, sha256_of
from torchground.data.spec_data import csv_fields
from torchground.errors import SpecError, TorchgroundError
from torchground.i18n import Text
from torchground.spec import SPEC_FIELDS, Spec

__all__ = ["MAX_UPLOAD_BYTES", "upload_dir", "save_upload", "check_data_file"]

MAX_UPLOAD_BYTES = MAX_CSV_BYTES
#: Files with fewer rows train in full batches (the smallest training part, 10 %, may hold
#: fewer points than the page's largest batch, 30).
SMALL_FILE = 300


def upload_dir() -> Path:
    """The folder uploads are kept in (made on first use, private to this user)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"torchground-uploads-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def save_upload(data: bytes, problem: str | None = None) -> dict[str, Any]:
    """Check an uploaded CSV file, keep it, and return its spec fields (JSON-ready).

    Raises:
        TorchgroundError: too large, or a refusal of the CSV rules (line and reason).
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise TorchgroundError("data.csv_too_big", path="upload", size=len(data), max=MAX_UPLOAD_BYTES)
    if problem not in (None, "", "classification", "regression"):
        raise TorchgroundError("data.bad_problem", value=problem, allowed="classification, regression")
    target = upload_dir() / f"{sha256_of(data)}.csv"
    fields = csv_fields(target, problem=problem or None, data=data)  # every rule, before writing
    if not target.exists():
        write_bytes(target, data)
    if fields["n_samples"] < SMALL_FILE:  # a batch of the page's size may not fit its training part
        fields["batch_size"] = "full"
    if fields["classes"] is not None and fields["classes"] > 2:  # K outputs: cross-entropy, PyTorch's loop
        fields.update(loss="crossentropy", output_activation="identity")
        if "training_loop" in SPEC_FIELDS:
            fields["training_loop"] = "pytorch"
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def check_data_file(spec: Spec) -> None:
    """Refuse a spec from the page whose data file is not an upload.

    Raises:
        SpecError: naming the field and the rule.
    """
    if spec.data_file is None:
        return
    path = Path(spec.data_file)
    if path.parent.resolve() != upload_dir().resolve() or path.suffix != ".csv":
        raise SpecError("spec.refused", field="data_file", value=spec.data_file, reason=Text("classes.upload_only"))
