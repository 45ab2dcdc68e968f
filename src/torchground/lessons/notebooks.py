"""The lessons as Jupyter notebooks, one per lesson and language, made from the lessons themselves.

Each notebook is a tutorial in one language: a title and introduction, then for every step
a Markdown cell (heading and explanation) and a code cell holding the step's code exactly
as ``torchground lesson N --lang <lang>`` shows and runs it (comments and printed labels
in that language). The notebooks in ``examples/ja/`` and ``examples/en/`` are written by
this module, so they stay in step with the lessons (a test regenerates and compares them)::

    python -m torchground.lessons.notebooks examples

The explanations quote what the lesson computed (the flaw step's numbers), from a run of
the lesson; where that depends on the machine (a GPU or not, Graphviz or not) the notebook
says what to expect instead.

Example:
    >>> import json
    >>> nb = json.loads(lesson_notebook(2, "ja"))
    >>> nb["cells"][0]["source"][0]
    '# レッスン 2：テンソルとデータ型：実行できるチートシート\\n'
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from torchground.atomic import write_text
from torchground.i18n import LANGUAGES, Text, resolve_language, t
from torchground.lessons.lesson3 import DEFAULT_EPOCHS
from torchground.lessons.steps import render_code

__all__ = ["NOTEBOOK_SETTINGS", "lesson_notebook", "write_notebooks"]

#: The settings the notebooks' code is written with (output folders beside the notebook).
NOTEBOOK_SETTINGS: dict[int, dict[str, Any]] = {
    1: {"out_dir": "lesson1-output"},
    2: {},
    3: {"out_dir": "lesson3-output", "epochs": DEFAULT_EPOCHS},
}

# Explanation fields that depend on the machine or on the run's folder: what the notebook says.
_FIELDS: dict[str, dict[str, Any]] = {
    "lessons.l1.graph": {"path": "`lesson1-output/`", "fmt": Text("lessons.nb.fmt")},
    "lessons.l2.devices": {"device": Text("lessons.nb.device")},
    "lessons.l3.plot": {"path": "`lesson3-output/lesson3-loss.png`"},
}


def _cell(kind: str, index: int, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": f"{kind[:2]}-{index:02d}",
        "metadata": {},
        "source": source.rstrip("\n").splitlines(keepends=True),
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def lesson_notebook(number: int, lang: str | None = None) -> str:
    """Lesson ``number`` (1–3) as a notebook (nbformat 4 JSON) in ``lang``.

    The lesson runs once (in a temporary folder) for the numbers its explanations quote.

    Raises:
        TorchgroundError: an unknown lesson or language.
    """
    from torchground.lessons import LESSONS, check_lesson, run  # the package imports this module

    number = check_lesson(number)
    lang = resolve_language(lang, "lessons.bad_lang")
    lesson = LESSONS[number]
    settings = {"lang": lang, **NOTEBOOK_SETTINGS[number]}
    with tempfile.TemporaryDirectory(prefix="torchground-notebook-") as tmp:
        result = run(number, lang=lang, out_dir=tmp if "out_dir" in settings else None, epochs=settings.get("epochs"))
    head = t("lessons.ui.lesson", lang, number=number, title=result.title)
    intro = f"# {head}\n\n{result.intro}\n\n" + t("lessons.nb.how", lang, number=number)
    cells = [_cell("markdown", 0, intro)]
    for step in result.steps:
        params = {**step.params, **_FIELDS.get(step.key, {})}
        text = t(f"{step.key}.text", lang, **params)
        cells.append(_cell("markdown", step.number, f"## {step.heading()}\n\n{text}"))
        cells.append(_cell("code", step.number, render_code(lesson.steps[step.number - 1].code, settings, lesson.key, lang)))
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"


def write_notebooks(folder: str | Path) -> list[Path]:
    """Write ``<folder>/<lang>/lesson<N>.ipynb`` for every lesson and language; return the paths."""
    from torchground.lessons import LESSONS

    written = []
    for lang in LANGUAGES:
        for number in LESSONS:
            path = Path(folder) / lang / f"lesson{number}.ipynb"
            write_text(path, lesson_notebook(number, lang))
            written.append(path)
    return written


if __name__ == "__main__":  # python -m torchground.lessons.notebooks FOLDER
    for written_path in write_notebooks(sys.argv[1] if len(sys.argv) > 1 else "examples"):
        print(written_path)
