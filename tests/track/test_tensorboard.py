"""TensorBoard output read back with tensorboard's EventAccumulator; the Tracker base class."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from torchground.cli import main
from torchground.spec import Spec
from torchground.track import Tracker
from torchground.train import train
from torchground.train.rundir import load_weights

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _events(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "histograms": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.mark.slow
def test_train_tensorboard_writes_every_kind_of_record(tmp_path: Path) -> None:
    tb, run, plain = tmp_path / "tb", tmp_path / "run", tmp_path / "plain"
    args = ["train", "--epochs", "12", "--scheduler", "exponential", "--device", "cpu", "--quiet"]
    assert main([*args, "--tensorboard", str(tb), "--out", str(run)]) == 0
    acc = _events(tb)
    tags = acc.Tags()
    assert {"loss/train", "loss/val", "acc/train", "acc/val", "lr"} <= set(tags["scalars"])
    history = (run / "history.csv").read_text().splitlines()[1:]
    losses = [e.value for e in acc.Scalars("loss/train")]
    assert [e.step for e in acc.Scalars("loss/train")] == list(range(1, 13))
    assert losses == pytest.approx([float(r.split(",")[1]) for r in history], rel=1e-6)
    rates = [e.value for e in acc.Scalars("lr")]
    assert rates[0] == pytest.approx(0.03) and rates[1] == pytest.approx(0.03 * 0.95)
    assert "weights/layer1.weight" in tags["histograms"] and len(acc.Histograms("weights/layer1.weight")) == 12
    assert [e.step for e in acc.Images("boundary")] == [10, 12]  # every 10 epochs and at the end
    assert tags["graph"] is True
    assert any(t.startswith("spec") for t in tags["tensors"])
    assert "_hparams_/session_start_info" in set(_hparams_tags(tb))
    # the numbers are those of a run without TensorBoard
    assert main([*args, "--out", str(plain)]) == 0
    a, b = load_weights(run / "weights.safetensors"), load_weights(plain / "weights.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _hparams_tags(folder: Path) -> list[str]:
    from tensorboard.backend.event_processing import event_file_loader

    tags = []
    for path in folder.glob("events.out.tfevents.*"):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            tags += [v.tag for v in event.summary.value]
    return tags


@pytest.mark.slow
def test_sweep_tensorboard_writes_one_run_per_model(tmp_path: Path) -> None:
    tb = tmp_path / "tb"
    assert main(["sweep", "--grid", "lr=0.01,0.1; activation=tanh,relu", "--epochs", "3", "--device", "cpu",
                 "--out", str(tmp_path / "s"), "--tensorboard", str(tb)]) == 0
    runs = sorted(p.name for p in tb.iterdir())
    assert len(runs) == 4 and runs[0].startswith("0000-lr=0.01-activation=tanh")
    acc = _events(tb / runs[0])
    assert [e.step for e in acc.Scalars("loss/train")] == [1, 2, 3]
    assert "_hparams_/session_start_info" in set(_hparams_tags(tb / runs[0]))


def test_a_tracker_subclass_gets_spec_metrics_and_final_figures() -> None:
    class Record(Tracker):
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def start(self, spec, trainer):  # noqa: ANN001, ANN201
            self.calls.append(("start", spec.epochs))

        def log_metrics(self, epoch, metrics):  # noqa: ANN001, ANN201
            self.calls.append(("metrics", epoch, sorted(metrics)))

        def finish(self, hparams, metrics, status):  # noqa: ANN001, ANN201
            self.calls.append(("finish", hparams["lr"], hparams["hidden"], sorted(metrics)[0], status))

    record = Record()
    train(Spec(epochs=2, device="cpu"), callbacks=[record])
    assert record.calls[0] == ("start", 2)
    assert record.calls[1] == ("metrics", 1, ["lr", "train_acc", "train_loss", "val_acc", "val_loss"])
    assert record.calls[-1] == ("finish", 0.03, "3,3", "final/lr", "completed")
