"""Message catalogue: every user-facing text of torchground, in English and Japanese.

Messages live in JSON files beside this module, one per domain and language:
``<domain>.<lang>.json`` (for example ``spec.en.json`` and ``spec.ja.json``). All files of
a language are merged into one flat ``{key: template}`` table; templates use
``str.format`` fields (``{field}``). Splitting by domain lets each part of the
package own its texts without touching a shared file.

The language rule, the same for every front end (CLI, page, code export, lessons,
notebooks): an explicit choice (``--lang``, a ``lang=`` argument, the page's switch)
wins; else :func:`set_language` (what the CLI's ``--lang`` sets for one command); else
``TORCHGROUND_LANG`` (``ja`` or ``en``); else the locale, the first non-empty of
``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (then GNU ``LANGUAGE``): "ja" when it starts with
``ja``, "en" otherwise. :func:`resolve_language` applies it. The browser page takes the
locale from its browser (the reader's), so it follows a ``--lang`` or ``TORCHGROUND_LANG``
given to ``torchground serve`` (:func:`explicit_language`) and else the browser's language.

Example:
    >>> from torchground.i18n import t
    >>> t("cli.interrupted", lang="en", path="runs/x")
    'Interrupted: the run so far was saved to runs/x.'
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from typing import Any, Mapping

__all__ = [
    "LANGUAGES", "Text", "t", "catalogue", "detect_language", "get_language", "set_language", "resolve_language",
    "explicit_language",
]

LANGUAGES: tuple[str, ...] = ("en", "ja")
_current: str | None = None


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Return the merged message table for ``lang`` ("en" or "ja")."""
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not available; choose one of {', '.join(LANGUAGES)}")
    table: dict[str, str] = {}
    folder = resources.files(__name__)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(f".{lang}.json"):
            table.update(json.loads(entry.read_text(encoding="utf-8")))
    return table


def detect_language(environ: Mapping[str, str] | None = None) -> str:
    """Pick the language from ``TORCHGROUND_LANG`` or the locale variables (ja* → "ja").

    >>> detect_language({"LANG": "ja_JP.UTF-8"})
    'ja'
    >>> detect_language({"LANG": "C.UTF-8"})
    'en'
    """
    env = os.environ if environ is None else environ
    explicit = env.get("TORCHGROUND_LANG", "")
    if explicit in LANGUAGES:
        return explicit
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def explicit_language(lang: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The language chosen on purpose: ``lang`` (a ``--lang``), else ``TORCHGROUND_LANG``; ``None``
    when only the locale speaks (then a page follows its browser's language, the reader's locale).

    >>> explicit_language(None, {"TORCHGROUND_LANG": "ja", "LANG": "C"}), explicit_language(None, {"LANG": "ja_JP"})
    ('ja', None)
    """
    if lang in LANGUAGES:
        return lang
    value = (os.environ if environ is None else environ).get("TORCHGROUND_LANG", "")
    return value if value in LANGUAGES else None


def get_language() -> str:
    """The language used when none is given: set by :func:`set_language`, else detected."""
    return _current or detect_language()


def resolve_language(lang: str | None = None, error_key: str = "cli.bad_lang") -> str:
    """The language to use: ``lang`` when given (checked), else :func:`get_language`.

    Every front end resolves its ``lang`` argument here, so ``--lang``,
    ``TORCHGROUND_LANG`` and the locale mean the same everywhere.

    Args:
        lang: "en", "ja" or ``None`` (follow the rule in the module docstring).
        error_key: catalogue key of the error for a language that is not available (with
            fields ``value`` and ``allowed``).

    Raises:
        TorchgroundError: ``lang`` is neither "en" nor "ja".

    >>> resolve_language("ja")
    'ja'
    """
    if lang is None:
        return get_language()
    if lang not in LANGUAGES:
        from torchground.errors import TorchgroundError  # errors imports this module

        raise TorchgroundError(error_key, value=lang, allowed=", ".join(LANGUAGES))
    return lang


def set_language(lang: str | None) -> None:
    """Set the default language for messages (``None`` goes back to detection)."""
    global _current
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not available; choose one of {', '.join(LANGUAGES)}")
    _current = lang


class Text:
    """A catalogue message rendered later, in the language asked for then.

    Used as a parameter of another message (an error's "allowed" part, a refusal's
    reason) so the whole message comes out in one language.

    >>> t("registry.kind.loss", "ja") == str(Text("registry.kind.loss").render("ja"))
    True
    """

    __slots__ = ("key", "params")

    def __init__(self, key: str, **params: Any) -> None:
        self.key, self.params = key, params

    def render(self, lang: str | None = None) -> str:
        return t(self.key, lang, **self.params)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.key!r})"


def t(key: str, lang: str | None = None, **params: Any) -> str:
    """Render message ``key`` in ``lang`` (default :func:`get_language`) with ``params``.

    A key missing from the chosen language falls back to English; a key missing from both
    is a programming error and raises ``KeyError``.
    """
    lang = lang or get_language()
    template = catalogue(lang).get(key)
    if template is None:
        template = catalogue("en")[key]
    if not params:
        return template
    rendered = {k: v.render(lang) if isinstance(v, Text) else v for k, v in params.items()}
    return template.format(**rendered)


def plural(key: str, n: int, lang: str | None = None) -> str:
    """``key.one`` for 1, else ``key.other``, with ``n`` filled in ("1 epoch", "3 epochs").

    >>> plural("clix.epochs", 1, "en"), plural("clix.epochs", 3, "en")
    ('1 epoch', '3 epochs')
    """
    return t(f"{key}.one" if n == 1 else f"{key}.other", lang, n=n)
