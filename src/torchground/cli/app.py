"""The Typer application, language selection and the one place usage errors are printed."""

from __future__ import annotations

import click
import typer
from typer._click import exceptions as typer_click_exceptions
from typer.exceptions import Abort as TyperAbort
from rich.console import Console

import torchground
from rich.markup import escape

from torchground.cli.help_lang import help_language, translate_help
from torchground.cli.usage_errors import show_usage_error
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
    add_completion=True,
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
    from torchground.cli import predict_cmd, warmup_cmd, conventions  # noqa: F401  (conventions: --version)


def run_app(argv: list[str]) -> int:
    """Run ``app`` on ``argv`` and return the exit status.

    Typer itself answers malformed command lines (unknown flag, missing argument) with a
    usage message and status 2; a :class:`TorchgroundError` from any command is printed
    as one catalogue message, also with status 2.
    """
    _register_commands()
    previous = get_language()
    from torchground.cli.out_check import created_note, missing_folders

    missing = missing_folders(argv)  # folders --out will create: named once the command is done
    try:
        torchground._resume_interrupts()  # a Ctrl-C held during start-up ends here, as status 130
        _check_out_options(argv)
        from torchground.train.threads import forced

        try:
            if not _asks_help_or_version(argv):  # --help and --version work whatever the environment
                forced()  # a bad TORCHGROUND_THREADS is refused before a command starts (nothing written)
        except TorchgroundError:
            set_language(help_language(argv) or get_language())  # said in the --lang asked for
            raise
        command = typer.main.get_command(app)  # what app() runs; built here to set its help's language
        from torchground.cli.conventions import typed_placeholders

        typed_placeholders(command)  # --lr FLOAT, --epochs INTEGER, --out PATH
        asked = help_language(argv)  # --lang ja --help: the help in Japanese whatever the locale
        translate_help(command, asked or get_language())  # Click's own words (Usage:, Options:) too
        asked_lang = asked or get_language()
        try:  # Click's own errors are printed here, in the command's language (usage_errors)
            status = command.main(args=argv, prog_name="torchground", standalone_mode=False)
        except typer_click_exceptions.ClickException as exc:
            set_language(asked_lang)
            show_usage_error(exc, err_console)
            return exc.exit_code
        except TyperAbort:
            err_console.print(t("usage.aborted"), highlight=False)
            return 1
        return status if isinstance(status, int) else 0
    except SystemExit as exc:
        if isinstance(exc.__context__, click.exceptions.Abort) and isinstance(exc.__context__.__cause__, KeyboardInterrupt):
            return 130  # Ctrl-C inside a command: click answered it with "Aborted!"; the status says interrupted
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TorchgroundError as exc:
        err_console.print(f"[bold red]{t('cli.error')}[/] {escape(exc.message())}", markup=True, highlight=False)
        return 2
    except KeyboardInterrupt:  # Ctrl-C in a command without its own handling: no traceback, status 130
        err_console.print(t("safety.interrupted"), highlight=False)
        return 130
    except (OSError, RecursionError, UnicodeDecodeError, ValueError, MemoryError) as exc:
        known = _environment_error(exc)
        if known is None:  # not a problem of the input or the machine: a bug, shown as one
            raise
        err_console.print(f"[bold red]{t('cli.error')}[/] {escape(known)}", markup=True, highlight=False)
        return 2
    finally:
        note = created_note(missing, argv)
        if note is not None:
            err_console.print(note, highlight=False)
        set_language(previous)  # --lang holds for one command, not for the caller's later calls
    return 0


def _asks_help_or_version(argv: list[str]) -> bool:
    """Whether ``argv`` asks only for help or the version (answered without any environment check)."""
    return any(arg in ("--help", "--version") for arg in argv)


def _check_out_options(argv: list[str]) -> None:
    """Refuse an empty ``--out`` (it would mean the current folder) for every command."""
    for i, arg in enumerate(argv):
        value = arg[len("--out="):] if arg.startswith("--out=") else (argv[i + 1] if arg == "--out" and i + 1 < len(argv) else None)
        if value is not None and not value.strip():
            raise TorchgroundError("safety.out_empty")


def _environment_error(exc: BaseException) -> str | None:
    """The message for an error of the machine or of an input's form (a full disk, a read-only
    folder, a name too long, nesting too deep, bytes that are not UTF-8, an integer of more
    digits than Python converts); ``None`` for anything else."""
    if isinstance(exc, UnicodeDecodeError):
        return t("safety.not_utf8", reason=str(exc))
    if isinstance(exc, OSError):
        return t("safety.os_error", path=str(exc.filename) if exc.filename else "-", reason=exc.strerror or str(exc))
    if isinstance(exc, RecursionError):
        return t("safety.too_deep")
    if isinstance(exc, MemoryError):
        return t("safety.no_memory")
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return t("safety.int_digits")
    return None
