"""A group's fused kernel is built while its data are made (the same library its first fused
epoch asks for: nothing is compiled after), and ``torchground warmup`` builds the common
shapes into the cache folder, idempotently."""

from __future__ import annotations

import pytest

from torchground.cli import main
from torchground.engine import StackedGroup
from torchground.engine.kernels import build_cache, prebuild
from torchground.spec import Spec


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh, empty kernel cache for the test (and no library loaded before in this process)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TORCHGROUND_CACHE", str(folder))
    monkeypatch.setattr(build_cache, "_libs", {})
    return folder


@pytest.fixture
def compiles(monkeypatch):
    """The prefixes of the libraries compiled while the test runs."""
    built: list[str] = []
    real = build_cache._compile

    def spy(cc, text, prefix, what, out_dir, parts=1):
        built.append(prefix)
        return real(cc, text, prefix, what, out_dir, parts)

    monkeypatch.setattr(build_cache, "_compile", spy)
    return built


@pytest.mark.parametrize("shared", [True, False])
def test_the_kernel_built_ahead_is_the_one_the_group_uses(cache, compiles, shared):
    specs = [Spec(epochs=2, n_samples=60, lr=0.01 * (i + 1), shuffle_seed=0 if shared else i) for i in range(3)]
    group = StackedGroup(specs, fused=True)
    pre = group._prebuild
    assert pre is not None and not pre.cached
    pre.wait()
    assert pre.error is None and (cache / pre.name).is_file()
    assert compiles == ["steps"]
    group.run()
    assert group.path == "fused" and compiles == ["steps"]  # the first fused epoch found it built


def test_no_build_ahead_out_of_scope_or_opted_out(cache):
    assert StackedGroup([Spec(epochs=1, n_samples=60, optimizer="rmsprop")], fused=True)._prebuild is None
    assert StackedGroup([Spec(epochs=1, n_samples=60)], fused=False)._prebuild is None
    assert StackedGroup([Spec(epochs=1, n_samples=60)])._prebuild is None  # the low-level default: eager


@pytest.mark.slow
def test_warmup_builds_into_the_cache_then_finds_them(cache, compiles, capsys, monkeypatch):
    monkeypatch.setattr(prebuild, "WARM_SHAPES", (("2-3-1", Spec(hidden=(3,), n_samples=60), (1,)),))
    assert main(["warmup"]) == 0
    out = capsys.readouterr().out
    assert "built" in out and "2-3-1, 1 model, one batch order" in out and str(cache) in out
    libraries = sorted(p.name for p in cache.glob("steps-*.so"))
    assert len(libraries) == 1 and libraries[0] in out
    assert main(["warmup", "--lang", "ja"]) == 0  # again: nothing new
    out = capsys.readouterr().out
    assert "キャッシュ済み" in out and "0 個をビルド" in out
    assert sorted(p.name for p in cache.glob("steps-*.so")) == libraries
    count = len(compiles)
    StackedGroup([Spec(hidden=(3,), n_samples=60, epochs=2)], fused=True).run()  # a first run: built already
    assert len(compiles) == count


def test_warmup_shapes_are_in_the_kernels_scope():
    for label, base, counts in prebuild.WARM_SHAPES:
        group = StackedGroup([base.replace(epochs=1)], fused=True)
        assert prebuild.kernel_defines(group.net, group.n_train, group.batch, True, 1, True) is not None, label


def test_warmup_without_a_compiler_says_so(cache, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    assert main(["warmup"]) == 1
    err = capsys.readouterr().err
    assert f"the C compiler $CC={tmp_path / 'no-such-cc'} was not found: nothing can be built" in err
    assert main(["warmup", "--lang", "ja"]) == 1
    assert f"C コンパイラ $CC={tmp_path / 'no-such-cc'} が見つかりません。何もビルドできません" in capsys.readouterr().err


def test_warmup_failures_say_why_and_which_kernel(cache, capsys, monkeypatch, tmp_path):
    failing = tmp_path / "bad-cc"
    failing.write_text("#!/bin/sh\necho 'bad-cc: error: no such flag' >&2\necho 'second line' >&2\nexit 3\n")
    failing.chmod(0o755)
    monkeypatch.setenv("CC", str(failing))
    monkeypatch.setattr(prebuild, "WARM_SHAPES", (("2-3-1", Spec(hidden=(3,), n_samples=60), (1, 9)),))
    monkeypatch.setattr("torchground.engine.batch_orders.agrees_with_torch", lambda torch_orders: False)
    assert main(["warmup", "--lang", "ja"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("失敗")]
    assert len(lines) == 3 and len(set(lines)) == 3  # one model; nine with one batch order, nine with their own
    assert all(f"C コンパイラ {failing} が終了ステータス 3 で失敗しました: bad-cc: error: no such flag" in line for line in lines)
    failing.write_text("#!/bin/sh\nexit 1\n")
    assert main(["warmup"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed")]
    assert lines and all(line.endswith("failed with exit status 1 and wrote nothing on stderr") for line in lines)


@pytest.mark.parametrize("fields, settings", [(("lr", "init_seed"), {"lr": (0.01, 0.1), "init_seed": range(6)}),
                                              (("shuffle_seed",), {"shuffle_seed": range(3)})])
def test_a_sweeps_kernel_is_guessed_before_its_specs_are_made(cache, compiles, fields, settings):
    from itertools import product

    from torchground.engine import run_sweep

    base = Spec(epochs=2, n_samples=60)
    combos = [dict(zip(settings, values)) for values in product(*settings.values())]
    pre = prebuild.start_sweep_build(base, fields, len(combos))
    assert pre is not None and pre.wait().error is None and compiles == ["steps"]
    result = run_sweep([base.replace(**c) for c in combos])
    assert result.path == "fused" and compiles == ["steps"]  # the groups found it built


def test_no_guess_where_the_grid_may_change_the_kernel(cache):
    assert prebuild.start_sweep_build(Spec(epochs=2), ["hidden"], 4) is None
    assert prebuild.start_sweep_build(Spec(epochs=2, optimizer="rmsprop"), ["lr"], 4) is None  # out of scope
