"""Searches: the space language, Optuna ask/tell over stacked groups, pruning, storage, the CLI."""

from __future__ import annotations

import json
import math

import pytest

from torchground.cli import main  # imported at collection, before the autouse English fixture runs
from torchground.engine import StackedGroup
from torchground.engine.sweep.search import default_batch, run_search
from torchground.engine.sweep.space import parse_space
from torchground.errors import TorchgroundError
from torchground.spec import Spec

optuna = pytest.importorskip("optuna")

BASE = Spec(epochs=6, train_pct=60, val_pct=40, test_pct=0)


@pytest.mark.parametrize("text, column, words", [
    ("", 1, "empty"),
    ("lr=loguniform(1e-4,1);; seed=int(0,3)", 23, "empty item"),
    ("lr", 1, "field=distribution"),
    ("learning_rate=uniform(0,1)", 1, "unknown field learning_rate"),
    ("lr=uniform(0.1,1); lr=uniform(0.1,1)", 20, "lr appears twice"),
    ("lr=normal(0,1)", 4, "unknown distribution normal"),
    ("lr=0.1", 4, "needs a distribution"),
    ("lr=uniform(1)", 4, "two numbers"),
    ("seed=int(0.5,3)", 6, "two integers"),
    ("lr=uniform(1,0.1)", 4, "low bound must be below"),
    ("lr=loguniform(0,1)", 4, "above 0"),
    ("activation=choice(tanh,,relu)", 12, "empty choice"),
    ("activation=choice(tanh,tanh)", 12, "appears twice"),
    ("activation=choice(tanh,swoosh)", 12, "activation = swoosh: not allowed"),
    ("hidden=choice(4|300)", 8, "hidden = 300: not allowed"),
    ("lr=uniform(-1,1)", 4, "lr = -1.0: not allowed. Allowed: a number greater than 0"),
])
def test_bad_spaces_name_the_part(text, column, words):
    with pytest.raises(TorchgroundError) as err:
        parse_space(text)
    message = str(err.value)
    assert message.startswith(f"Search space, column {column}:"), message
    assert words in message


def test_a_space_parses_every_distribution():
    space = parse_space("lr=loguniform(1e-3,1); momentum=uniform(0,0.9); init_seed=int(0,9); batch_size=logint(1,64); hidden=choice(4|8,8);")
    assert [(p.field, p.kind) for p in space.params] == [
        ("lr", "loguniform"), ("momentum", "uniform"), ("init_seed", "int"), ("batch_size", "logint"), ("hidden", "choice")]
    assert space.params[-1].args == ("4", "8,8")


def test_a_random_search_draws_within_the_space_and_trains_every_trial():
    space = parse_space("lr=loguniform(0.01,0.3); activation=choice(tanh,relu); hidden=choice(4|8,8); init_seed=int(0,1000)")
    result = run_search(BASE, space, trials=12, method="random", prune=False)
    assert len(result.results) == len(result.specs) == len(result.settings) == 12
    for spec, setting in zip(result.specs, result.settings):
        assert 0.01 <= spec.lr <= 0.3 and spec.activation in ("tanh", "relu") and spec.hidden in ((4,), (8, 8))
        assert 0 <= spec.init_seed <= 1000
        assert set(setting) == {"lr", "activation", "hidden", "init_seed"}
    assert {r.status for r in result.results} == {"completed"}
    assert all(len(r.metrics) == BASE.epochs for r in result.results)
    assert result.groups >= 2  # two shapes at least: (4,) and (8, 8) are drawn from 12 trials


@pytest.mark.slow
def test_the_same_seed_gives_the_same_trials_and_numbers():
    space = parse_space("lr=loguniform(0.01,0.3); init_seed=int(0,1000)")
    a = run_search(BASE, space, trials=8, method="tpe", batch=2, seed=3)
    b = run_search(BASE, space, trials=8, method="tpe", batch=2, seed=3)
    c = run_search(BASE, space, trials=8, method="tpe", batch=2, seed=4)
    assert [s.lr for s in a.specs] == [s.lr for s in b.specs] != [s.lr for s in c.specs]
    assert [r.last["val_loss"] for r in a.results] == [r.last["val_loss"] for r in b.results]


def test_each_trial_trains_as_the_engine_trains_its_spec_alone():
    space = parse_space("lr=loguniform(0.01,0.3)")
    result = run_search(BASE, space, trials=3, method="random", prune=False)
    for spec, r in zip(result.specs, result.results):
        alone = StackedGroup([spec]).run()[0]
        assert r.last["val_loss"] == pytest.approx(alone.last["val_loss"], abs=1e-6)


@pytest.mark.slow
def test_pruning_stops_unpromising_trials_and_optuna_hears_of_it(tmp_path):
    # Learning rates spanning four decades on a long run: the median pruner stops the slow ones.
    base = BASE.replace(epochs=30)
    space = parse_space("lr=loguniform(1e-5,0.3)")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = run_search(base, space, trials=24, method="random", batch=6, seed=1, storage=url, study_name="s")
    pruned = [r for r in result.results if r.status == "pruned"]
    assert pruned, [r.status for r in result.results]
    assert all(len(r.metrics) < base.epochs for r in pruned)
    ranked = [result.results[i].status for i in result.ranking()]
    assert ranked.index("pruned") > max(i for i, s in enumerate(ranked) if s == "completed")  # pruned rank last
    study = optuna.load_study(study_name="s", storage=url)
    states = [t.state.name for t in study.trials]
    assert states.count("PRUNED") == len(pruned) and states.count("COMPLETE") == 24 - len(pruned)
    best = min(result.rows[i]["val_loss"] for i, r in enumerate(result.results) if r.status == "completed")
    assert study.best_value == pytest.approx(best)


def test_a_diverging_trial_fails_in_optuna_and_ranks_last():
    base = BASE.replace(epochs=3, dataset="reg-plane", activation="relu")
    space = parse_space("lr=choice(0.03,90)", base)
    result = run_search(base, space, trials=6, method="random", seed=0, prune=False)
    statuses = {s.lr: r.status for s, r in zip(result.specs, result.results)}
    assert statuses == {90.0: "diverged", 0.03: "completed"}
    assert result.results[result.ranking()[-1]].status == "diverged"


@pytest.mark.parametrize("kwargs, words", [
    ({"method": "grid"}, "Unknown search grid"),
    ({"trials": 0}, "--trials 0"),
    ({"trials": 4, "batch": 5}, "--batch 5"),
    ({"storage": "nosuchdb://x"}, "cannot be opened"),
])
def test_bad_search_settings_are_refused(kwargs, words):
    args = {"trials": 2, **kwargs}
    with pytest.raises(TorchgroundError, match=words.replace("(", r"\(")):
        run_search(BASE, parse_space("lr=uniform(0.01,0.1)"), **args)


def test_default_batches():
    assert default_batch(1000, "random") == 64 and default_batch(10, "random") == 10
    assert default_batch(80, "tpe") == 10 and default_batch(3, "tpe") == 1


@pytest.mark.slow
def test_sweep_search_on_the_command_line(tmp_path):
    out = tmp_path / "s"
    code = main(["sweep", "--search", "tpe", "--trials", "6", "--space", "lr=loguniform(0.01,0.3); hidden=choice(4|3,3)",
                 "--epochs", "3", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == 6 and summary["search"]["method"] == "tpe" and summary["search"]["trials"] == 6
    assert set(summary["varied"]) == {"lr", "hidden"}
    assert (out / "results.csv").read_text().count("\n") == 7 and (out / "grid.png").stat().st_size > 0
    assert math.isfinite(summary["best"]["val_loss"] if summary["best"].get("val_loss") is not None else summary["best"]["train_loss"])


@pytest.mark.parametrize("args, words", [
    (["--search", "tpe", "--trials", "4"], "--search needs --space"),
    (["--grid", "lr=0.1", "--search", "tpe", "--space", "lr=uniform(0.1,1)", "--trials", "2"], "either --grid or --search"),
    ([], "either --grid or --search"),
    (["--search", "tpe", "--trials", "4", "--space", "lr=uniform(1,0)"], "Search space, column 4"),
])
def test_bad_search_command_lines_exit_2(tmp_path, capsys, args, words):
    code = main(["sweep", *args, "--epochs", "2", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert words in err, err
    assert not (tmp_path / "x").exists()
