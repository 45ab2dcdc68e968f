"""Generated source saved where a compiler or Triton can read it: the private kernel cache.

Triton reads a kernel's source from its file, and the C build reads a source file, so
generated text (the rules' Triton helpers, ``native.c`` with its rules) is saved in
:func:`~torchground.engine.kernels.build_cache.private_cache` under a name made from its
hash, written whole; a file there that is not exactly that text (or not the user's own)
is written again. A Python module runs the text made here, compiled from memory, never the
file's bytes.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path
from types import ModuleType

from torchground.engine.kernels.build_cache import private_cache, read_private, write_private

__all__ = ["save", "load_module"]

_modules: dict[str, ModuleType] = {}
_lock = threading.Lock()


def _name(text: str, stem: str) -> str:
    return f"{stem}_{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def save(text: str, stem: str, suffix: str) -> Path:
    """``text`` in ``<cache>/<stem>_<hash><suffix>`` (rewritten unless already exactly there) → its path."""
    path = private_cache() / f"{_name(text, stem)}{suffix}"
    if read_private(path) != text.encode():
        write_private(path, text.encode())
    return path


def load_module(text: str, stem: str) -> ModuleType:
    """The Python module of source ``text``, saved (:func:`save`, for Triton's sake) and run
    from ``text`` itself (once per process)."""
    name = _name(text, stem)
    with _lock:
        if name not in _modules:
            path = save(text, stem, ".py")
            module = ModuleType(f"torchground._generated.{name}")
            module.__file__ = str(path)
            sys.modules[module.__name__] = module
            exec(compile(text, str(path), "exec"), module.__dict__)  # noqa: S102 (text made here)
            _modules[name] = module
        return _modules[name]
