"""Click's usage errors (unknown option or command, missing value) in the language of the command.

Typer's copy of Click prints a usage error itself (``UsageError.show``) with English words
(``Try '... --help' for help.``, ``Error: No such option``) and no translation hook. The
command line therefore runs with ``standalone_mode=False`` (Click's documented way to handle
its exceptions yourself) and :func:`show_usage_error` prints the error: the usage line (its
``Usage:`` prefix already comes from the help formatter in the help's language), the hint,
and the message, each from the catalogue (``usage.*``). Click's known messages are recognised
by the exception's fields or their fixed English form; any other message is shown as Click
wrote it, under the translated prefix.
"""

from __future__ import annotations

import re
from typing import Any

from torchground.i18n import t

__all__ = ["show_usage_error", "usage_message"]

_NO_COMMAND = re.compile(r"No such command '(?P<name>.*)'\.(?: Did you mean (?P<close>.*)\?)?$", re.S)
_REQUIRES = re.compile(r"Option '(?P<name>.*)' requires (?:an argument|(?P<n>\d+) arguments)\.$", re.S)
_EXTRA = re.compile(r"Got unexpected extra arguments? \((?P<args>.*)\)$", re.S)
_MISSING = re.compile(r"Missing (?P<kind>option|argument|parameter) (?P<name>.*)\.$", re.S)
_INVALID = re.compile(r"Invalid value for (?P<name>.*?): (?P<detail>.*)$", re.S)
#: The checks Typer's parameter types report (pydantic's wording) → catalogue keys.
_DETAILS = (
    (re.compile(r"Input should be a valid integer.*", re.S), "usage.detail.integer"),
    (re.compile(r"Input should be a valid number.*", re.S), "usage.detail.number"),
    (re.compile(r"Input should be greater than or equal to (?P<bound>\S+)$"), "usage.detail.at_least"),
    (re.compile(r"Input should be less than or equal to (?P<bound>\S+)$"), "usage.detail.at_most"),
    (re.compile(r"Input should be greater than (?P<bound>\S+)$"), "usage.detail.above"),
    (re.compile(r"Input should be less than (?P<bound>\S+)$"), "usage.detail.below"),
)


def usage_message(exc: Any) -> str:
    """The message of a Click usage error ``exc`` in the current language.

    >>> from typer._click.exceptions import NoSuchOption, UsageError
    >>> from torchground.i18n import set_language
    >>> set_language("en")
    >>> usage_message(NoSuchOption("--bogus", possibilities=["--loss"]))
    'No such option: --bogus (possible options: --loss)'
    >>> usage_message(UsageError("No such command 'trian'. Did you mean 'train'?"))
    "No such command 'trian'. Did you mean 'train'?"
    """
    if type(exc).__name__ == "NoSuchOption":
        if exc.possibilities:
            return t("usage.no_such_option_close", name=exc.option_name, names=", ".join(sorted(exc.possibilities)))
        return t("usage.no_such_option", name=exc.option_name)
    text = exc.format_message()
    found = _NO_COMMAND.match(text)
    if found:
        if found["close"]:
            return t("usage.no_such_command_close", name=found["name"], names=found["close"])
        return t("usage.no_such_command", name=found["name"])
    if text == "Missing command.":
        return t("usage.missing_command")
    found = _REQUIRES.match(text)
    if found and not found["n"]:
        return t("usage.requires_value", name=found["name"])
    found = _EXTRA.match(text)
    if found:
        return t("usage.extra_arguments", args=found["args"])
    found = _MISSING.match(text)
    if found:
        return t(f"usage.missing_{found['kind']}", name=found["name"])
    found = _INVALID.match(text)
    if found:
        detail = found["detail"]
        for pattern, key in _DETAILS:
            matched = pattern.match(detail)
            if matched:
                detail = t(key, **matched.groupdict())
                break
        return t("usage.invalid_value", name=found["name"], detail=detail)
    return text


def show_usage_error(exc: Any, console: Any) -> None:
    """Print the Click error ``exc`` as Click would, in the current language, on ``console``."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # no command given: the help itself, as Click shows it
        exc.show()
        return
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            hint = t("usage.try_help", command=f"{ctx.command_path} {ctx.help_option_names[0]}")
        console.print(ctx.get_usage(), highlight=False, markup=False)
        if hint:
            console.print(hint, highlight=False, markup=False)
        console.print("", highlight=False)
    message = usage_message(exc) if hasattr(exc, "ctx") else exc.format_message()
    console.print(f"{t('cli.error')} {message}", highlight=False, markup=False)

