"""Tests for engine.kernels.build_cache and the Triton module cache: a library or module
planted in a cache folder is never loaded.

Each planted library has a constructor that writes a marker file: the marker appearing
means the planted code ran. The planted file sits exactly where the cache would look for
our build (same name), in folders of the wrong owner, wrong mode, behind a link, or in our
own folder without the recorded hash.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from torchground.engine.kernels import build_cache, triton_unrolled

GOOD = "int tg_answer(void) { return 42; }\n"
PLANTED = """#include <stdio.h>
__attribute__((constructor)) static void planted(void) { FILE *f = fopen("%s", "w"); if (f) fclose(f); }
int tg_answer(void) { return 7; }
"""
NOBODY = 65534
as_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root")


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(build_cache, "_libs", {})
    monkeypatch.setattr(build_cache, "_process_dir", [])
    monkeypatch.setattr(triton_unrolled, "_modules", {})
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the fallback lives here
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler")


def source(tmp_path: Path) -> Path:
    path = tmp_path / "answer.c"
    path.write_text(GOOD)
    return path


def plant(tmp_path: Path, folder: Path, name: str) -> Path:
    """A library that marks ``tmp_path/ran`` when loaded, at ``folder/name``."""
    src = tmp_path / "planted.c"
    src.write_text(PLANTED % (tmp_path / "ran"))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    subprocess.run([build_cache.compiler(), "-shared", "-fPIC", str(src), "-o", str(out)], check=True)
    return out


def answer(tmp_path: Path) -> int:
    lib = build_cache.build(source(tmp_path), {}, "answer", "the test library")
    lib.tg_answer.restype = ctypes.c_int
    return lib.tg_answer()


def name_of(tmp_path: Path) -> str:
    return build_cache.library_name(source(tmp_path), {}, "answer")[0]


def test_a_fresh_cache_is_private_and_records_the_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    assert answer(tmp_path) == 42
    cache = tmp_path / "cache"
    assert cache.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in cache.iterdir()) == [name_of(tmp_path), name_of(tmp_path) + ".sha256"]


def test_a_library_in_our_folder_without_the_recorded_hash_is_rebuilt(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    plant(tmp_path, cache, name_of(tmp_path))
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()


def test_a_library_whose_content_differs_from_the_recorded_hash_is_rebuilt(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    assert answer(tmp_path) == 42  # a real build, with its hash recorded
    monkeypatch.setattr(build_cache, "_libs", {})
    plant(tmp_path, cache, name_of(tmp_path))  # swapped afterwards, the sidecar left as it was
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()


def test_a_folder_writable_by_others_is_not_used(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    planted = plant(tmp_path, cache, name_of(tmp_path))
    planted.with_name(planted.name + ".sha256").write_text(build_cache.hashlib.sha256(planted.read_bytes()).hexdigest())
    cache.chmod(0o777)
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()
    assert (tmp_path / "tmp" / f"torchground-{os.getuid()}" / name_of(tmp_path)).exists()  # built in the fallback


@as_root
def test_a_folder_of_another_user_is_not_used_even_with_a_matching_hash(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    planted = plant(tmp_path, cache, name_of(tmp_path))
    sidecar = planted.with_name(planted.name + ".sha256")
    sidecar.write_text(build_cache.hashlib.sha256(planted.read_bytes()).hexdigest())
    cache.chmod(0o700)
    for p in (cache, planted, sidecar):
        os.chown(p, NOBODY, NOBODY)
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()


@as_root
def test_a_planted_temporary_fallback_is_not_used(tmp_path, monkeypatch):
    """The issue's attack: ``$TMPDIR/torchground-<uid>`` made by someone else first."""
    (tmp_path / "a-file").write_text("the configured cache cannot be made")
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "a-file" / "cache"))
    fallback = tmp_path / "tmp" / f"torchground-{os.getuid()}"
    planted = plant(tmp_path, fallback, name_of(tmp_path))
    planted.with_name(planted.name + ".sha256").write_text(build_cache.hashlib.sha256(planted.read_bytes()).hexdigest())
    for p in (fallback, *fallback.iterdir()):
        os.chown(p, NOBODY, NOBODY)
    fallback.chmod(0o755)
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()
    private = build_cache.private_cache()
    assert private not in (fallback, tmp_path / "a-file" / "cache") and private.stat().st_mode & 0o777 == 0o700


@as_root
def test_a_planted_file_of_another_user_in_our_folder_is_replaced(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    assert answer(tmp_path) == 42
    monkeypatch.setattr(build_cache, "_libs", {})
    planted = plant(tmp_path, cache, name_of(tmp_path))
    sidecar = planted.with_name(planted.name + ".sha256")
    sidecar.write_text(build_cache.hashlib.sha256(planted.read_bytes()).hexdigest())
    os.chown(planted, NOBODY, NOBODY)
    os.chown(sidecar, NOBODY, NOBODY)
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()
    assert planted.stat().st_uid == os.getuid()


def test_a_cache_folder_that_is_a_link_is_not_followed(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    planted = plant(tmp_path, elsewhere, name_of(tmp_path))
    planted.with_name(planted.name + ".sha256").write_text(build_cache.hashlib.sha256(planted.read_bytes()).hexdigest())
    (tmp_path / "cache").symlink_to(elsewhere)
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()


def test_a_cached_library_that_is_a_link_is_not_followed(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    assert answer(tmp_path) == 42
    monkeypatch.setattr(build_cache, "_libs", {})
    planted = plant(tmp_path, tmp_path / "elsewhere", "evil.so")
    target = cache / name_of(tmp_path)
    digest = build_cache.hashlib.sha256(planted.read_bytes()).hexdigest()
    target.unlink()
    target.symlink_to(planted)
    target.with_name(target.name + ".sha256").write_text(digest)
    assert answer(tmp_path) == 42 and not (tmp_path / "ran").exists()


def test_the_triton_cache_runs_only_the_text_it_made(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    made = "VALUE = 1\n"
    monkeypatch.setattr(triton_unrolled, "source", lambda sizes: made)
    name = "triton_unrolled_" + build_cache.hashlib.sha256(made.encode()).hexdigest()[:20] + ".py"
    cache.mkdir(mode=0o700)
    (cache / name).write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\nVALUE = 2\n")
    module = triton_unrolled.kernels((2, 1))
    assert module.VALUE == 1 and not (tmp_path / "ran").exists()
    assert (cache / name).read_text() == made  # rewritten, so Triton reads the source that runs


def test_the_triton_cache_skips_a_folder_writable_by_others(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    monkeypatch.setenv("TORCHGROUND_CACHE", str(cache))
    monkeypatch.setattr(triton_unrolled, "source", lambda sizes: "VALUE = 1\n")
    module = triton_unrolled.kernels((2, 1))
    assert module.VALUE == 1 and not list(cache.iterdir())
    assert Path(module.__file__).parent.stat().st_mode & 0o022 == 0


PARTS = """#if PART == 1
int tg_one(void) { return 1; }
#elif PART == 2
int tg_two(void) { return 2; }
#endif
int tg_sum(void);
#if PART == 2
int tg_one(void);
int tg_sum(void) { return tg_one() + tg_two(); }
#endif
"""


def test_a_library_in_parts_compiles_each_and_links_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "parts.c"
    src.write_text(PARTS)
    lib = build_cache.build(src, {}, "parts", "the test library", parts=2)
    assert lib.tg_sum() == 3
    # another number of parts is another library
    assert build_cache.library_name(src, {}, "parts", 2)[0] != build_cache.library_name(src, {}, "parts", 1)[0]


def test_a_part_that_fails_names_its_first_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "broken.c"
    src.write_text("#if PART == 2\n#error the second part is broken\n#endif\nint tg_x(void) { return 0; }\n")
    with pytest.raises(build_cache.BuildError) as err:
        build_cache.build(src, {}, "broken", "the test library", parts=3)
    assert err.value.key == "engine.build.failed" and "the second part is broken" in str(err.value)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(("broken", ".build-"))]  # nothing half-written


def test_a_part_with_a_flood_of_errors_is_reported_not_stuck(tmp_path, monkeypatch):
    """Thousands of error lines (far more than a pipe holds) from one part: read as they come."""
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "flood.c"
    src.write_text("#if PART == 1\n" + "".join(f"int broken_{i} = undefined_{i};\n" for i in range(4000)) + "#endif\nint tg_y(void) { return 0; }\n")
    with pytest.raises(build_cache.BuildError) as err:
        build_cache.build(src, {}, "flood", "the test library", parts=2)
    assert err.value.key == "engine.build.failed" and "undefined_0" in str(err.value)
