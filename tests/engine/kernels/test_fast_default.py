"""The fused kernel is the front ends' default (``train_fast``, ``run_sweep``, ``train --engine fast``,
``sweep``): in its scope a group takes the FUSED path; out of it, with ``--no-fused`` or
without a C compiler, the eager engine (never ``torch.compile`` unless asked)."""

from __future__ import annotations

import json

import pytest
import torch

from torchground.cli import main
from torchground.engine import StackedGroup, run_sweep, train_fast
from torchground.engine.kernels import build_cache
from torchground.spec import Spec

SMALL = dict(epochs=3, n_samples=120)


@pytest.fixture
def no_inductor(monkeypatch):
    """``torch.compile`` refused: the default paths must never reach it."""

    def refuse(*args, **kwargs):
        raise AssertionError("torch.compile was called")

    monkeypatch.setattr(torch, "compile", refuse)


def losses(history):
    return [(r["train_loss"], r["val_loss"]) for r in history.rows]


def test_train_fast_takes_the_fused_path_by_default(no_inductor):
    fused, eager = train_fast(Spec(**SMALL)), train_fast(Spec(**SMALL), fused=False)
    assert fused.summary["path"] == "fused" and eager.summary["path"] == "eager"
    assert fused.history.epochs == eager.history.epochs == 3
    for a, b in zip(losses(fused.history), losses(eager.history)):
        assert a == pytest.approx(b, abs=1e-5)


def test_out_of_scope_trains_eagerly_without_inductor(no_inductor):
    spec = Spec(optimizer="rmsprop", **SMALL)  # an optimiser the fused kernel does not cover
    run = train_fast(spec)
    assert run.summary["path"] == "eager" and run.history.status == "completed"
    assert losses(run.history) == losses(train_fast(spec, fused=False).history)


def test_plain_sweep_takes_the_fused_path(no_inductor):
    specs = [Spec(lr=lr, **SMALL) for lr in (0.01, 0.1, 0.3)]
    result = run_sweep(specs)
    assert result.paths == ["fused"] and result.summary()["path"] == "fused" and not result.summary()["compiled"]
    off = run_sweep(specs, fused=False)
    assert off.paths == ["eager"] and off.summary()["path"] == "eager"
    for a, b in zip(result.rows, off.rows):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)


def test_a_sweep_with_groups_in_and_out_of_scope_says_mixed(no_inductor):
    specs = [Spec(optimizer=name, **SMALL) for name in ("sgd", "rmsprop")]
    result = run_sweep(specs)
    assert result.paths == ["fused", "eager"] and result.path == "mixed"
    assert result.summary()["paths"] == {"fused": 1, "eager": 1}


def test_compile_keeps_inductor_as_the_fallback():
    group = StackedGroup([Spec(**SMALL)], compile=True)
    group.run()
    assert group.path == "fused" and group._compiled.fallback.value == "inductor"
    default = StackedGroup([Spec(**SMALL)], fused=True)
    default.run()
    assert default.path == "fused" and default._compiled.fallback.value == "eager"


def test_no_compiler_falls_back_to_eager_with_a_notice(monkeypatch, no_inductor):
    def missing() -> str:
        raise RuntimeError("no C compiler found (gcc, cc, clang or $CC)")

    monkeypatch.setattr(build_cache, "compiler", missing)
    specs = [Spec(lr=lr, **SMALL) for lr in (0.01, 0.1)]
    with pytest.warns(RuntimeWarning, match="no C compiler found.*trains on eagerly"):
        result = run_sweep(specs)
    assert result.paths == ["eager"]
    reference = run_sweep(specs, fused=False)
    for a, b in zip(result.rows, reference.rows):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
    with pytest.warns(RuntimeWarning, match="trains on eagerly"):
        assert train_fast(Spec(**SMALL)).summary["path"] == "eager"


@pytest.mark.parametrize("flags, path", [([], "fused"), (["--no-fused"], "eager"), (["--optimizer", "rmsprop"], "eager")])
def test_train_engine_fast_reports_its_path(tmp_path, capsys, flags, path):
    args = ["train", "--engine", "fast", "--epochs", "2", "--n-samples", "120", "--out", str(tmp_path / "run"), "--json", *flags]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["path"] == path


@pytest.mark.parametrize("flags, path", [([], "fused"), (["--no-fused"], "eager"), (["--optimizer", "adagrad"], "eager")])
def test_plain_sweep_command_reports_its_path(tmp_path, capsys, flags, path):
    args = ["sweep", "--grid", "lr=0.01,0.1", "--epochs", "2", "--n-samples", "120", "--out", str(tmp_path / "s"), "--json", *flags]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["path"] == path and summary["paths"] == {path: 1}
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["path"] == path


@pytest.mark.parametrize("command", [["train", "--engine", "fast"], ["sweep", "--grid", "lr=0.01,0.1"]])
@pytest.mark.parametrize("lang, start, end", [
    ("en", "the fused steps are not used (the C compiler $CC={cc} was not found)", "trains on eagerly"),
    ("ja", "融合したステップは使いません（C コンパイラ $CC={cc} が見つかりません）", "学習を続けます"),
])
def test_the_command_line_says_the_fallback_in_a_plain_line(tmp_path, capsys, monkeypatch, command, lang, start, end):
    cc = tmp_path / "no-such-cc"
    monkeypatch.setenv("CC", str(cc))
    assert main([*command, "--epochs", "2", "--n-samples", "120", "--out", str(tmp_path / "out"), "--json", "--lang", lang]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["path"] == "eager"
    notice = [line for line in captured.err.splitlines() if line.endswith(end)]
    assert len(notice) == 1 and notice[0].startswith(start.format(cc=cc))
    assert "Error" not in captured.err and ".py:" not in captured.err


def test_a_run_that_explodes_in_its_checked_epoch_stays_fused_and_diverges(recwarn):
    spec = Spec(dataset="reg-plane", lr=3, n_samples=200, epochs=10)  # the weights grow a million-fold in epoch 1
    fused, eager = train_fast(spec), train_fast(spec, fused=False)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # not refused: not compared
    assert fused.summary["path"] == "fused" and fused.history.status == eager.history.status == "diverged"
    # the same epoch; the step may differ by float rounding (as between the trainer and the eager engine)
    assert fused.history.message[1]["epoch"] == eager.history.message[1]["epoch"] == 3


@pytest.mark.parametrize("lr", [3.0, 10.0])
def test_a_chaotic_learning_rate_keeps_the_fused_path(recwarn, lr):
    # lr 3 and 10 on the circle: bounded but chaotic, rounding grows to the tolerance within the epoch
    run = train_fast(Spec(lr=lr, epochs=2))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert run.summary["path"] == "fused"


def test_a_chaotic_neighbour_does_not_take_a_calm_model_off_the_fused_path(recwarn):
    specs = [Spec(lr=lr, epochs=2) for lr in (0.03, 3.0, 100.0)]
    result = run_sweep(specs)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert result.paths == ["fused"]
    calm = run_sweep(specs[:1], fused=False)
    assert result.rows[0]["val_loss"] == pytest.approx(calm.rows[0]["val_loss"], abs=1e-5)


@pytest.mark.parametrize("dataset, activation, init_seed", [("gauss", "sigmoid", 5), ("spiral", "relu", 0), ("xor", "tanh", 0)])
def test_high_learning_rates_across_activations_keep_the_fused_path(recwarn, dataset, activation, init_seed):
    # cases where rounding grows past the tolerance: chaos (tanh), a kink crossed (relu), a
    # saturated sigmoid whose float32 eager steps are themselves far from float64's
    specs = [Spec(dataset=dataset, activation=activation, lr=lr, init_seed=init_seed, epochs=2) for lr in (0.03, 1, 3, 10, 30, 100)]
    result = run_sweep(specs)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert result.paths == ["fused"]


def test_a_wrong_kernel_beside_a_chaotic_model_is_still_refused(monkeypatch):
    from torchground.engine.kernels.native import NativeSteps

    original = NativeSteps._launch

    def wrong(self, *args):
        original(self, *args)
        self.twin.params.add_(0.01)

    monkeypatch.setattr(NativeSteps, "_launch", wrong)
    with pytest.warns(RuntimeWarning, match="differs from the eager steps"):
        result = run_sweep([Spec(lr=lr, epochs=2) for lr in (0.03, 3.0)])
    assert result.paths == ["eager"]


@pytest.mark.parametrize("command", [["train", "--engine", "fast"], ["sweep", "--grid", "lr=0.01,0.1"]])
def test_quiet_keeps_the_engine_notices_back(tmp_path, capsys, monkeypatch, command):
    def missing() -> str:
        raise RuntimeError("no C compiler found (gcc, cc, clang or $CC)")

    monkeypatch.setattr(build_cache, "compiler", missing)
    assert main([*command, "--epochs", "2", "--n-samples", "120", "--out", str(tmp_path / "out"), "-q"]) == 0
    assert capsys.readouterr().err == ""
