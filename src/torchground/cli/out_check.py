"""An output folder checked before any work: a read-only folder, a name too long or a path
through a file is refused at once, not after minutes of training.

:func:`check_output_folder` creates nothing that stays: it writes one empty probe file in the
folder (or, where the folder does not exist yet, in its nearest existing parent) and removes
it at once. An error is an :class:`OSError` (the command line turns it into one message and
status 2) or a :class:`~torchground.errors.TorchgroundError` when a part of the path is a file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from torchground.errors import TorchgroundError

__all__ = ["check_output_folder"]


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
