"""The ``torchground`` command line (Typer + rich).

Every text comes from the i18n catalogue. Usage mistakes — a wrong flag value, a
malformed file — print one message and exit with status 2, never a traceback. Spec flags
are taken as text and validated by :class:`~torchground.spec.Spec`, so the CLI never
re-validates by hand and its messages are the spec's.
"""

from __future__ import annotations

import sys

from torchground.cli.app import app, run_app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    return run_app(sys.argv[1:] if argv is None else argv)
