"""The lessons as Jupyter notebooks, one per lesson and language, made from the lessons themselves.

Besides the curriculum's three lessons, the tutorials on your own data
(:mod:`torchground.lessons.own_data`) and on TensorFlow Playground links
(:mod:`torchground.lessons.tf_playground`) become ``own-data.ipynb`` and
``tf-playground.ipynb`` the same way.

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

import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from torchground.atomic import write_text
from torchground.codegen import notebook_json
from torchground.i18n import LANGUAGES, Text, resolve_language, t
from torchground.lessons.lesson3 import DEFAULT_EPOCHS
from torchground.lessons.own_data import DEFAULT_EPOCHS as OWN_DATA_EPOCHS
from torchground.lessons.own_data import OWN_DATA, own_data
from torchground.lessons.steps import Lesson, LessonResult, render_code
from torchground.lessons.tf_playground import DEFAULT_EPOCHS as TFPG_EPOCHS
from torchground.lessons.tf_playground import TF_PLAYGROUND, tf_playground

__all__ = [
    "NOTEBOOK_SETTINGS", "OWN_DATA_SETTINGS", "TFPG_SETTINGS", "NOTEBOOKS", "lesson_notebook", "own_data_notebook",
    "tf_playground_notebook", "write_notebooks",
]

#: The settings the notebooks' code is written with (output folders beside the notebook).
NOTEBOOK_SETTINGS: dict[int, dict[str, Any]] = {
    1: {"out_dir": "lesson1-output"},
    2: {},
    3: {"out_dir": "lesson3-output", "epochs": DEFAULT_EPOCHS},
}

#: The own-data tutorial's settings in its notebook.
OWN_DATA_SETTINGS: dict[str, Any] = {"out_dir": "own-data-output", "epochs": OWN_DATA_EPOCHS}
#: The TensorFlow Playground tutorial's settings in its notebook.
TFPG_SETTINGS: dict[str, Any] = {"out_dir": "tf-playground-output", "epochs": TFPG_EPOCHS}

# Explanation fields that depend on the machine or on the run's folder: what the notebook says.
_FIELDS: dict[str, dict[str, Any]] = {
    "lessons.l1.graph": {"path": "`lesson1-output/`", "fmt": Text("lessons.nb.fmt")},
    "lessons.l2.devices": {"device": Text("lessons.nb.device")},
    "lessons.l3.plot": {"path": "`lesson3-output/lesson3-loss.png`"},
}


def lesson_notebook(number: int, lang: str | None = None) -> str:
    """Lesson ``number`` (1–3) as a notebook (nbformat 4 JSON) in ``lang``.

    The lesson runs once (in a temporary folder) for the numbers its explanations quote.

    Raises:
        TorchgroundError: an unknown lesson or language.
    """
    from torchground.lessons import LESSONS, check_lesson, run  # the package imports this module

    number = check_lesson(number)
    lang = resolve_language(lang, "lessons.bad_lang")
    settings = {"lang": lang, **NOTEBOOK_SETTINGS[number]}
    with tempfile.TemporaryDirectory(prefix="torchground-notebook-") as tmp:
        result = run(number, lang=lang, out_dir=tmp if "out_dir" in settings else None, epochs=settings.get("epochs"))
    head = t("lessons.ui.lesson", lang, number=number, title=result.title)
    return _notebook(LESSONS[number], result, settings, head, t("lessons.nb.how", lang, number=number))


def own_data_notebook(lang: str | None = None) -> str:
    """The own-data tutorial (:mod:`torchground.lessons.own_data`) as a notebook in ``lang``."""
    lang = resolve_language(lang, "lessons.bad_lang")
    settings = {"lang": lang, **OWN_DATA_SETTINGS}
    with tempfile.TemporaryDirectory(prefix="torchground-notebook-") as tmp:
        result = own_data(lang=lang, epochs=settings["epochs"], out_dir=tmp)
    return _notebook(OWN_DATA, result, settings, result.title, t("lessons.nb.how_own", lang))


def tf_playground_notebook(lang: str | None = None) -> str:
    """The TensorFlow Playground tutorial (:mod:`torchground.lessons.tf_playground`) as a notebook."""
    lang = resolve_language(lang, "lessons.bad_lang")
    settings = {"lang": lang, **TFPG_SETTINGS}
    with tempfile.TemporaryDirectory(prefix="torchground-notebook-") as tmp:
        result = tf_playground(lang=lang, epochs=settings["epochs"], out_dir=tmp)
    return _notebook(TF_PLAYGROUND, result, settings, result.title, t("lessons.nb.how_tfpg", lang))


#: Per lesson, what its closing playground widget is given: the lesson's own state where it has one.
WIDGET_ARGS: dict[str, str] = {
    "lessons.l1": "hidden=()",  # one neuron, as in the lesson
    "lessons.l2": "",
    "lessons.l3": "",  # the recipe the lesson trained
    "lessons.own": "spec",  # the tutorial's spec of the data file
    "lessons.tfpg": "LINK",  # the tutorial's TensorFlow Playground link
}


def _widget_cells(lesson: Lesson, lang: str, index: int) -> list[dict[str, Any]]:
    """The notebook's last cells: the playground widget (``tg.Playground``), continuing the lesson."""
    args = WIDGET_ARGS[lesson.key]
    code = (f"import torchground as tg\n\nplayground = tg.Playground({args}{', ' if args else ''}lang=\"{lang}\")"
            f"  # {t('lessons.nb.widget_comment', lang)}\nplayground")
    text = t(f"lessons.nb.widget.{lesson.key.removeprefix('lessons.')}", lang)
    return [notebook_json.cell("markdown", index, f"## {t('lessons.nb.widget_head', lang)}\n\n{text}"), notebook_json.cell("code", index, code)]


def _notebook(lesson: Lesson, result: LessonResult, settings: dict[str, Any], head: str, how: str) -> str:
    lang = result.lang
    cells = [notebook_json.cell("markdown", 0, f"# {head}\n\n{result.intro}\n\n{how}")]
    for step in result.steps:
        params = {**step.params, **_FIELDS.get(step.key, {})}
        text = t(f"{step.key}.text", lang, **params)
        cells.append(notebook_json.cell("markdown", step.number, f"## {step.heading()}\n\n{text}"))
        cells.append(notebook_json.cell("code", step.number, render_code(lesson.steps[step.number - 1].code, settings, lesson.key, lang)))
    cells += _widget_cells(lesson, lang, len(result.steps) + 1)
    return notebook_json.dumps(cells)


#: Notebook file name (without ``.ipynb``) → the function that makes it in a language.
NOTEBOOKS: dict[str, Callable[[str], str]] = {
    "lesson1": lambda lang: lesson_notebook(1, lang),
    "lesson2": lambda lang: lesson_notebook(2, lang),
    "lesson3": lambda lang: lesson_notebook(3, lang),
    "own-data": own_data_notebook,
    "tf-playground": tf_playground_notebook,
}


def write_notebooks(folder: str | Path) -> list[Path]:
    """Write ``<folder>/<lang>/<name>.ipynb`` for every notebook of :data:`NOTEBOOKS` and language."""
    written = []
    for lang in LANGUAGES:
        for name, make in NOTEBOOKS.items():
            path = Path(folder) / lang / f"{name}.ipynb"
            write_text(path, make(lang))
            written.append(path)
    return written


if __name__ == "__main__":  # python -m torchground.lessons.notebooks FOLDER
    for written_path in write_notebooks(sys.argv[1] if len(sys.argv) > 1 else "examples"):
        print(written_path)
