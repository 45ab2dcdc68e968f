"""C sources of the engine (the fused steps, the batch orders) compiled on the user's machine
and cached on disk, in folders only the user can write.

Like TorchInductor's C++, the code is built where it runs, by the machine's C compiler
(``$CC``, else gcc, cc or clang), for that CPU (``-march=native``), with compile-time
constants prepended as ``#define`` lines. A build is cached in :func:`cache_dir` (or, where
that cannot be used, in ``torchground-<uid>`` in the temporary directory) under a name made
from the compiler, flags, CPU features and the full source, so a changed source or another
machine never reuses a stale library; it is built in a temporary directory beside the cache
and moved in whole, so an interrupted build leaves nothing half-written.
Loaded libraries are kept for the process.

Trust: that name can be computed by anyone, so a cached file is only loaded from a folder
that is the user's own (created ``0700``; owned by the user, no write bit for group or
others, not a symbolic link, in a parent others cannot rename it from), and only when the
file itself is the user's, not a link, and its SHA-256 equals the one recorded, in a
sidecar ``<name>.sha256`` written after the library, when this code built it. Anything else
is rebuilt; where no folder passes, the build goes to a fresh private temporary folder
for this process (:func:`private_cache`).

Flags: no errno or trap semantics (so sqrt and compares vectorise); no fast-math, so NaN
and infinity propagate as in the eager engine (divergence is detected); OpenMP, which binds
to the runtime torch has already loaded (one thread pool for both).
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

from torchground.i18n import t

__all__ = ["BuildError", "reason", "build", "cache_dir", "cpu_flags", "FLAGS", "private_cache", "is_private_dir", "read_private", "write_private"]

FLAGS = ("-O2", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-std=gnu11", "-fopenmp", "-shared", "-fPIC")

_libs: dict[str, ctypes.CDLL] = {}
_lock = threading.Lock()
_process_dir: list[Path] = []  # the private fallback of this process, made on first need
_UID = os.getuid() if hasattr(os, "getuid") else None


def cache_dir() -> Path:
    """Where built libraries are kept: ``$TORCHGROUND_CACHE``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``torchground``."""
    root = os.environ.get("TORCHGROUND_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torchground"


def _cache_dirs() -> list[Path]:
    """:func:`cache_dir`, then the fallback in the temporary directory."""
    return [cache_dir(), Path(tempfile.gettempdir()) / f"torchground-{_UID if _UID is not None else 'user'}"]


def _owned_safe(st: os.stat_result) -> bool:
    """Owned by this user and not writable by group or others."""
    return (_UID is None or st.st_uid == _UID) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def is_private_dir(directory: Path) -> bool:
    """Whether ``directory`` is a real folder (not a link) of this user that no one else can
    write, inside a parent from which no one else can rename it (not writable by others, or sticky)."""
    try:
        st = os.lstat(directory)
        parent = os.stat(directory.parent)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or not _owned_safe(st):
        return False
    others_write = parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    parent_ok = parent.st_uid in (0, _UID) and (not others_write or parent.st_mode & stat.S_ISVTX)
    return bool(parent_ok)


def _make_private(directory: Path) -> bool:
    """Create ``directory`` (mode 0700) if missing; whether it is then private (:func:`is_private_dir`)."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    return is_private_dir(directory) and os.access(directory, os.W_OK)


def private_cache() -> Path:
    """The first cache folder that is (or can be made) private, else a fresh private temporary
    folder for this process (removed at exit): never a folder someone else could plant files in."""
    for directory in _cache_dirs():
        if _make_private(directory):
            if directory != cache_dir() and os.environ.get("TORCHGROUND_CACHE"):
                _fallback_notice(cache_dir(), directory)
            return directory
    if os.environ.get("TORCHGROUND_CACHE"):
        _fallback_notice(cache_dir(), None)
    if not _process_dir:
        made = Path(tempfile.mkdtemp(prefix="torchground-"))  # mkdtemp: 0700, a new name
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        _process_dir.append(made)
    return _process_dir[0]


def _fallback_notice(asked: Path, used: Path | None) -> None:
    """Say (a ``RuntimeWarning``: the command line prints it as one line) that ``$TORCHGROUND_CACHE``
    cannot be used, why, and which folder is used instead (``None``: a temporary one for this process)."""
    if asked.exists() and not asked.is_dir():
        why = t("usage.cache_why.not_dir")
    elif asked.is_dir():
        why = t("usage.cache_why.not_private")
    else:
        why = t("usage.cache_why.cannot_create")
    where = str(used) if used is not None else t("usage.cache_why.temporary")
    warnings.warn(t("usage.cache_fallback", asked=str(asked), why=why, used=where), RuntimeWarning, stacklevel=3)


def read_private(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of this user, not a link and not writable
    by others; else ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or not _owned_safe(st):
            return None
        return f.read()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole: a private temporary file beside it, then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BuildError(RuntimeError):
    """No C compiler, or a build that failed: its reason is a catalogue text (``engine.build.*``),
    put in the language of the moment it is shown."""

    def __init__(self, key: str, **fields: object) -> None:
        super().__init__(key)
        self.key, self.fields = key, fields

    def __str__(self) -> str:
        return t(self.key, **self.fields)


def reason(exc: BaseException) -> str:
    """Why ``exc`` stopped a build or a fused epoch, never empty: a :class:`BuildError`'s own
    catalogue text, else the exception's kind and message (the kind alone where it has none)."""
    if isinstance(exc, BuildError):
        return str(exc)
    detail = str(exc).strip()
    return t("engine.build.other", kind=type(exc).__name__, detail=detail) if detail else type(exc).__name__


def compiler() -> str:
    """The C compiler: ``$CC``, else gcc, cc or clang on the PATH.

    Raises:
        BuildError: none found.
    """
    named = os.environ.get("CC")
    if named:
        if not shutil.which(named):
            raise BuildError("engine.build.cc_missing", cc=named)
        return named
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if not cc:
        raise BuildError("engine.build.no_compiler")
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


def library_name(source: Path, defines: dict[str, object], prefix: str, parts: int = 1) -> tuple[str, str]:
    """``(file name, full source text)`` of the build of ``source`` with ``defines`` (in ``parts``, see :func:`build`)."""
    text = "".join(f"#define {k} {v}\n" for k, v in defines.items()) + source.read_text()
    key = hashlib.sha256("\0".join([compiler(), *FLAGS, cpu_flags(), f"parts={parts}", text]).encode()).hexdigest()[:24]
    return f"{prefix}-{key}.so", text


def _verified(path: Path) -> bool:
    """Whether the cached ``path`` is this user's file whose SHA-256 is the one recorded when it was built."""
    data = read_private(path)
    recorded = read_private(path.with_name(path.name + ".sha256"))
    return data is not None and recorded is not None and hashlib.sha256(data).hexdigest() == recorded.decode("ascii", "replace").strip()


def _compile(cc: str, text: str, prefix: str, what: str, out_dir: Path, parts: int = 1) -> Path:
    """Compile ``text`` in a temporary folder inside ``out_dir`` (in ``parts``, see :func:`build`);
    returns the built library (still in it)."""
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".build-"))
    src, out = tmp / f"{prefix}.c", tmp / f"{prefix}.so"
    if parts == 1:
        commands = [[cc, *FLAGS, str(src), "-o", str(out)]]
    else:  # each part an object file, compiled side by side, then one link
        compile_only = [f for f in FLAGS if f != "-shared"]
        objects = [tmp / f"{prefix}-{k}.o" for k in range(1, parts + 1)]
        commands = [[cc, *compile_only, f"-DPART={k}", "-c", str(src), "-o", str(o)] for k, o in enumerate(objects, 1)]
    try:
        src.write_text(text)
        _run_all(cc, commands)
        if parts > 1:
            _run_all(cc, [[cc, "-shared", "-fopenmp", *map(str, objects), "-o", str(out)]])
    except BaseException:  # a failed build, an interrupt, a full disk: nothing left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _run_all(cc: str, commands: list[list[str]]) -> None:
    """Run the compiler ``commands`` at once and wait for all.

    Raises:
        BuildError: one could not run, or failed (the first failure's exit status and first error line).
    """
    running: list[subprocess.Popen[str]] = []
    try:
        try:
            for command in commands:
                running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"))
        except OSError as exc:  # not executable, …
            raise BuildError("engine.build.cannot_run", cc=cc, error=exc.strerror or type(exc).__name__) from None
        # communicate() reads each one's errors while it runs: a full pipe never stalls it
        results = [(proc.communicate()[1], proc.returncode) for proc in running]
    finally:  # an interrupt or an error: no compiler is left running
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for stderr, status in results:
        if status != 0:
            lines = [line.strip() for line in stderr.splitlines() if line.strip()]
            line = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")  # the first error line
            if line:
                raise BuildError("engine.build.failed", cc=cc, status=status, line=line[:500])
            raise BuildError("engine.build.failed_silent", cc=cc, status=status)


def build(source: Path, defines: dict[str, object], prefix: str, what: str, parts: int = 1) -> ctypes.CDLL:
    """``source`` compiled with ``defines`` into ``<cache>/<prefix>-<hash>.so`` and loaded.

    A cached library is used only when it passes the trust rules of the module docstring;
    otherwise it is built again and replaced.

    Args:
        what: what the library is ("the fused steps"; the caller's notice names it).
        parts: how many parts ``source`` is compiled in, side by side (one compiler process
            each, so several cores shorten a build): part k is the source with ``PART`` defined
            as k, compiled to an object file; the objects are then linked into the library.

    Raises:
        BuildError: no C compiler, or the compiler failed (its exit status and first line
            on stderr attached).
    """
    cc = compiler()
    name, text = library_name(source, defines, prefix, parts)
    with _lock:
        if name in _libs:
            return _libs[name]
        directory = private_cache()
        path = directory / name
        if not _verified(path):
            out = _compile(cc, text, prefix, what, directory, parts)
            try:
                digest = hashlib.sha256(out.read_bytes()).hexdigest()
                os.replace(out, path)  # the library first, its hash last: a hash always names a whole file
                write_private(path.with_name(name + ".sha256"), (digest + "\n").encode("ascii"))
            finally:
                shutil.rmtree(out.parent, ignore_errors=True)
        lib = ctypes.CDLL(str(path))
        _libs[name] = lib
        return lib
