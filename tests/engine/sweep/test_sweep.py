"""Tests for sweeps: the grid parser, grouping and running, results, the CLI and the Ray backend."""

from __future__ import annotations

import builtins
import csv
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from torchground.cli import main
from torchground.engine import expand_grid, parse_grid, run_sweep
from torchground.engine.sweep.backends import get_backend
from torchground.engine.sweep.grid import MAX_SETTINGS
from torchground.errors import SpecError, TorchgroundError
from torchground.spec import Spec

ROOT = Path(__file__).resolve().parents[3]
importlib.import_module("torchground.cli.sweep_cmd")  # registers the sweep command (the lead adds it to the app's list)


# ----------------------------------------------------------------------------- grid parser
def test_grid_of_the_brief():
    grid = parse_grid("lr=0.003,0.03,0.3; activation=tanh,relu; hidden=4,2|8,8; seed=0..9")
    assert grid.fields == ("lr", "activation", "hidden", "seed")
    assert len(grid) == 3 * 2 * 2 * 10
    assert dict(grid.axes)["hidden"] == ("4,2", "8,8")
    assert dict(grid.axes)["seed"] == tuple(range(10))
    settings = expand_grid(Spec(), grid)
    shown, spec = settings[-1]
    assert spec.lr == 0.3 and spec.activation == "relu" and spec.hidden == (8, 8) and spec.seed == 9
    assert shown == {"lr": "0.3", "activation": "relu", "hidden": "8,8", "seed": 9}


@pytest.mark.parametrize(
    "text, axes",
    [
        ("lr=0.1", [("lr", ("0.1",))]),
        ("  lr = 0.1 , 0.2 ;", [("lr", ("0.1", "0.2"))]),
        ("features=x1,x2|x1sq,x2sq,x1x2", [("features", ("x1,x2", "x1sq,x2sq,x1x2"))]),
        ("hidden=4", [("hidden", ("4",))]),
        ("init_seed=3..5;batch_size=full,10", [("init_seed", (3, 4, 5)), ("batch_size", ("full", "10"))]),
        ("momentum=0,0.9; betas=0.9,0.99|0.8,0.9", [("momentum", ("0", "0.9")), ("betas", ("0.9,0.99", "0.8,0.9"))]),
        ("shuffle=true,false", [("shuffle", ("true", "false"))]),
    ],
)
def test_good_grids(text, axes):
    assert list(parse_grid(text).axes) == axes


def test_optimizer_arguments_go_into_optimizer_args():
    settings = expand_grid(Spec(), parse_grid("momentum=0,0.9; nesterov=false"))
    assert [s.optimizer_args for _, s in settings] == [{"momentum": 0, "nesterov": False}, {"momentum": 0.9, "nesterov": False}]
    adam = expand_grid(Spec(optimizer="adam"), parse_grid("betas=0.9,0.99|0.8,0.9"))
    assert [s.optimizer_args["betas"] for _, s in adam] == [(0.9, 0.99), (0.8, 0.9)]


@pytest.mark.parametrize(
    "text, column, reason",
    [
        ("", 1, "grid is empty"),
        ("   ", 1, "grid is empty"),
        ("lr=0.1;; seed=1", 8, "empty item"),
        ("; lr=0.1", 1, "empty item"),
        ("lr=0.1; seed", 9, "has no"),
        ("lr=0.1; =3", 9, "field name is missing"),
        ("lr=0.1; colour=red", 9, "unknown field colour"),
        ("lr=0.1; lr=0.2", 9, "lr appears twice"),
        ("lr=0.1,,0.3", 8, "empty value"),
        ("lr=", 4, "empty value"),
        ("hidden=4|", 10, "empty value"),
        ("seed=a..3", 6, "not a range"),
        ("seed=5..3", 6, "not a range"),
        ("seed=0..2; init_seed= 1..x", 23, "not a range"),
        (f"seed=0..{MAX_SETTINGS}", 6, "too many"),
        ("seed=0..999; init_seed=0..999", 1, "too many"),
    ],
)
def test_malformed_grids_name_column_and_reason(text, column, reason):
    with pytest.raises(TorchgroundError) as info:
        parse_grid(text)
    assert info.value.key == "sweep.grid.error"
    assert info.value.params["column"] == column
    message = info.value.message()
    assert f"column {column}:" in message and reason in message
    assert f"{column} 文字目" in info.value.message("ja")


def test_a_bad_value_is_refused_by_the_spec_naming_the_field():
    with pytest.raises(SpecError) as info:
        expand_grid(Spec(), parse_grid("lr=0.1,-1"))
    assert info.value.params["field"] == "lr"
    with pytest.raises(SpecError) as info:
        expand_grid(Spec(), parse_grid("hidden=4|4,999"))
    assert info.value.params["field"] == "hidden"


# ----------------------------------------------------------------------------- running
def test_run_sweep_groups_ranks_and_summarises():
    grid = parse_grid("lr=0.03,0.3; hidden=3|4,2; init_seed=0..1")
    settings = expand_grid(Spec(epochs=3, n_samples=120), grid)
    result = run_sweep([s for _, s in settings], [v for v, _ in settings], grid=grid.text)
    assert result.groups == 2 and len(result.results) == 8
    assert result.model_steps == 8 * 3 * 4  # 60 training points, batch 15
    ranking = result.ranking()
    losses = [result.rows[i]["val_loss"] for i in ranking]
    assert losses == sorted(losses)
    summary = result.summary()
    for key in ("models", "model_steps", "wall_s", "model_steps_per_s", "groups", "best"):
        assert key in summary
    assert summary["best"]["setting"] == result.settings[ranking[0]]
    rows = list(csv.DictReader(io.StringIO(result.csv_text())))
    assert len(rows) == 8 and {"lr", "hidden", "init_seed", "status", "val_loss", "train_loss"} <= set(rows[0])
    assert rows[0]["rank"] == "1" and float(rows[0]["val_loss"]) == losses[0]


def test_sweep_results_equal_single_runs_and_diverged_rank_last():
    specs = [Spec(epochs=4, n_samples=120, activation="relu", output_activation="identity", lr=lr) for lr in (0.03, 60.0, 0.01)]
    result = run_sweep(specs)
    assert [r.status for r in result.results] == ["completed", "diverged", "completed"]
    assert result.ranking()[-1] == 1
    from torchground.engine import train_fast

    alone = train_fast(specs[0])
    assert alone.history.rows == result.results[0].history().rows


def test_unknown_backend_is_refused():
    with pytest.raises(TorchgroundError) as info:
        get_backend("slurm")
    assert "local, ray" in info.value.message()


# ----------------------------------------------------------------------------- CLI
def test_sweep_command_writes_three_files_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "sw"
    code = main(["sweep", "--grid", "lr=0.03,0.3; activation=tanh,relu", "--epochs", "3", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "val_loss" in printed and "relu" in printed and "Trained 4 models" in printed
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "results.csv", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == 4 and summary["varied"] == ["lr", "activation"]
    assert (out / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "results.csv").read_text().splitlines()) == 5


@pytest.mark.slow
def test_sweep_command_compile_gives_the_same_results(tmp_path, capsys):
    rows = []
    for flag in ([], ["--compile"]):  # full batches: one step an epoch, a short compilation
        args = ["sweep", "--grid", "lr=0.03,0.3; init_seed=0,1", "--batch-size", "full", "--epochs", "4", "--json", "--out", str(tmp_path / str(len(flag)))]
        assert main(args + flag) == 0
        capsys.readouterr()
        rows.append(list(csv.DictReader((tmp_path / str(len(flag)) / "results.csv").open())))
        assert json.loads((tmp_path / str(len(flag)) / "summary.json").read_text())["compiled"] is bool(flag)
    plain, compiled = rows
    assert len(plain) == len(compiled) == 4
    for a, b in zip(plain, compiled):
        assert (a["lr"], a["init_seed"]) == (b["lr"], b["init_seed"])
        assert float(b["val_loss"]) == pytest.approx(float(a["val_loss"]), abs=1e-5)


@pytest.mark.slow
def test_a_large_cpu_sweep_without_compile_suggests_it(tmp_path, capsys, monkeypatch):
    from torchground.cli import sweep_cmd

    assert sweep_cmd.COMPILE_TIP_MODELS == 100
    monkeypatch.setattr(sweep_cmd, "COMPILE_TIP_SECONDS", 0.0)  # (a real one takes 2 s or more)
    grid = "init_seed=0..99"  # 100 models, outside the fused kernel's scope: trained eagerly
    out_of_scope = ["--n-samples", "40", "--epochs", "1", "--optimizer", "rmsprop"]
    assert main(["sweep", "--grid", grid, *out_of_scope, "--out", str(tmp_path / "a")]) == 0
    assert "Tip: 1 of the 1 groups trained on the eager engine" in capsys.readouterr().out
    assert main(["sweep", "--grid", grid, *out_of_scope, "--out", str(tmp_path / "b"), "--compile"]) == 0
    assert "Tip" not in capsys.readouterr().out
    assert main(["sweep", "--grid", grid, "--n-samples", "40", "--epochs", "1", "--out", str(tmp_path / "f")]) == 0
    assert "Tip" not in capsys.readouterr().out  # the fused kernel trained it
    assert main(["sweep", "--grid", "init_seed=0..3", "--epochs", "1", "--out", str(tmp_path / "c")]) == 0
    assert "Tip" not in capsys.readouterr().out


@pytest.mark.slow
def test_sweep_command_json_and_japanese(tmp_path, capsys):
    code = main(["sweep", "--grid", "init_seed=0..2", "--preset", "playground", "--training-loop", "pytorch", "--epochs", "2",
                 "--out", str(tmp_path / "j"), "--json", "--lang", "ja"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["models"] == 3 and summary["ranked_by"] == "train_loss" and summary["groups"] == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--grid", "lr=0.1;;"], "column 8"),
        (["--grid", "lr=abc"], "lr = abc"),
        (["--grid", "optimizer=lbfgs"], "sgd, adam"),
        (["--grid", "lr=0.1", "--backend", "slurm"], "slurm"),
        (["--grid", "lr=0.1", "--epochs", "0"], "epochs"),
    ],
)
def test_sweep_usage_mistakes_exit_2_with_one_message(args, needle, tmp_path, capsys):
    assert main(["sweep", *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_ray_missing_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("no ray")
        return real_import(name, *args, **kwargs)

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(TorchgroundError) as info:
        run_sweep([Spec(epochs=1)], backend="ray")
    assert 'torchground[ray]' in info.value.message()


@pytest.mark.slow
@pytest.mark.ray
def test_ray_backend_gives_the_local_results():
    ray = pytest.importorskip("ray")
    specs = [Spec(epochs=2, n_samples=120, lr=lr, hidden=h, init_seed=s) for lr in (0.03, 0.3) for h in ((3,), (4, 2)) for s in (0, 1)]
    local = run_sweep(specs)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # a new instance, whatever else runs
    try:
        remote = run_sweep(specs, backend="ray")
    finally:
        ray.shutdown()
    assert remote.backend == "ray" and remote.groups == 2 and remote.cluster["tasks"] == 2  # small groups: a task each
    for a, b in zip(local.results, remote.results):
        assert torch.equal(a.params, b.params)
        assert np.array_equal(a.metrics, b.metrics, equal_nan=True)
        assert a.status == b.status and a.steps == b.steps


# ----------------------------------------------------------------------------- bench scripts
@pytest.mark.slow
@pytest.mark.parametrize("inductor", ["1", "0"])
def test_gpu_bench_script_runs_on_cpu(inductor):
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh"), "--cpu-smoke"], check=False, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHON": sys.executable, "INDUCTOR": inductor})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "compiled, fused C steps" in proc.stdout and "model-steps/s" in proc.stdout
    assert ("compiled, Inductor only" in proc.stdout) == (inductor == "1")  # INDUCTOR=0 leaves its slow first compile out


def test_ranking_and_table_look_at_every_model_once_not_once_per_row(monkeypatch):
    from torchground.engine.sweep.runner import SweepResult

    result = run_sweep([Spec(epochs=1, n_samples=60, init_seed=s) for s in range(6)])
    calls = {"monitored": 0, "metric_columns": 0}
    monitored, metric_columns = SweepResult.monitored.fget, SweepResult.metric_columns

    def counted(name, fn):
        def wrapper(self):
            calls[name] += 1
            return fn(self)
        return wrapper

    monkeypatch.setattr(SweepResult, "monitored", property(counted("monitored", monitored)))
    monkeypatch.setattr(SweepResult, "metric_columns", counted("metric_columns", metric_columns))
    assert len(result.table()) == 6 and result.csv_text().count("\n") == 7
    assert calls["monitored"] <= 2 and calls["metric_columns"] <= 2  # a sweep of 10^6 models must not go quadratic
