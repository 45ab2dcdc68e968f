"""The curriculum as runnable lessons: each step's code is real PyTorch, shown exactly as run.

* :func:`lesson1` — one neuron: model, parameters, forward pass, graph picture, autograd.
* :func:`lesson2` — the tensor cheat sheet: dtypes, creation, shape, arithmetic,
  indexing, the NumPy bridge, devices.
* :func:`lesson3` — a 2-3-3-1 network trained end to end, with the loss plot and a note
  on the article's loss-averaging flaw.

Each returns a :class:`LessonResult`; ``result.step(n)`` is a :class:`StepResult` with
its title, explanation (English or Japanese), code, printed output and ``values``.
:func:`run` picks a lesson by number. ``torchground lesson N`` prints the same in a
terminal.

Example:
    >>> from torchground.lessons import lesson1
    >>> step = lesson1(step=4, lang="en").step(4)
    >>> step.heading(), step.values["grad_fn_name"]
    ('Step 4/7: Forward pass', 'TanhBackward0')
    >>> print(step.output.splitlines()[1])
    tensor([[0.7616]], grad_fn=<TanhBackward0>)
"""

from __future__ import annotations

import os
from typing import Any

from torchground.errors import TorchgroundError
from torchground.lessons.lesson1 import LESSON1, lesson1
from torchground.lessons.lesson2 import LESSON2, lesson2
from torchground.lessons.lesson3 import LESSON3, lesson3
from torchground.lessons.steps import Lesson, LessonResult, Step, StepResult, run_lesson

__all__ = [
    "LESSONS",
    "Lesson",
    "LessonResult",
    "Step",
    "StepResult",
    "lesson1",
    "lesson2",
    "lesson3",
    "run",
    "check_lesson",
    "run_lesson",
]

#: The lessons by number.
LESSONS: dict[int, Lesson] = {1: LESSON1, 2: LESSON2, 3: LESSON3}


def check_lesson(number: Any) -> int:
    """``number`` as a lesson number (1–3; also the text "2"), or :class:`TorchgroundError`."""
    value: int | None = None
    if isinstance(number, int) and not isinstance(number, bool):
        value = number
    elif isinstance(number, str) and number.strip().isdigit():
        value = int(number.strip())
    if value not in LESSONS:
        raise TorchgroundError("lessons.bad_lesson", value=number, max=len(LESSONS))
    return value


def run(
    number: int | str,
    step: int | str | None = None,
    lang: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    epochs: int | None = None,
) -> LessonResult:
    """Run lesson ``number`` (1–3): ``out_dir`` is used by lessons 1 and 3, ``epochs`` by lesson 3.

    Raises:
        TorchgroundError: a lesson or step number out of range, ``epochs`` given for a
            lesson other than 3 or out of range, or an unknown language.
    """
    value = check_lesson(number)
    if epochs is not None and value != 3:
        raise TorchgroundError("lessons.epochs_lesson3")
    if value == 1:
        return lesson1(step, lang, out_dir)
    if value == 2:
        return lesson2(step, lang)
    return lesson3(step, lang, epochs if epochs is not None else 100, out_dir)
