"""An output folder checked before any work: a read-only folder, a name too long or a path
through a file is refused at once, not after minutes of training.

:func:`check_output_folder` creates nothing that stays: it writes one empty probe file in the
folder (or, where the folder does not exist yet, in its nearest existing parent) and removes
it at once. An error is an :class:`OSError` (the command line turns it into one message and
status 2) or a :class:`~torchground.errors.TorchgroundError` when a part of the path is a file.

Every command's ``--out`` creates the folders above it that do not exist yet (``--out
results/jan/run1`` makes ``results/jan``, as the default ``runs/`` is made), and says so:
:func:`missing_folders` lists them before the command runs, :func:`created_note` names
those the command made, so a mistyped folder does not go unnoticed.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from torchground.errors import TorchgroundError
from torchground.i18n import t

__all__ = ["check_output_folder", "missing_folders", "created_note"]


def _out_value(argv: list[str]) -> str | None:
    """The value of ``--out`` in ``argv`` (the last one given), or ``None``."""
    value = None
    for i, arg in enumerate(argv):
        if arg.startswith("--out="):
            value = arg[len("--out="):]
        elif arg == "--out" and i + 1 < len(argv):
            value = argv[i + 1]
    return value


def missing_folders(argv: list[str]) -> list[Path]:
    """The folders above ``argv``'s ``--out`` that do not exist yet, outermost first (none for
    ``--out -``, standard output)."""
    value = _out_value(argv)
    if value is None or value.strip() in ("", "-"):
        return []
    missing = []
    try:
        for folder in Path(value).parent.absolute().parents[::-1][1:] + (Path(value).parent.absolute(),):
            if not folder.exists() and not folder.is_symlink():
                missing.append(folder)
    except (OSError, ValueError):  # a name the system refuses: the command says so itself
        return []
    return missing


def created_note(missing: list[Path], argv: list[str]) -> str | None:
    """The note naming the folders of :func:`missing_folders` that exist now (the command made
    them); ``None`` if it made none, or with ``--quiet`` / ``-q``."""
    made = [f for f in missing if f.is_dir()]
    if not made or "--quiet" in argv or "-q" in argv:
        return None
    return t("cli.out_created", path=str(Path(_out_value(argv) or ".").parent))


def check_output_folder(path: Path) -> None:
    """Refuse ``path`` as an output folder unless it could be written now (see the module docstring)."""
    folder = Path(path).absolute()
    existing = folder
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        if len(os.fsencode(existing.name)) > 255:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():  # a dangling link: writing would go elsewhere
        raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), str(existing))
    if not existing.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(existing))
    fd, probe = tempfile.mkstemp(prefix=".torchground-probe-", dir=existing)
    os.close(fd)
    os.unlink(probe)
