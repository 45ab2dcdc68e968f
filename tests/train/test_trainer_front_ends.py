"""What the front ends use of :class:`Trainer`: evaluate, one row of metrics, going on after a
stop, and one divergence message for every engine."""

from __future__ import annotations

import torch

from torchground.engine import train_fast
from torchground.spec import Spec
from torchground.train import Trainer, divergence_message, train

DIVERGING = Spec(dataset="reg-plane", lr=3, n_samples=200, epochs=10)  # diverges in epoch 3


def _params(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.parameters()]


def test_evaluate_measures_every_set_without_training() -> None:
    trainer = Trainer(Spec(epochs=2, n_samples=200, train_pct=60, val_pct=20, test_pct=20))
    before = _params(trainer)
    row = trainer.evaluate()
    assert list(row) == list(trainer.history.columns) and row["epoch"] == 0
    for name in ("train", "val", "test"):
        measured = trainer.valid_step(*trainer.sets[name])
        assert row[f"{name}_loss"] == measured["loss"] and row[f"{name}_acc"] == measured["acc"]
    assert row["lr"] == trainer.spec.lr
    assert all(torch.equal(a, b) for a, b in zip(before, _params(trainer)))
    assert trainer.history.rows == [] and trainer.history.steps == 0
    trainer.run_epoch()
    assert trainer.evaluate()["epoch"] == 1


def test_evaluate_gives_regression_columns() -> None:
    row = Trainer(Spec(dataset="reg-plane", n_samples=100)).evaluate()
    assert row["train_rmse"] is not None and row["train_r2"] is not None and "train_acc" not in row


def test_metrics_row_is_the_last_row_or_the_untrained_model() -> None:
    trainer = Trainer(Spec(epochs=3, n_samples=100))
    assert trainer.metrics_row() == trainer.evaluate()
    trainer.run_epoch()
    row = trainer.metrics_row()
    assert row == trainer.history.last
    row["train_loss"] = -1.0  # a copy: the history keeps its row
    assert trainer.history.last["train_loss"] != -1.0


def test_clear_stop_after_divergence_trains_on_from_the_finished_epochs() -> None:
    trainer = Trainer(DIVERGING)
    trainer.fit()
    assert trainer.history.status == "diverged" and trainer.history.message is not None
    finished = trainer.history.epochs
    assert trainer.epoch == finished + 1  # the failed epoch is counted until cleared
    trainer.clear_stop()
    assert (trainer.epoch, trainer.history.status, trainer.history.message, trainer.should_stop) == (finished, "running", None, False)
    # the kept weights are those whose loss was not finite: the next epoch fails again, and
    # says so as the epoch after the finished ones, not one further on
    assert trainer.run_epoch() is None
    assert trainer.history.message[1]["epoch"] == finished + 1 and trainer.history.epochs == finished
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_clear_stop_after_early_stopping_lets_fit_go_on() -> None:
    trainer = Trainer(Spec(epochs=60, n_samples=100, val_pct=30, test_pct=0, train_pct=70, patience=1, lr=0.3))
    history = trainer.fit()
    assert history.status == "early_stopped"
    stopped_at = history.epochs
    trainer.clear_stop()
    trainer.fit(epochs=1)  # the callback keeps its count: one more epoch, then it may stop again
    assert history.epochs == stopped_at + 1 and history.rows[-1]["epoch"] == stopped_at + 1


def test_both_engines_say_the_same_when_a_run_diverges() -> None:
    eager, stacked = train(DIVERGING), train_fast(DIVERGING)
    assert eager.history.status == stacked.history.status == "diverged"
    for run in (eager, stacked):  # the same key and fields (the step may differ by float rounding)
        key, info = run.history.message
        assert (key, info) == divergence_message(DIVERGING, info["epoch"], info["step"], float(info["value"]))
