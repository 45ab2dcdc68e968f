"""The Typer application, language selection and the one place usage errors are printed."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from torchground.cli.help_lang import help_language, translate_help
from torchground.errors import TorchgroundError
from torchground.i18n import LANGUAGES, detect_language, get_language, set_language, t

__all__ = ["app", "run_app", "err_console", "apply_lang"]

# Help texts are rendered when the module is imported, so they follow the language of
# the environment (TORCHGROUND_LANG or the locale); --lang switches the messages.
set_language(detect_language())

app = typer.Typer(
    name="torchground",
    help=t("cli.help.app"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def apply_lang(lang: str | None) -> None:
    """Switch the message language for this command (refused unless ja or en)."""
    if lang is None:
        return
    if lang not in LANGUAGES:
        raise TorchgroundError("cli.bad_lang", value=lang, allowed=", ".join(LANGUAGES))
    set_language(lang)


def _register_commands() -> None:
    # Imported for their side effect of adding commands; --help lists them in this order.
    from torchground.cli import train_cmd  # noqa: F401  (isort: skip)
    from torchground.cli import serve_cmd, sweep_cmd, data_cmd, info_cmd  # noqa: F401
    from torchground.cli import lesson_cmd, explore_cmd, export_cmd  # noqa: F401


def run_app(argv: list[str]) -> int:
    """Run ``app`` on ``argv`` and return the exit status.

    Typer itself answers malformed command lines (unknown flag, missing argument) with a
    usage message and status 2; a :class:`TorchgroundError` from any command is printed
    as one catalogue message, also with status 2.
    """
    _register_commands()
    previous = get_language()
    try:
        command = typer.main.get_command(app)  # what app() runs; built here to set its help's language
        asked = help_language(argv)
        if asked is not None:  # --lang ja --help: the help in Japanese whatever the locale
            translate_help(command, asked)
        command(args=argv, prog_name="torchground")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TorchgroundError as exc:
        err_console.print(f"[bold red]{t('cli.error')}[/] {escape(exc.message())}", markup=True, highlight=False)
        return 2
    finally:
        set_language(previous)  # --lang holds for one command, not for the caller's later calls
    return 0
