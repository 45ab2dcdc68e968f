"""Learning-rate schedules: the spec's fields, the trainer, the stacked engine, checkpoints, the CLI, sweeps, exported code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchground.cli import main
from torchground.codegen import to_script
from torchground.errors import SpecError
from torchground.schedules import SCHEDULERS, LRBank, build_scheduler, step
from torchground.spec import Spec
from torchground.train import Trainer, train
from torchground.train.checkpoint import Checkpointer, load_checkpoint, restore

CASES = {
    "step": {"step_size": 2, "gamma": 0.5},
    "multistep": {"milestones": (2, 4)},
    "exponential": {"gamma": 0.8},
    "cosine": {},
    "onecycle": {"pct_start": 0.4},
    "plateau": {"patience": 0, "factor": 0.5, "threshold": 0.5},
}


def _torch_rates(name: str, args: dict, lr: float, epochs: int, losses: list[float]) -> list[float]:
    """The rates a plain torch loop sees: the scheduler stepped once after each epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = build_scheduler(name, args, opt, epochs)
    opt.step()
    rates = []
    for e in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        step(sched, losses[e])
    return rates


@pytest.mark.parametrize("name", list(CASES))
def test_trainer_history_lr_follows_the_torch_scheduler(name: str) -> None:
    spec = Spec(epochs=6, scheduler=name, scheduler_args=CASES[name], device="cpu")
    run = train(spec)
    rates = run.history.column("lr")
    assert rates == _torch_rates(name, CASES[name], spec.lr, 6, run.history.column("val_loss"))
    assert len(set(rates)) > 1  # the rate really changes


def test_the_spec_validates_schedules() -> None:
    assert Spec(scheduler="One-Cycle").scheduler == "onecycle"
    assert Spec(scheduler="none").scheduler is None
    for bad, part in (
        (dict(scheduler="linear"), "not allowed"),
        (dict(scheduler_args={"gamma": 0.5}), "without a scheduler"),
        (dict(scheduler="step", scheduler_args={"T_max": 3}), "no setting T_max"),
        (dict(scheduler="multistep", scheduler_args={"milestones": (1.5,)}), "whole number"),
        (dict(scheduler="onecycle", scheduler_args={"anneal_strategy": "zigzag"}), "refuses"),
        (dict(scheduler="step", training_loop="tf-playground", loss="half_mse", shuffle=False, weight_decay=0), "scheduler"),
    ):
        with pytest.raises(SpecError, match=part):
            Spec(**bad)
    spec = Spec(scheduler="step", scheduler_args={"step_size": 3})
    assert Spec.from_json(spec.to_json()) == spec and Spec.from_toml(spec.to_toml()) == spec


@pytest.mark.parametrize("optimizer", ["sgd", "adamw", "adagrad", "rmsprop"])
def test_the_stacked_engine_gives_the_trainers_rates_and_numbers(optimizer: str) -> None:
    from torchground.engine import StackedGroup

    specs = [Spec(epochs=6, scheduler=n, scheduler_args=a, optimizer=optimizer, lr=0.02, device="cpu") for n, a in CASES.items()]
    specs.append(Spec(epochs=6, optimizer=optimizer, lr=0.02, device="cpu"))
    for spec, result in zip(specs, StackedGroup(specs).run()):
        expected = train(spec).history
        got = result.history()
        assert got.column("lr") == expected.column("lr"), spec.scheduler
        for a, b in zip(got.column("train_loss"), expected.column("train_loss")):
            assert a == pytest.approx(b, abs=1e-5)


def test_lr_bank_shares_equal_schedules() -> None:
    specs = [Spec(scheduler="step", epochs=4)] * 3 + [Spec(scheduler="plateau", epochs=4)] * 2 + [Spec(epochs=4)]
    bank = LRBank(specs)
    assert len(bank._scheds) == 1 + 2
    assert bank.step(range(6), [1.0] * 6) == [0.03] * 6


def test_a_checkpoint_keeps_the_schedule(tmp_path: Path) -> None:
    spec = Spec(epochs=8, scheduler="plateau", scheduler_args={"patience": 0}, optimizer="adam", device="cpu")
    whole = Trainer(spec)
    whole.fit()
    first = Trainer(spec, callbacks=[Checkpointer(tmp_path / "c.safetensors", every_s=0)])
    first.fit(5)
    resumed = Trainer(spec)
    restore(resumed, *load_checkpoint(tmp_path / "c.safetensors"))
    resumed.fit(spec.epochs - resumed.epoch)
    assert resumed.history.rows == whole.history.rows


def test_cli_flags_and_history_csv(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["train", "--epochs", "4", "--scheduler", "step", "--sched", "step_size=1", "--sched", "gamma=0.5",
                 "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0].endswith(",lr") and [float(r.split(",")[-1]) for r in lines[1:]] == [0.03, 0.015, 0.0075, 0.00375]
    assert json.loads((out / "spec.json").read_text())["scheduler_args"] == {"step_size": 1, "gamma": 0.5}


def test_cli_refuses_a_bad_sched(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--scheduler", "step", "--sched", "gamma"]) == 2
    assert "--sched" in capsys.readouterr().err
    assert main(["list", "schedulers", "--json"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == list(SCHEDULERS)


def test_a_sweep_varies_schedule_settings(tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert main(["sweep", "--grid", "sched.gamma=0.1,0.5; sched.milestones=1,2|2", "--scheduler", "multistep",
                 "--epochs", "3", "--device", "cpu", "--out", str(out)]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("rank,index,sched.gamma,sched.milestones") and len(rows) == 5


@pytest.mark.slow
def test_exported_script_reproduces_the_schedule(tmp_path: Path) -> None:
    specs = {name: Spec(epochs=4, scheduler=name, scheduler_args=args, device="cpu") for name, args in CASES.items()}
    procs = {}
    for name, spec in specs.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "train.py").write_text(to_script(spec), encoding="utf-8")
        env = dict(os.environ, TORCHGROUND_HISTORY_JSON=str(folder / "history.json"), MPLBACKEND="Agg")
        procs[name] = subprocess.Popen([sys.executable, "train.py"], cwd=folder, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        rows = json.loads((tmp_path / name / "history.json").read_text())
        expected = train(specs[name]).history.rows
        assert [r["lr"] for r in rows] == [r["lr"] for r in expected], name
        assert max(abs(r["train_loss"] - e["train_loss"]) for r, e in zip(rows, expected)) <= 1e-6


@pytest.mark.parametrize(
    "args, allowed_en, allowed_ja",
    [
        ({"step_size": 0}, "a whole number from 1", "1 以上の整数"),
        ({"gamma": -0.5}, "a number greater than 0", "0 より大きい数"),
        ({"pct_start": 2}, "a number greater than 0 and less than 1", "0 より大きく 1 未満"),
        ({"anneal_strategy": "zigzag"}, "one of cos, linear", "cos, linear のいずれか"),
        ({"factor": 1}, "a number from 0 to below 1", "0 以上 1 未満"),
        ({"milestones": (1.5, 3)}, "whole numbers from 1", "1 以上の整数"),
    ],
)
def test_schedule_refusals_name_the_setting_and_what_is_allowed_in_the_users_language(args, allowed_en, allowed_ja) -> None:
    name = {"step_size": "step", "gamma": "step", "pct_start": "onecycle", "anneal_strategy": "onecycle", "factor": "plateau",
            "milestones": "multistep"}[next(iter(args))]
    with pytest.raises(SpecError) as info:
        Spec(scheduler=name, scheduler_args=args, epochs=4)
    (key,) = args
    en, ja = info.value.message("en"), info.value.message("ja")
    assert f"{key} must be {allowed_en}" in en and allowed_ja in ja and f"{key} は" in ja
    assert "Expected" not in en + ja and "modulo" not in en + ja  # not torch's own English


def test_optimiser_and_schedule_refusals_share_one_check() -> None:
    from torchground.spec_rules import Allowed, setting_refusal

    with pytest.raises(SpecError) as info:
        Spec(optimizer="sgd", optimizer_args={"momentum": -1})
    assert "momentum は 0 以上の数でなければなりません" in info.value.message("ja") and "Invalid" not in info.value.message("ja")
    with pytest.raises(SpecError) as info:
        Spec(scheduler="onecycle", scheduler_args={"cycle_momentum": True}, optimizer="adagrad")
    assert "cycle_momentum" in info.value.message("en") and "momentum" in info.value.message("ja")
    assert setting_refusal({"n": 3}, {"n": 1}, {}) is None  # a number where torch's default is a number
    assert "true" in setting_refusal({"flag": 1}, {"flag": False}, {}).render("en")
    assert setting_refusal({"k": 5}, {}, {"k": Allowed("whole", 1, 4)}).render("en") == "k must be a whole number from 1 to 4, not 5"
