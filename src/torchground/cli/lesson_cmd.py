"""``torchground lesson N``: run a lesson of the curriculum and print it step by step.

Each step shows its title, its explanation (ja or en), its code syntax-highlighted (the
exact code that ran) and what that code printed. ``--step`` shows one step (the steps
before it run silently, since it builds on them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax
from rich.text import Text

from torchground.cli.app import app, apply_lang
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.lessons import LessonResult, StepResult, check_lesson, run
from torchground.lessons.lesson3 import MAX_EPOCHS

__all__ = ["lesson_command", "print_lesson", "print_step", "explanation_text"]

_H = "lessons.help."


def _epochs(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_EPOCHS:
        raise TorchgroundError("lessons.bad_epochs", value=value, max=MAX_EPOCHS)
    return int(text)


@app.command("lesson", help=t(_H + "command"))
def lesson_command(
    number: Annotated[str, typer.Argument(help=t(_H + "number"), show_default=False)],
    step: Annotated[Optional[str], typer.Option("--step", help=t(_H + "step"), show_default=False)] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help=t(_H + "out_dir"), show_default=False)] = None,
    epochs: Annotated[Optional[str], typer.Option("--epochs", help=t(_H + "epochs"), show_default=False)] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help=t(_H + "lang"), show_default=False)] = None,
) -> None:
    apply_lang(lang)
    value = check_lesson(number)
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out_dir))
    result = run(value, step, out_dir=out_dir, epochs=_epochs(epochs))
    print_lesson(Console(highlight=False, soft_wrap=False), result, heading=step is None)


def print_lesson(console: Console, result: LessonResult, heading: bool = True) -> None:
    """Print ``result``: the lesson's title and introduction (if ``heading``), then each step."""
    if heading:
        console.print(Rule(Text(t("lessons.ui.lesson", result.lang, number=result.number, title=result.title), style="bold")))
        console.print(Text(result.intro))
        console.print()
    for step in result.steps:
        print_step(console, step)


def explanation_text(text: str) -> Text:
    """An explanation as rich text: `code` spans (Markdown backticks) styled, backticks dropped."""
    out = Text()
    for i, part in enumerate(text.split("`")):
        out.append(part, style="bold cyan" if i % 2 else None)
    return out


def print_step(console: Console, step: StepResult) -> None:
    """Print one step: heading, explanation, highlighted code, output."""
    console.print(Rule(Text(step.heading(), style="bold cyan"), align="left"))
    # Japanese has no spaces to break lines at: leave the wrapping to the terminal there.
    console.print(explanation_text(step.explanation), soft_wrap=step.lang == "ja")
    console.print()
    console.print(Text(t("lessons.ui.code", step.lang), style="bold"))
    console.print(Syntax(step.code.rstrip("\n"), "python", theme="monokai", background_color="default", word_wrap=True))
    console.print()
    console.print(Text(t("lessons.ui.output", step.lang), style="bold"))
    output = step.output.rstrip("\n")
    # soft_wrap: long output lines are left whole (as Python printed them), not re-wrapped
    console.print(Text(output) if output else Text(t("lessons.ui.no_output", step.lang), style="dim"), soft_wrap=True)
    console.print()
