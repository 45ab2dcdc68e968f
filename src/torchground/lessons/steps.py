"""The step framework of the lessons: the code a step shows is exactly the code it runs.

A :class:`Lesson` is a list of :class:`Step` objects. A step holds a catalogue key (its
title and explanation, in English and Japanese) and a string of real PyTorch code. Running
a lesson executes each step's code with :func:`exec` in one namespace shared by the
lesson's steps, captures what the code printed, and reads chosen names back from the
namespace as the step's ``values`` (for tests and notebooks).

The code strings are torchground's own, fixed in the lesson modules; no user text is ever
executed. The only things filled in are the caller's settings (an output folder, a number
of epochs, the language), through ``$name`` fields of :class:`string.Template`
that are replaced by Python literals (``repr``), and the comments and printed labels,
written as ``«name»`` markers that become the catalogue text ``<lesson key>.c.<name>`` in
the reader's language (so ``--lang ja`` shows Japanese comments, ``--lang en`` English
ones, over the same code). Both happen *before* the code is shown or run, so the
text a learner reads, copies or runs as a script is the text that produced the output.

The global torch random state (CPU, and CUDA for a lesson that uses it) is forked while
a lesson runs, so running a lesson does not change the caller's random numbers (the
lesson code seeds its own where it matters).

Example:
    >>> lesson = Lesson(0, "lessons.l1", (Step("lessons.l1.forward", "y = 1 + $n\\nprint(y)", ("y",)),))
    >>> result = run_lesson(lesson, settings={"n": 2}, lang="en")
    >>> result.steps[0].code, result.steps[0].output, result.steps[0].values
    ('y = 1 + 2\\nprint(y)', '3\\n', {'y': 3})
"""

from __future__ import annotations

import contextlib
import io
import re
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from torchground.errors import TorchgroundError
from torchground.i18n import resolve_language, t

__all__ = ["Step", "Lesson", "StepResult", "LessonResult", "run_lesson", "render_code", "fill_texts"]

_MARKER = re.compile(r"«([a-z0-9_]+)»")
_WHOLE_LINE_COMMENT = re.compile(r"^(\s*)# «([a-z0-9_]+)»$")


@dataclass(frozen=True)
class Step:
    """One step of a lesson.

    Args:
        key: catalogue prefix; ``<key>.title`` and ``<key>.text`` are its title and
            explanation.
        code: Python source run with :func:`exec`; ``$name`` fields are replaced
            by the ``repr`` of the lesson's settings first (see :func:`render_code`).
        returns: names read from the namespace after the code ran, into
            :attr:`StepResult.values`.
        params: optional function of the namespace giving the explanation's
            fields (for texts that quote numbers the step computed).
    """

    key: str
    code: str
    returns: tuple[str, ...] = ()
    params: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Lesson:
    """A numbered lesson: ``<key>.title`` and ``<key>.intro`` in the catalogue, and its steps.

    ``uses_cuda`` marks a lesson whose code may touch CUDA; its run then also forks the
    CUDA random state (which initialises CUDA, so the others leave it alone).
    """

    number: int
    key: str
    steps: tuple[Step, ...]
    uses_cuda: bool = False


@dataclass(repr=False)
class StepResult:
    """What one step did: its texts, the code that ran, what it printed, and its values.

    ``params`` are the fields the explanation was filled with (numbers the step computed).

    ``str()`` and ``repr()`` give the step as text (heading, explanation, code, output);
    Jupyter shows it as Markdown.
    """

    lesson: int
    number: int
    total: int
    key: str
    title: str
    explanation: str
    code: str
    output: str
    values: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"
    params: dict[str, Any] = field(default_factory=dict)

    def heading(self) -> str:
        """``Step 3/7: Fixed parameters`` in the step's language."""
        return t("lessons.ui.step", self.lang, number=self.number, total=self.total, title=self.title)

    def __str__(self) -> str:
        output = self.output.rstrip("\n") or t("lessons.ui.no_output", self.lang)
        return "\n\n".join(
            [
                self.heading(),
                self.explanation,
                t("lessons.ui.code", self.lang) + "\n" + self.code.rstrip("\n"),
                t("lessons.ui.output", self.lang) + "\n" + output,
            ]
        )

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        output = self.output.rstrip("\n") or t("lessons.ui.no_output", self.lang)
        return (
            f"### {self.heading()}\n\n{self.explanation}\n\n"
            f"```python\n{self.code.rstrip()}\n```\n\n"
            f"**{t('lessons.ui.output', self.lang)}**\n\n```text\n{output}\n```\n"
        )


@dataclass(repr=False)
class LessonResult:
    """The steps a lesson ran (all of them, or the one asked for) with their results.

    ``str()`` gives the whole lesson as text, ``repr()`` a short summary; Jupyter shows
    the whole lesson as Markdown.
    """

    number: int
    title: str
    intro: str
    lang: str
    total: int
    steps: tuple[StepResult, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def step(self, number: int) -> StepResult:
        """The result of step ``number`` (1-based), if it is among :attr:`steps`."""
        for result in self.steps:
            if result.number == number:
                return result
        raise KeyError(number)

    @property
    def values(self) -> dict[str, Any]:
        """Every step's values in one dict (later steps win on equal names)."""
        merged: dict[str, Any] = {}
        for result in self.steps:
            merged.update(result.values)
        return merged

    @property
    def output(self) -> str:
        """Everything the steps printed, in order."""
        return "".join(result.output for result in self.steps)

    def __str__(self) -> str:
        head = t("lessons.ui.lesson", self.lang, number=self.number, title=self.title)
        return "\n\n".join([head, self.intro] + [str(s) for s in self.steps])

    def __repr__(self) -> str:
        steps = ", ".join(str(s.number) for s in self.steps)
        return f"<LessonResult lesson={self.number} lang={self.lang!r} steps=[{steps}] of {self.total}>"

    def _repr_markdown_(self) -> str:
        head = t("lessons.ui.lesson", self.lang, number=self.number, title=self.title)
        return f"## {head}\n\n{self.intro}\n\n" + "\n".join(s._repr_markdown_() for s in self.steps)


def fill_texts(code: str, prefix: str, lang: str) -> str:
    """Replace each ``«name»`` marker in ``code`` by the catalogue text ``<prefix>.c.<name>``.

    A whole-line comment whose text has several lines becomes several comment lines at
    the same indent. The texts hold no quotes, braces or backslashes (a test checks), so a
    marker may also stand inside a printed string.

    >>> fill_texts("x = 1  # «model_1»", "lessons.l1", "en")
    "x = 1  # PyTorch's main package"
    """
    out = []
    for line in code.split("\n"):
        whole = _WHOLE_LINE_COMMENT.match(line)
        if whole:
            indent, name = whole.groups()
            out.extend(f"{indent}# {part}" for part in t(f"{prefix}.c.{name}", lang).splitlines())
        else:
            out.append(_MARKER.sub(lambda m: t(f"{prefix}.c.{m.group(1)}", lang), line))
    return "\n".join(out)


def render_code(code: str, settings: Mapping[str, Any], prefix: str | None = None, lang: str | None = None) -> str:
    """Replace ``$name`` in ``code`` by ``repr(settings[name])`` (a Python literal).

    With ``prefix`` (a lesson's catalogue key) the ``«name»`` markers are filled in too, in
    ``lang`` (default: the current language), by :func:`fill_texts`.

    >>> render_code("EPOCHS = $epochs", {"epochs": 100})
    'EPOCHS = 100'
    """
    code = string.Template(code).substitute({k: repr(v) for k, v in settings.items()})
    return code if prefix is None else fill_texts(code, prefix, resolve_language(lang, "lessons.bad_lang"))


def _check_lang(lang: str | None) -> str:
    return resolve_language(lang, "lessons.bad_lang")


def check_step(lesson: Lesson, step: Any) -> int | None:
    """``step`` as a 1-based step number of ``lesson`` (``None`` for all steps), or refuse it."""
    if step is None:
        return None
    total = len(lesson.steps)
    number: int | None = None
    if isinstance(step, int) and not isinstance(step, bool):
        number = step
    elif isinstance(step, str) and step.strip().isdigit():
        number = int(step.strip())
    if number is None or not 1 <= number <= total:
        raise TorchgroundError("lessons.bad_step", lesson=lesson.number, value=step, max=total)
    return number


def run_lesson(
    lesson: Lesson, step: int | str | None = None, lang: str | None = None, settings: Mapping[str, Any] | None = None
) -> LessonResult:
    """Run ``lesson`` and return its :class:`LessonResult`.

    Steps run in order in one namespace. With ``step`` given, the steps before it run too
    (their output is discarded, since later steps use what they made) and only that step
    is returned.

    Args:
        lesson: the lesson.
        step: a 1-based step number, or ``None`` for all steps. Default: ``None``.
        lang: "en" or "ja" for the texts. Default: the current language.
        settings: values for the code's ``$name`` fields; ``lang`` is always
            available as ``$lang``. Default: none.

    Raises:
        TorchgroundError: a step number outside ``1..len(lesson.steps)`` or an unknown
            language.
    """
    number = check_step(lesson, step)
    lang = _check_lang(lang)
    filled = {"lang": lang, **(settings or {})}
    last = number or len(lesson.steps)
    namespace: dict[str, Any] = {"__name__": f"torchground_lesson{lesson.number}"}
    results: list[StepResult] = []
    cuda = lesson.uses_cuda and torch.cuda.is_available()
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if cuda else []):
        for index, item in enumerate(lesson.steps[:last], start=1):
            code = render_code(item.code, filled, lesson.key, lang)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(code, f"<lesson {lesson.number} step {index}>", "exec"), namespace)  # noqa: S102 (our own fixed code)
            if number is not None and index != number:
                continue
            params = dict(item.params(namespace)) if item.params else {}
            results.append(
                StepResult(
                    lesson=lesson.number,
                    number=index,
                    total=len(lesson.steps),
                    key=item.key,
                    title=t(f"{item.key}.title", lang),
                    explanation=t(f"{item.key}.text", lang, **params),
                    code=code,
                    output=buffer.getvalue(),
                    values={name: namespace[name] for name in item.returns},
                    lang=lang,
                    params=params,
                )
            )
    return LessonResult(
        number=lesson.number,
        title=t(f"{lesson.key}.title", lang),
        intro=t(f"{lesson.key}.intro", lang),
        lang=lang,
        total=len(lesson.steps),
        steps=tuple(results),
        settings=dict(filled),
    )
