"""Tests for torchground.train.trainer: determinism, equivalence with the curriculum's plain loop,
divergence, early stopping, interruption, the Playground L1 rule and callbacks."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from torchground.train.callbacks import Callback, EarlyStopping
from torchground.train.history import History, metric_columns
from torchground.i18n import t
from torchground.model import build_model, discretize, weight_parameters
from torchground.spec import Spec
from torchground.train import Trainer, make_data, to_tensors, train

# ----------------------------------------------------------------------------- helpers


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def finite_rows(history: History) -> bool:
    return all(
        isinstance(v, (int, float)) and math.isfinite(v)
        for row in history.rows for v in row.values() if v is not None
    )


class Recorder(Callback):
    """Records every event, and the state after every step."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def on_fit_start(self, trainer: Trainer) -> None:
        self.events.append("fit_start")
        self.states[0] = copy.deepcopy(trainer.model.state_dict())

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.events.append(f"epoch_start:{epoch}")

    def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
        self.events.append("batch_end")
        self.states[step] = copy.deepcopy(trainer.model.state_dict())

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self.events.append(f"epoch_end:{row['epoch']}")

    def on_diverged(self, trainer: Trainer, info: dict[str, Any]) -> None:
        self.events.append("diverged")

    def on_fit_end(self, trainer: Trainer, history: History) -> None:
        self.events.append("fit_end")


class EpochSnapshots(Callback):
    def __init__(self) -> None:
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        self.states[row["epoch"]] = copy.deepcopy(trainer.model.state_dict())


def curriculum_loop(spec: Spec, epochs: int, dtype: torch.dtype = torch.float32) -> list[dict[str, float]]:
    """The curriculum's part-3 loop, written plainly (with the epoch-average fixed)."""
    data = make_data(spec)
    x_train, y_train = to_tensors(data.train, spec.features, dtype)
    x_val, y_val = to_tensors(data.val, spec.features, dtype)
    batch_size = len(x_train) if spec.batch_size == "full" else spec.batch_size
    loader = DataLoader(
        TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=spec.shuffle,
        generator=torch.Generator().manual_seed(spec.shuffle_seed),
    )
    model = build_model(spec)
    optimizer = optim.SGD(model.parameters(), lr=0.03, weight_decay=0.03)
    criterion = nn.MSELoss()
    rows = []
    for _ in range(epochs):
        model.train()
        loss_sum, seen, correct = 0.0, 0, 0
        for xb, yb in loader:
            pred = model(xb)
            optimizer.zero_grad()
            loss = criterion(pred, yb)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(yb)
            seen += len(yb)
            with torch.no_grad():
                correct += int((discretize(pred) == yb).sum())
        model.eval()
        with torch.no_grad():
            pred = model(x_val)
            val_loss = criterion(pred, y_val).item()
            val_acc = int((discretize(pred) == y_val).sum()) / len(y_val)
        rows.append({"train_loss": loss_sum / seen, "val_loss": val_loss, "train_acc": correct / seen, "val_acc": val_acc})
    return rows


def assert_rows_match(expected: list[dict[str, float]], history: History) -> None:
    assert history.epochs == len(expected)
    for want, got in zip(expected, history.rows):
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-6), (got["epoch"], key)


# ----------------------------------------------------------------------------- determinism


def test_same_spec_gives_identical_history_and_weights() -> None:
    spec = Spec(epochs=5)
    a, b = train(spec), train(spec)
    assert a.history.rows == b.history.rows
    assert a.history.steps == b.history.steps == 5 * 17
    assert same_state(a.model.state_dict(), b.model.state_dict())


def test_shuffle_seed_changes_the_batch_order() -> None:
    a = train(Spec(epochs=2))
    b = train(Spec(epochs=2, shuffle_seed=1))
    assert a.history.rows != b.history.rows


def test_training_does_not_disturb_the_global_rng() -> None:
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    train(Spec(epochs=2, activation="rrelu"))
    assert torch.equal(torch.rand(4), expected)


# ----------------------------------------------------------------------------- curriculum equivalence


@pytest.mark.slow
@pytest.mark.parametrize(
    "fields",
    [{}, {"shuffle": False}, {"batch_size": "full"}, {"shuffle_seed": 3, "batch_size": 7}],
    ids=["shuffled", "no-shuffle", "full-batch", "other-seed-and-batch"],
)
def test_trainer_equals_the_curriculum_loop(fields: dict) -> None:
    spec = Spec(epochs=10, **fields)
    expected = curriculum_loop(spec, 10)
    assert_rows_match(expected, train(spec).history)


def test_trainer_equals_the_curriculum_loop_in_float64() -> None:
    spec = Spec(epochs=4, dtype="float64")
    assert_rows_match(curriculum_loop(spec, 4, torch.float64), train(spec).history)


@pytest.mark.slow
def test_trainer_with_a_dataloader_gives_the_same() -> None:
    spec = Spec(epochs=10)
    data = make_data(spec)
    x, y = to_tensors(data.train, spec.features, torch.float32)
    loader = DataLoader(TensorDataset(x, y), batch_size=15, shuffle=True,
                        generator=torch.Generator().manual_seed(spec.shuffle_seed))
    trainer = Trainer(spec, train_loader=loader)
    history = trainer.fit()
    reference = train(spec)
    assert_rows_match(curriculum_loop(spec, 10), history)
    assert history.rows == reference.history.rows
    assert same_state(trainer.model.state_dict(), reference.model.state_dict())


def test_train_loss_is_the_sample_weighted_mean_not_the_article_flaw() -> None:
    # 250 training points in batches of 15: 16 full batches and one of 10.
    losses: list[float] = []

    class Batches(Callback):
        def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
            losses.append(loss)

    history = Trainer(Spec(epochs=1), callbacks=[Batches()]).fit()
    sizes = [15] * 16 + [10]
    assert len(losses) == len(sizes)
    weighted = sum(loss * n for loss, n in zip(losses, sizes)) / 250
    assert history.rows[0]["train_loss"] == pytest.approx(weighted, rel=1e-9)
    article = sum(losses) / 1  # the article's flawed figure: summed batch losses / epoch number
    assert history.rows[0]["train_loss"] != pytest.approx(article, rel=1e-3)


# ----------------------------------------------------------------------------- history columns


def test_classification_history_columns_and_values() -> None:
    run = train(Spec(epochs=3, train_pct=60, val_pct=20, test_pct=20))
    h = run.history
    assert h.columns == ("epoch", "train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc", "lr")
    assert h.columns == metric_columns("classification")
    assert h.column("epoch") == [1, 2, 3]
    for row in h.rows:
        assert set(row) == set(h.columns)
        assert all(0.0 <= row[k] <= 1.0 for k in ("train_acc", "val_acc", "test_acc"))
        assert row["lr"] == 0.03
    # validation/test figures are those of the final model on the whole set
    x, y = to_tensors(run.data.test, run.spec.features, torch.float32)
    with torch.no_grad():
        pred = run.model.eval()(x)
    assert h.last["test_loss"] == pytest.approx(float(nn.MSELoss()(pred, y)), abs=1e-7)
    assert h.last["test_acc"] == int((discretize(pred) == y).sum()) / len(y)


def test_regression_history_has_rmse_and_r2() -> None:
    run = train(Spec(dataset="reg-plane", epochs=3))
    h = run.history
    assert h.columns == metric_columns("regression")
    assert {"train_rmse", "val_rmse", "test_rmse", "train_r2", "val_r2", "test_r2"} <= set(h.columns)
    assert "train_acc" not in h.columns
    row = h.last
    assert row["test_loss"] is None and row["test_rmse"] is None and row["test_r2"] is None  # no test data
    # with the mse loss, rmse² is the loss
    assert row["val_rmse"] ** 2 == pytest.approx(row["val_loss"], rel=1e-5)
    assert row["train_rmse"] ** 2 == pytest.approx(row["train_loss"], rel=1e-5)
    _, y = to_tensors(run.data.val, run.spec.features, torch.float32)
    variance = float(((y - y.mean()) ** 2).mean())
    assert row["val_r2"] == pytest.approx(1 - row["val_loss"] / variance, rel=1e-5)
    assert 0.0 < row["val_r2"] <= 1.0


def test_history_csv_has_a_header_and_one_line_per_epoch() -> None:
    h = train(Spec(epochs=3)).history
    lines = h.to_csv().splitlines()
    assert lines[0] == ",".join(h.columns)
    assert len(lines) == 4
    assert lines[1].split(",")[0] == "1"
    assert float(lines[3].split(",")[1]) == h.rows[2]["train_loss"]  # full precision


# ----------------------------------------------------------------------------- summary


def test_train_returns_a_run_with_a_summary() -> None:
    run = train(Spec(epochs=3))
    s = run.summary
    assert s["status"] == "completed"
    assert s["epochs"] == 3
    assert s["steps"] == 3 * 17
    assert s["wall_s"] > 0
    assert s["steps_per_s"] == pytest.approx(s["steps"] / s["wall_s"], rel=1e-2)
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "lr"):
        assert s[key] == run.history.last[key]
    assert s["best_epoch"] == run.history.best_epoch
    assert s["device"] == "cpu"
    assert run.spec == Spec(epochs=3)
    assert run.data.train.n == 250 and run.data.val.n == 250


def test_train_applies_overrides() -> None:
    run = train(Spec(), epochs=2, hidden=(2,))
    assert run.spec.epochs == 2 and run.spec.hidden == (2,)
    assert run.history.epochs == 2


def test_float64_run() -> None:
    run = train(Spec(epochs=3, dtype="float64"))
    assert run.history.status == "completed"
    assert {p.dtype for p in run.model.parameters()} == {torch.float64}
    assert finite_rows(run.history)


# ----------------------------------------------------------------------------- divergence

DIVERGING = Spec(dataset="reg-plane", lr=3, n_samples=200, epochs=10)  # diverges in epoch 3


def test_divergence_ends_the_run_cleanly() -> None:
    recorder = Recorder()
    trainer = Trainer(DIVERGING, callbacks=[recorder])
    history = trainer.fit()
    assert history.status == "diverged"
    assert 1 <= history.epochs < DIVERGING.epochs
    key, params = history.message
    assert key == "train.diverged"
    text = t(key, **params)
    assert "lr = 3.0" in text and "lr = 0.3" in text
    assert params["epoch"] == history.epochs + 1
    assert all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())
    assert finite_rows(history)
    assert recorder.events[-2:] == ["diverged", "fit_end"]


def test_divergence_puts_back_the_last_finite_state() -> None:
    recorder = Recorder()
    trainer = Trainer(DIVERGING, callbacks=[recorder])
    trainer.fit()
    finite = [s for s in sorted(recorder.states) if all(bool(torch.isfinite(v).all()) for v in recorder.states[s].values())]
    assert same_state(trainer.model.state_dict(), recorder.states[finite[-1]])


def test_divergence_in_the_first_epoch_leaves_no_rows_and_no_exception() -> None:
    run = train(Spec(dataset="reg-plane", lr=5))
    assert run.history.status == "diverged"
    assert run.history.rows == []
    assert run.summary["message_key"] == "train.diverged"
    assert run.summary["message_params"]["lr"] == 5.0
    assert all(bool(torch.isfinite(p).all()) for p in run.model.parameters())


def test_divergence_does_not_keep_the_update_of_the_infinite_step() -> None:
    recorder = Recorder()
    trainer = Trainer(Spec(dataset="reg-plane", lr=5), callbacks=[recorder])
    history = trainer.fit()
    assert history.status == "diverged"
    assert same_state(trainer.model.state_dict(), recorder.states[history.steps])


def test_diverged_run_summary_is_json_safe() -> None:
    run = train(DIVERGING)
    assert run.summary["status"] == "diverged"
    assert run.summary["epochs"] == run.history.epochs


# ----------------------------------------------------------------------------- early stopping


def test_early_stopping_stops_before_epochs_and_restores_the_best() -> None:
    spec = Spec(patience=3, lr=1.0, epochs=100)
    snaps = EpochSnapshots()
    trainer = Trainer(spec, callbacks=[snaps])
    history = trainer.fit()
    assert history.status == "early_stopped"
    assert history.epochs < 100
    best = history.best_epoch
    assert history.epochs == best + 3
    val = history.column("val_loss")
    assert val[best - 1] == min(val)
    assert history.message == ("train.early_stopped", {"epoch": history.epochs, "best": best, "patience": 3})
    assert same_state(trainer.model.state_dict(), snaps.states[best])
    key, params = history.message
    assert f"epoch {history.epochs}" in t(key, **params) and f"epoch {best}" in t(key, **params)


def test_early_stopping_without_restore_keeps_the_last_weights() -> None:
    spec = Spec(patience=3, lr=1.0, epochs=100, restore_best=False)
    snaps = EpochSnapshots()
    trainer = Trainer(spec, callbacks=[snaps])
    history = trainer.fit()
    assert history.status == "early_stopped"
    assert same_state(trainer.model.state_dict(), snaps.states[history.epochs])
    assert not same_state(trainer.model.state_dict(), snaps.states[history.best_epoch])


def test_no_early_stopping_without_patience() -> None:
    history = train(Spec(lr=1.0, epochs=20)).history
    assert history.status == "completed" and history.epochs == 20


def test_early_stopping_callback_directly() -> None:
    stopper = EarlyStopping(patience=2)
    history = Trainer(Spec(lr=1.0, epochs=100), callbacks=[stopper]).fit()
    assert history.status == "early_stopped"
    assert stopper.best_epoch == history.best_epoch
    assert history.epochs == stopper.best_epoch + 2


def test_min_delta_best_epoch_is_the_restored_epoch() -> None:
    snaps = EpochSnapshots()
    trainer = Trainer(Spec(patience=3, min_delta=0.01, epochs=100), callbacks=[snaps])
    history = trainer.fit()
    assert history.status == "early_stopped"
    assert history.message[1]["best"] == history.best_epoch
    assert same_state(trainer.model.state_dict(), snaps.states[history.best_epoch])


# ----------------------------------------------------------------------------- interruption


def test_keyboard_interrupt_from_a_callback_ends_as_interrupted() -> None:
    class StopAtTwo(Callback):
        def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
            if row["epoch"] == 2:
                raise KeyboardInterrupt

    recorder = Recorder()
    run = train(Spec(epochs=5), callbacks=[recorder, StopAtTwo()])
    assert run.history.status == "interrupted"
    assert run.history.epochs == 2
    assert run.summary["status"] == "interrupted" and run.summary["epochs"] == 2
    assert recorder.events[-1] == "fit_end"
    assert finite_rows(run.history)


# ----------------------------------------------------------------------------- L1 (Playground rule)


def test_l1_weight_that_crossed_zero_stays_exactly_zero() -> None:
    weights: list[torch.Tensor] = []

    class Weights(Callback):
        def on_fit_start(self, trainer: Trainer) -> None:
            weights.append(torch.cat([w.detach().flatten().clone() for w in weight_parameters(trainer.model)]))

        def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
            weights.append(torch.cat([w.detach().flatten().clone() for w in weight_parameters(trainer.model)]))

    Trainer(Spec(l1=0.3, epochs=5, weight_decay=0), callbacks=[Weights()]).fit()
    w = torch.stack(weights)  # (steps + 1, n_weights)
    assert torch.count_nonzero(w[0]) == w.shape[1]
    zero = w == 0
    died = zero.any(dim=0)
    assert int(died.sum()) >= 1
    for j in torch.nonzero(died).flatten().tolist():
        first = int(zero[:, j].float().argmax())
        assert bool(zero[first:, j].all()), f"weight {j} came back to life"
        assert w[first - 1, j] != 0  # it was alive the step before


def test_without_l1_no_weight_is_pinned_at_zero() -> None:
    run = train(Spec(epochs=5, weight_decay=0))
    assert all(torch.count_nonzero(w) == w.numel() for w in weight_parameters(run.model))


def test_l1_and_l2_penalties_apply_to_weights_only() -> None:
    trainer = Trainer(Spec(l1=0.1, l2=0.2, epochs=1))
    x, y = trainer.sets["train"]
    with torch.no_grad():
        pred = trainer.model(x)
        weights = weight_parameters(trainer.model)
        data = trainer.criterion(pred, y)
        expected = data + 0.1 * sum(w.abs().sum() for w in weights) + 0.2 * 0.5 * sum((w * w).sum() for w in weights)
        assert trainer.loss_of(pred, y).item() == pytest.approx(expected.item(), rel=1e-6)
        assert expected.item() > data.item() + 0.1  # the penalty is not negligible here


def test_reported_losses_exclude_the_penalty() -> None:
    spec = Spec(l2=1.0, epochs=1, shuffle=False)
    first: list[float] = []

    class First(Callback):
        def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
            first.append(loss)

    trainer = Trainer(spec, callbacks=[First()])
    x, y = trainer.sets["train"]
    with torch.no_grad():
        expected = nn.MSELoss()(trainer.model(x[:15]), y[:15]).item()  # the first batch, before any step
    trainer.fit()
    assert first[0] == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------- callbacks


def test_callbacks_receive_events_in_order() -> None:
    recorder = Recorder()
    spec = Spec(epochs=2, n_samples=60, batch_size=10)  # 30 training points: 3 batches per epoch
    Trainer(spec, callbacks=[recorder]).fit()
    expected = ["fit_start"]
    for epoch in (1, 2):
        expected += [f"epoch_start:{epoch}", "batch_end", "batch_end", "batch_end", f"epoch_end:{epoch}"]
    expected.append("fit_end")
    assert recorder.events == expected


def test_on_batch_end_is_called_only_when_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(Callback, "on_batch_end", lambda self, trainer, step, loss: calls.append(step))

    class EpochsOnly(Callback):
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
            self.epochs.append(row["epoch"])

    cb = EpochsOnly()
    Trainer(Spec(epochs=2), callbacks=[cb]).fit()
    assert cb.epochs == [1, 2]
    assert calls == []


def test_batch_end_receives_step_numbers_and_losses() -> None:
    got: list[tuple[int, float]] = []

    class Steps(Callback):
        def on_batch_end(self, trainer: Trainer, step: int, loss: float) -> None:
            got.append((step, loss))

    history = Trainer(Spec(epochs=2), callbacks=[Steps()]).fit()
    assert [s for s, _ in got] == list(range(1, history.steps + 1))
    assert all(isinstance(v, float) and math.isfinite(v) for _, v in got)


def test_a_callback_can_stop_training() -> None:
    class StopAtThree(Callback):
        def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
            if row["epoch"] == 3:
                trainer.should_stop = True

    history = Trainer(Spec(epochs=10), callbacks=[StopAtThree()]).fit()
    assert history.epochs == 3
    assert history.status == "completed"


# ----------------------------------------------------------------------------- devices and other optimisers


def test_cuda_without_cuda_is_refused() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    from torchground.errors import TorchgroundError

    with pytest.raises(TorchgroundError) as info:
        Trainer(Spec(device="cuda", epochs=1))
    assert info.value.key == "train.no_cuda"


def test_lbfgs_runs_with_its_closure() -> None:
    run = train(Spec(optimizer="lbfgs", lr=0.5, batch_size="full", epochs=3))
    assert run.history.status == "completed"
    assert run.history.steps == 3
    assert finite_rows(run.history)
    assert run.history.rows[-1]["train_loss"] < run.history.rows[0]["train_loss"] + 1e-9


@pytest.mark.parametrize(
    "optimizer, args",
    [("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True}), ("adam", {}), ("adamw", {}), ("adamax", {}),
     ("adadelta", {}), ("adagrad", {}), ("rmsprop", {"momentum": 0.5}), ("rprop", {})],
)
def test_fast_optimizer_implementations_give_identical_numbers(optimizer: str, args: dict) -> None:
    """The trainer's fused/foreach optimisers are bit-identical to torch.optim's defaults."""
    from torchground.train import build_optimizer

    spec = Spec(optimizer=optimizer, optimizer_args=args, lr=0.01, epochs=4, n_samples=200)
    results = []
    for fast in (True, False):
        trainer = Trainer(spec)
        trainer.optimizer = build_optimizer(spec, trainer.model.parameters(), fast=fast)
        history = trainer.fit()
        results.append(([r["train_loss"] for r in history.rows], [p.detach().clone() for p in trainer.model.parameters()]))
    (losses_fast, params_fast), (losses_plain, params_plain) = results
    assert losses_fast == losses_plain
    assert all(torch.equal(a, b) for a, b in zip(params_fast, params_plain))
