"""Errors for usage mistakes: each carries a catalogue key so it can be shown in ja or en.

Front ends catch :class:`TorchgroundError` and print :meth:`TorchgroundError.message`
in the user's language; everything else that escapes is a bug.
"""

from __future__ import annotations

from typing import Any

from torchground.i18n import t

__all__ = ["TorchgroundError", "SpecError", "DataError", "RegistryError"]


class TorchgroundError(ValueError):
    """A user-input error. ``key`` names a catalogue message, ``params`` fill it in."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message())

    def message(self, lang: str | None = None) -> str:
        """The message in ``lang`` (default: the current language)."""
        return t(self.key, lang, **self.params)


class SpecError(TorchgroundError):
    """A spec field has a value that is not allowed. ``params['field']`` names the field."""


class DataError(TorchgroundError):
    """Data that cannot be read or made (malformed CSV, unknown data set, bad size)."""


class RegistryError(TorchgroundError):
    """A name that is not in a registry, or an entry refused with its reason."""
