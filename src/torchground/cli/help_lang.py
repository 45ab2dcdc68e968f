"""Help texts in the language of ``--lang``: ``torchground train --lang ja --help`` is Japanese.

Typer fixes every help text when a command module is imported, in the language of the
environment then (``TORCHGROUND_LANG``, else the locale). A ``--lang`` on the command
line is the first rule of :func:`torchground.i18n.resolve_language`, so before the
command line runs, :func:`help_language` reads it and :func:`translate_help` rewrites
the help of the built command tree: each help text is a catalogue text (or two joined
by a space), found by its wording in either language and replaced by the same key's text
in the language asked for.

The words Click itself prints around them (the ``Usage:`` prefix, the ``Options:``,
``Arguments:`` and ``Commands:`` headings) come from its help formatter: :func:`translate_help`
gives every command a context whose ``formatter_class`` (Click's documented hook for
formatting help) takes them from the catalogue (``helplang.*``) in the language of the help.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from torchground.i18n import LANGUAGES, catalogue, t

__all__ = ["help_language", "translate_help", "HEADINGS"]

#: Click's help headings → their catalogue keys.
HEADINGS = {"Options": "helplang.heading.options", "Arguments": "helplang.heading.arguments",
            "Commands": "helplang.heading.commands"}


def help_language(argv: list[str]) -> str | None:
    """The language ``argv`` asks for with ``--lang X`` or ``--lang=X`` (``None`` if none or unknown).

    >>> help_language(["train", "--lang", "ja", "--help"]), help_language(["train", "--lang=en"])
    ('ja', 'en')
    >>> help_language(["train", "--help"]) is None
    True
    """
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else arg.removeprefix("--lang=")
        if (arg == "--lang" or arg.startswith("--lang=")) and value in LANGUAGES:
            return value
    return None


@cache
def _keys_by_text() -> dict[str, str]:
    """Catalogue text (in any language) → its key."""
    found: dict[str, str] = {}
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            found.setdefault(text, key)
    return found


def _translated(text: str | None, lang: str) -> str | None:
    """``text`` in ``lang``: one catalogue text, or two joined by a space; otherwise unchanged."""
    if not text:
        return text
    keys = _keys_by_text()
    if text in keys:
        return t(keys[text], lang)
    for i, ch in enumerate(text):
        if ch == " " and text[:i] in keys and text[i + 1:] in keys:
            return t(keys[text[:i]], lang) + " " + t(keys[text[i + 1:]], lang)
    return text


_EXTRAS = re.compile(r"\[([^\[\]]*)\]$")


def _extras(text: str, lang: str) -> str:
    """An option's help with its bracketed extras (``[default: 0; required]``) in ``lang``.

    >>> _extras("Epochs.  [default: 10; x>=1]", "ja")
    'Epochs.  [既定: 10; x>=1]'
    """
    found = _EXTRAS.search(text or "")
    if not found:
        return text
    parts = []
    for part in found.group(1).split("; "):
        if part.startswith("default: "):
            part = t("helplang.default", lang, value=part[len("default: "):])
        elif part == "required":
            part = t("helplang.required", lang)
        parts.append(part)
    return text[: found.start()] + "[" + "; ".join(parts) + "]"


def _localized_context(context_class: Any, lang: str) -> Any:
    """A subclass of ``context_class`` whose help formatter writes Click's own words in ``lang``."""
    base = context_class.formatter_class

    class Formatter(base):  # type: ignore[misc, valid-type]
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, t("helplang.usage", lang) + " " if prefix is None else prefix)

        def write_heading(self, heading: str) -> None:
            super().write_heading(t(HEADINGS[heading], lang) if heading in HEADINGS else heading)

        def write_dl(self, rows: Any, *args: Any, **kwargs: Any) -> None:
            super().write_dl([(term, _extras(text, lang)) for term, text in rows], *args, **kwargs)

    return type(context_class.__name__, (context_class,), {"formatter_class": Formatter, "_torchground_lang": lang})


def translate_help(command: Any, lang: str) -> None:
    """Rewrite the help of ``command`` (a Click command, as Typer builds it; Typer carries its
    own copy of Click, so it is read by its attributes), its parameters and subcommands, and
    give each a help formatter in ``lang``."""
    if getattr(command.context_class, "_torchground_lang", None) != lang:
        base = command.context_class.__mro__[1] if hasattr(command.context_class, "_torchground_lang") else command.context_class
        command.context_class = _localized_context(base, lang)
    command.help = _translated(command.help, lang)
    command.short_help = _translated(command.short_help, lang)
    for param in command.params:
        if hasattr(param, "help"):
            param.help = _translated(param.help, lang)
    if getattr(command, "add_help_option", False):  # Click's own --help, made on first use
        option = command.get_help_option(command.context_class(command))
        if option is not None:
            option.help = t("helplang.help_option", lang)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        translate_help(sub, lang)
        short = catalogue(lang).get(f"usage.short.{name}")
        if short is not None:  # the command list's line: Click would cut the help at a space
            sub.short_help = short
