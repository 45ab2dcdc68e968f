"""Checkpoints and resume: a run killed or interrupted at any epoch ends as the uninterrupted run does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from torchground.cli import main
from torchground.spec import Spec
from torchground.train import Trainer
from torchground.train.checkpoint import (
    CHECKPOINT, Checkpointer, capture, load_checkpoint, remaining_epochs, restore, save_checkpoint,
)
from torchground.train.rundir import RUN_FILES, load_weights, run_status

SPECS = {
    "sgd": Spec(epochs=12, device="cpu"),
    "adam-l1-early": Spec(optimizer="adam", patience=3, l1=0.001, epochs=40, device="cpu"),
    "rrelu-rmsprop": Spec(activation="rrelu", optimizer="rmsprop", optimizer_args={"momentum": 0.5}, epochs=10, device="cpu"),
    "lbfgs-full": Spec(optimizer="lbfgs", batch_size="full", epochs=6, device="cpu"),
    "adam-f64": Spec(optimizer="adam", optimizer_args={"amsgrad": True, "betas": (0.8, 0.9)}, epochs=10, dtype="float64", device="cpu"),
    "regression": Spec(dataset="reg-gauss", n_samples=300, epochs=8, device="cpu"),
}


def _fit(spec: Spec, stop_after: int | None = None, state: tuple | None = None, path: Path | None = None) -> Trainer:
    saver = Checkpointer(path, every_s=0) if path is not None else None
    trainer = Trainer(spec, callbacks=[saver] if saver else [])
    if state is not None:
        restore(trainer, *state)
    if stop_after is None:
        trainer.fit(remaining_epochs(trainer))
        return trainer
    original = trainer.run_epoch

    def run_epoch():  # Ctrl-C in the middle of the epoch after ``stop_after``
        if trainer.epoch == stop_after:
            trainer.epoch += 1
            for cb in trainer.callbacks:
                cb.on_epoch_start(trainer, trainer.epoch)
            raise KeyboardInterrupt
        return original()

    trainer.run_epoch = run_epoch  # type: ignore[method-assign]
    trainer.fit()
    return trainer


def _same(a: Trainer, b: Trainer) -> None:
    assert a.history.rows == b.history.rows
    assert (a.history.status, a.history.steps, a.history.best_epoch) == (b.history.status, b.history.steps, b.history.best_epoch)
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
def test_resume_after_ctrl_c_is_bit_identical(name: str, tmp_path: Path) -> None:
    spec = SPECS[name]
    whole = _fit(spec)
    path = tmp_path / CHECKPOINT
    cut = _fit(spec, stop_after=4, path=path)
    assert cut.history.status == "interrupted"
    state = load_checkpoint(path)
    assert state[1]["epoch"] == 4
    resumed = _fit(spec, state=state)
    _same(whole, resumed)


def test_checkpoint_holds_every_state(tmp_path: Path) -> None:
    spec = Spec(optimizer="adam", patience=50, l1=0.01, epochs=3, device="cpu")
    trainer = _fit(spec, path=tmp_path / CHECKPOINT)
    tensors, meta = load_checkpoint(tmp_path / CHECKPOINT)
    assert meta["epoch"] == 2 and meta["format"] == 1
    assert any(k.startswith("/model/") for k in tensors)
    assert any("exp_avg" in k for k in tensors)  # the optimiser's moments
    assert any(k.startswith("/generator") for k in tensors) and any(k.startswith("/rng") for k in tensors)
    assert any(k.startswith("/dead/") for k in tensors)  # the L1 dead-weight masks
    assert any("best_state" in k for k in tensors)  # early stopping's best weights
    assert Spec.model_validate(meta["spec"]) == trainer.spec
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_checkpoint_round_trips_non_finite_numbers(tmp_path: Path) -> None:
    tensors = {"a": torch.arange(3.0)}
    meta = {"format": 1, "x": {"$f": "nan"}}
    save_checkpoint(tmp_path / "c.safetensors", tensors, meta)
    back_t, back_m = load_checkpoint(tmp_path / "c.safetensors")
    assert torch.equal(back_t["a"], tensors["a"]) and back_m == meta


@pytest.mark.slow
def test_a_damaged_checkpoint_is_refused_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    assert main(["train", "--epochs", "3", "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    (run / "summary.json").unlink()
    (run / CHECKPOINT).write_bytes(b"not a checkpoint")
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and "Traceback" not in err


def test_capture_restore_in_process(tmp_path: Path) -> None:
    spec = Spec(epochs=6, device="cpu")
    whole = _fit(spec)
    first = Trainer(spec)
    with torch.random.fork_rng(devices=[]):
        first.fit(3)
        state = capture(first)
    resumed = Trainer(spec, callbacks=[Checkpointer(tmp_path / CHECKPOINT)])
    restore(resumed, *state)
    assert remaining_epochs(resumed) == 3
    resumed.fit(remaining_epochs(resumed))
    _same(whole, resumed)


# -- the command line -----------------------------------------------------------------------------
@pytest.mark.slow
def test_resume_refuses_spec_flags_and_finished_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    assert main(["train", "--epochs", "2", "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    assert run_status(run) == "completed"
    assert not (run / CHECKPOINT).exists()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    assert "already finished" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--epochs", "5"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_run_folder_starts_with_the_spec_and_ends_with_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    original = Trainer.run_epoch

    def run_epoch(self: Trainer):  # noqa: ANN202
        seen.append(sorted(p.name for p in (tmp_path / "r").iterdir()))
        return original(self)

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)
    assert main(["train", "--epochs", "3", "--device", "cpu", "--out", str(tmp_path / "r"), "--quiet", "--checkpoint-every", "0"]) == 0
    assert seen[0] == ["spec.json"]
    assert seen[2] == [CHECKPOINT, "spec.json"]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(RUN_FILES)


@pytest.mark.slow
def test_a_new_run_in_an_old_folder_clears_it_first(tmp_path: Path) -> None:
    run = tmp_path / "r"
    assert main(["train", "--epochs", "2", "--device", "cpu", "--out", str(run), "--quiet"]) == 0
    (run / ".weights-x1y2.safetensors").write_bytes(b"left by a kill")
    (run / ".checkpoint-abc.safetensors").write_bytes(b"left by a kill")
    from torchground.train.rundir import start_run

    start_run(Spec(epochs=2), run)
    assert sorted(p.name for p in run.iterdir()) == ["spec.json"]


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path: Path) -> None:
    spec = Spec(epochs=4, device="cpu")
    run = tmp_path / "r"
    run.mkdir()
    (run / "spec.json").write_text(spec.to_json(), encoding="utf-8")
    assert run_status(run) == "unfinished"
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    whole = _fit(spec)
    weights = load_weights(run / "weights.safetensors")
    assert all(torch.equal(weights[k], v) for k, v in whole.model.state_dict().items())


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_gives_the_uninterrupted_run(tmp_path: Path) -> None:
    """A real ``kill -9`` of a training process, once its checkpoint exists, then ``--resume``."""
    args = ["--n-samples", "60", "--batch-size", "30", "--epochs", "1500", "--device", "cpu", "--optimizer", "adam", "--lr", "0.01"]
    run = tmp_path / "killed"
    env = {**os.environ, "TORCHGROUND_LANG": "en", "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "torchground", "train", *args, "--out", str(run), "--quiet",
                             "--checkpoint-every", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not (run / CHECKPOINT).exists():  # wait for training to be under way (no timing assumed)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.01)  # a poll, not a timing assumption: the kill lands whenever training is under way
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert run_status(run) == "unfinished"
    assert (run / "spec.json").is_file() and not (run / "summary.json").exists()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]
    reference = tmp_path / "whole"
    assert main(["train", *args, "--out", str(reference), "--quiet"]) == 0
    assert (run / "history.csv").read_text() == (reference / "history.csv").read_text()
    a, b = load_weights(run / "weights.safetensors"), load_weights(reference / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 1500


def test_a_csv_run_resumes_from_its_own_copy_of_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "points.csv"
    assert main(["data", "spiral", "--noise", "10", "--out", str(data)]) == 0
    args = ["train", "--data", str(data), "--epochs", "8", "--device", "cpu", "--quiet", "--checkpoint-every", "0"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    original = Trainer.run_epoch

    def run_epoch(self: Trainer):  # noqa: ANN202
        if self.epoch == 5:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)
    assert main([*args, "--out", str(tmp_path / "cut")]) == 130
    monkeypatch.setattr(Trainer, "run_epoch", original)
    data.unlink()  # the run folder's copy is what the resumed run reads
    assert main(["train", "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    assert (tmp_path / "cut" / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()


@pytest.mark.slow
def test_tensorflow_playground_loop_resumes_from_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["train", "--preset", "playground", "--epochs", "4", "--device", "cpu", "--quiet", "--checkpoint-every", "0"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    original = Trainer.run_epoch

    def run_epoch(self: Trainer):  # noqa: ANN202
        if self.epoch == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)
    assert main([*args, "--out", str(tmp_path / "cut")]) == 130
    assert not (tmp_path / "cut" / CHECKPOINT).exists()  # that loop keeps state a checkpoint does not hold
    monkeypatch.setattr(Trainer, "run_epoch", original)
    assert main(["train", "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    assert (tmp_path / "cut" / "history.csv").read_text() == (tmp_path / "whole" / "history.csv").read_text()
