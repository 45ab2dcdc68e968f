"""Jupyter notebooks as text (nbformat 4 JSON): one cell, and the whole notebook.

Written by hand rather than through nbformat, which is an optional extra: the notebooks of
``export notebook`` and of the lessons are plain JSON, and both are made here.

Example:
    >>> import json
    >>> nb = json.loads(dumps([cell("markdown", 0, "# Title"), cell("code", 1, "x = 1\\nprint(x)\\n")]))
    >>> nb["nbformat"], nb["cells"][1]["source"], nb["cells"][1]["outputs"]
    (4, ['x = 1\\n', 'print(x)'], [])
"""

from __future__ import annotations

import json
from typing import Any, Sequence

__all__ = ["cell", "dumps"]


def cell(kind: str, index: int, source: str) -> dict[str, Any]:
    """A ``kind`` cell ("markdown" or "code") holding ``source``; its id says kind and index."""
    out: dict[str, Any] = {
        "cell_type": kind,
        "id": f"{kind[:2]}-{index:02d}",
        "metadata": {},
        "source": source.rstrip("\n").splitlines(keepends=True),
    }
    if kind == "code":
        out.update(execution_count=None, outputs=[])
    return out


def dumps(cells: Sequence[dict[str, Any]]) -> str:
    """The notebook of ``cells`` (a Python 3 kernel) as JSON text."""
    notebook = {
        "cells": list(cells),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"
