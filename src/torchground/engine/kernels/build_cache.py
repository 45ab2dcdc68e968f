"""C sources of the engine (the fused steps, the batch orders) compiled on the user's machine
and cached on disk.

Like TorchInductor's C++, the code is built where it runs, by the machine's C compiler
(``$CC``, else gcc, cc or clang), for that CPU (``-march=native``), with compile-time
constants prepended as ``#define`` lines. A build is cached in :func:`cache_dir` (or, where
that cannot be written, in the temporary directory) under a name made from the compiler,
flags, CPU features and the full source, so a changed source or another machine never
reuses a stale library; it is built in a temporary directory beside the cache and moved in
whole, so an interrupted build leaves nothing half-written.
Loaded libraries are kept for the process.

Flags: no errno or trap semantics (so sqrt and compares vectorise); no fast-math, so NaN
and infinity propagate as in the eager engine (divergence is detected); OpenMP, which binds
to the runtime torch has already loaded (one thread pool for both).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["build", "cache_dir", "cpu_flags", "FLAGS"]

FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-std=gnu11", "-fopenmp", "-shared", "-fPIC")

_libs: dict[Path, ctypes.CDLL] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """Where built libraries are kept: ``$TORCHGROUND_CACHE``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``torchground``."""
    root = os.environ.get("TORCHGROUND_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torchground"


def _cache_dirs() -> list[Path]:
    """:func:`cache_dir`, then the fallback in the temporary directory (see :func:`_writable_cache`)."""
    return [cache_dir(), Path(tempfile.gettempdir()) / f"torchground-{os.getuid() if hasattr(os, 'getuid') else 'user'}"]


def _writable_cache() -> Path:
    """The first of :func:`_cache_dirs` that can be created and written (a read-only home
    directory, as in some sandboxes, falls back to the temporary directory)."""
    for directory in _cache_dirs():
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if os.access(directory, os.W_OK):
                return directory
        except OSError:
            continue
    raise RuntimeError(f"no writable directory for built kernels (tried {', '.join(map(str, _cache_dirs()))})")


def compiler() -> str:
    """The C compiler: ``$CC``, else gcc, cc or clang on the PATH.

    Raises:
        RuntimeError: none found.
    """
    named = os.environ.get("CC")
    if named:
        if not shutil.which(named):
            raise RuntimeError(f"the C compiler $CC={named} was not found")
        return named
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if not cc:
        raise RuntimeError("no C compiler found (gcc, cc, clang or $CC)")
    return cc


def cpu_flags() -> str:
    """The CPU's feature flags (``-march=native`` builds for them): part of a build's cache key."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build(source: Path, defines: dict[str, object], prefix: str, what: str) -> ctypes.CDLL:
    """``source`` compiled with ``defines`` into ``<cache>/<prefix>-<hash>.so`` and loaded.

    Args:
        what: what the library is, for the error message ("the fused steps").

    Raises:
        RuntimeError: no C compiler, or the compiler failed (its message attached).
    """
    text = "".join(f"#define {k} {v}\n" for k, v in defines.items()) + source.read_text()
    cc = compiler()
    key = hashlib.sha256("\0".join([cc, *FLAGS, cpu_flags(), text]).encode()).hexdigest()[:24]
    name = f"{prefix}-{key}.so"
    with _lock:
        path = next((d / name for d in _cache_dirs() if (d / name).exists()), None)
        if path is not None and path in _libs:
            return _libs[path]
        if path is None:
            path = _writable_cache() / name
            with tempfile.TemporaryDirectory(dir=path.parent) as tmp:  # built aside, then moved in whole
                src, out = Path(tmp) / f"{prefix}.c", Path(tmp) / f"{prefix}.so"
                src.write_text(text)
                done = subprocess.run([cc, *FLAGS, str(src), "-o", str(out)], capture_output=True, text=True)
                if done.returncode != 0:
                    raise RuntimeError(f"{cc} failed to build {what}: {done.stderr.strip()[-2000:]}")
                os.replace(out, path)
        lib = ctypes.CDLL(str(path))
        _libs[path] = lib
        return lib
