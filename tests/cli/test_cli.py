"""Tests for the ``torchground`` command line, run in-process through ``torchground.cli.main``."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from torchground.cli import main  # imported at collection, before the autouse English fixture runs
from torchground.data.csv_io import read_csv
from torchground.data.datasets import make_dataset
from torchground.i18n import catalogue, t
from torchground.train.rundir import RUN_FILES, load_weights
from torchground.spec import Spec
from torchground.train import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(args)`` → (exit status, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code: int, out: str, err: str, *parts: str) -> None:
    assert code == 2
    assert "Traceback" not in out + err
    for part in parts:
        assert part in err, f"{part!r} not in stderr {err!r}"


# ----------------------------------------------------------------------------- train: files


@pytest.fixture(scope="module")
def basic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "basic"
    assert main(["train", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.slow
def test_train_writes_every_run_file(basic_run: Path) -> None:
    assert sorted(p.name for p in basic_run.iterdir()) == sorted(RUN_FILES)


def test_train_spec_json_equals_the_spec(basic_run: Path) -> None:
    saved = Spec.from_json((basic_run / "spec.json").read_text(encoding="utf-8"))
    assert saved == Spec(epochs=3)


def test_train_history_csv_has_a_header_and_three_rows(basic_run: Path) -> None:
    rows = list(csv.reader((basic_run / "history.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["epoch", "train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc", "lr"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert (basic_run / "history.csv").read_text(encoding="utf-8") == train(Spec(epochs=3)).history.to_csv()


def test_train_weights_load_and_match_an_in_process_run(basic_run: Path) -> None:
    weights = load_weights(basic_run / "weights.safetensors")
    assert list(weights) == sorted(weights)  # safetensors keeps keys sorted
    assert set(weights) == {"layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias", "layer_out.weight", "layer_out.bias"}
    assert tuple(weights["layer1.weight"].shape) == (3, 2)
    expected = train(Spec(epochs=3)).model.state_dict()
    assert all(torch.equal(weights[k], expected[k]) for k in expected)


def test_train_summary_json(basic_run: Path) -> None:
    summary = json.loads((basic_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed"
    assert summary["epochs"] == 3 and summary["steps"] == 51
    for key in ("wall_s", "steps_per_s", "train_loss", "val_loss", "train_acc", "val_acc"):
        assert isinstance(summary[key], (int, float))
    assert summary["test_loss"] is None


@pytest.mark.parametrize("name", ["loss.png", "boundary.png"])
def test_train_pictures_are_png(basic_run: Path, name: str) -> None:
    data = (basic_run / name).read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


# ----------------------------------------------------------------------------- train: output modes


@pytest.mark.slow
def test_train_json_prints_one_object(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "train", "--epochs", "3", "--out", str(tmp_path / "r"), "--json")
    assert code == 0
    summary = json.loads(out)  # the whole of stdout is one JSON object
    assert isinstance(summary, dict)
    for key in ("epochs", "steps", "wall_s", "steps_per_s", "train_loss", "val_loss", "train_acc", "val_acc"):
        assert key in summary
    assert summary["epochs"] == 3 and summary["steps"] == 51
    reference = train(Spec(epochs=3)).history.last
    assert summary["train_loss"] == reference["train_loss"] and summary["val_acc"] == reference["val_acc"]


@pytest.mark.slow
def test_train_log_every_prints_curriculum_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "train", "--epochs", "3", "--out", str(tmp_path / "r"), "--log-every", "1")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("[Epoch")]
    pattern = re.compile(r"^\[Epoch (\d)/3\] loss: \d\.\d{5}, acc: \d\.\d{5} val_loss: \d\.\d{5}, val_acc: \d\.\d{5}$")
    assert [pattern.match(line).group(1) for line in lines[:3]] == ["1", "2", "3"]
    history = train(Spec(epochs=3)).history
    assert f"loss: {history.rows[0]['train_loss']:.5f}" in lines[0]
    assert f"val_acc: {history.rows[2]['val_acc']:.5f}" in lines[2]


@pytest.mark.slow
def test_train_log_every_n_goes_to_stderr_with_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "train", "--epochs", "4", "--out", str(tmp_path / "r"), "--log-every", "2", "--json")
    assert code == 0
    json.loads(out)  # stdout stays one JSON object
    assert re.findall(r"^\[Epoch (\d)/4\]", err, flags=re.M) == ["1", "2", "4"]  # the first, then every 2nd


@pytest.mark.slow
def test_train_quiet_silences_log_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "train", "--epochs", "2", "--out", str(tmp_path / "r"), "--log-every", "1", "--quiet")
    assert code == 0 and out == "" and "[Epoch" not in err


# ----------------------------------------------------------------------------- train: spec sources


@pytest.mark.slow
def test_train_config_toml_with_a_flag_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text('epochs = 2\nhidden = [4, 2]\nlr = 0.1\nactivation = "relu"\n', encoding="utf-8")
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--config", str(config), "--lr", "0.2", "--out", str(out), "--quiet")
    assert code == 0, err
    saved = Spec.from_json((out / "spec.json").read_text(encoding="utf-8"))
    assert saved == Spec(epochs=2, hidden=(4, 2), lr=0.2, activation="relu")


@pytest.mark.slow
def test_train_config_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "exp.json"
    config.write_text(Spec(epochs=2, dataset="xor").to_json(), encoding="utf-8")
    code, _, err = run(capsys, "train", "--config", str(config), "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0, err
    assert Spec.from_json((tmp_path / "r" / "spec.json").read_text(encoding="utf-8")) == Spec(epochs=2, dataset="xor")


@pytest.mark.slow
def test_train_preset_playground(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--preset", "playground", "--epochs", "2", "--out", str(out), "--quiet")
    assert code == 0, err
    saved = Spec.from_json((out / "spec.json").read_text(encoding="utf-8"))
    assert saved == Spec.preset("playground", epochs=2)
    assert saved.hidden == (4, 2) and saved.batch_size == 10 and saved.init == "playground"
    rows = (out / "history.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3


@pytest.mark.slow
def test_train_opt_sets_optimizer_args(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--opt", "momentum=0.9", "--opt", "nesterov=true", "--epochs", "2",
                       "--out", str(out), "--quiet")
    assert code == 0, err
    saved = Spec.from_json((out / "spec.json").read_text(encoding="utf-8"))
    assert saved.optimizer_args == {"momentum": 0.9, "nesterov": True}


@pytest.mark.slow
def test_train_opt_pairs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--optimizer", "adam", "--opt", "betas=0.8,0.99", "--epochs", "1",
                       "--out", str(out), "--quiet")
    assert code == 0, err
    assert Spec.from_json((out / "spec.json").read_text(encoding="utf-8")).optimizer_args == {"betas": (0.8, 0.99)}


@pytest.mark.slow
def test_train_flags_reach_the_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, _, err = run(
        capsys, "train", "--dataset", "reg-plane", "--hidden", "2", "--features", "x1,x2,x1x2", "--batch-size", "full",
        "--no-shuffle", "--n-samples", "100", "--epochs", "2", "--dtype", "float64", "--out", str(out), "--quiet",
    )
    assert code == 0, err
    saved = Spec.from_json((out / "spec.json").read_text(encoding="utf-8"))
    assert saved == Spec(dataset="reg-plane", hidden=(2,), features=("x1", "x2", "x1x2"), batch_size="full",
                         shuffle=False, n_samples=100, epochs=2, dtype="float64")
    header = (out / "history.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "val_r2" in header and "val_acc" not in header


# ----------------------------------------------------------------------------- train: usage errors


def test_bad_epochs(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--epochs", "x"), "epochs = x", "1 to 100000")


def test_bad_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--hidden", "3,300"), "hidden", "300", "1 to 256")


def test_bad_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--dataset", "moon"), "dataset = moon", "circle")


def test_bad_lr(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--lr", "0"), "lr = 0", "greater than 0")


def test_refused_activation(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--activation", "softmax"), "softmax", "refused", "dimension")


def test_missing_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert_usage_error(*run(capsys, "train", "--config", str(missing)), "missing.toml", "does not exist")


def test_malformed_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = 0.1\nepochs = = 3\n", encoding="utf-8")
    assert_usage_error(*run(capsys, "train", "--config", str(bad)), "TOML", "line 2")


def test_config_with_a_wrong_value(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("noise = 70\n", encoding="utf-8")
    assert_usage_error(*run(capsys, "train", "--config", str(bad)), "noise", "70", "0 to 50")


def test_config_with_another_suffix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "exp.yaml"
    bad.write_text("epochs: 3\n", encoding="utf-8")
    assert_usage_error(*run(capsys, "train", "--config", str(bad)), "exp.yaml", ".toml", ".json")


def test_config_and_preset_together(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text("epochs = 2\n", encoding="utf-8")
    assert_usage_error(*run(capsys, "train", "--config", str(config), "--preset", "playground"), "--config", "--preset")


def test_config_with_null_features(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "exp.json"
    bad.write_text('{"features": null}', encoding="utf-8")
    assert_usage_error(*run(capsys, "train", "--config", str(bad)), "features")


def test_bad_opt(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--opt", "garbage"), "--opt", "garbage", "NAME=VALUE")


def test_unknown_opt_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--opt", "wobble=1"), "sgd", "wobble", "momentum")


def test_bad_lang(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--lang", "fr"), "--lang fr", "en, ja")


def test_bad_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "train", "--preset", "nope"), "preset", "nope", "playground")


def test_cuda_without_cuda(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    out = tmp_path / "r"
    assert_usage_error(*run(capsys, "train", "--device", "cuda", "--epochs", "1", "--out", str(out)), "cuda", "cpu")
    assert not out.exists()


def test_out_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    assert_usage_error(*run(capsys, "train", "--epochs", "1", "--out", str(target)), str(target), "not a folder")


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--bogus")
    assert code == 2
    assert "Traceback" not in out + err
    assert "--bogus" in out + err


def test_lang_ja_gives_japanese_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", "--lang", "ja", "--lr", "0")
    assert code == 2 and "Traceback" not in err
    assert catalogue("ja")["cli.error"] in err
    assert t("spec.allowed.range_open", "ja", low=0, high=100) in err
    assert "not allowed" not in err


def test_lang_does_not_leak_into_the_next_call(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "train", "--lang", "ja", "--lr", "0")
    code, out, err = run(capsys, "train", "--lr", "0")
    assert code == 2
    assert "not allowed" in err


# ----------------------------------------------------------------------------- divergence and interruption


@pytest.mark.slow
def test_diverging_run_exits_3_with_the_message_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, stdout, err = run(capsys, "train", "--dataset", "reg-plane", "--lr", "3", "--n-samples", "200",
                            "--epochs", "10", "--out", str(out), "--quiet")
    assert code == 3
    assert "Traceback" not in err
    assert "diverged" in err and "lr = 3.0" in err and "lr = 0.3" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "diverged"
    assert summary["message_key"] == "train.diverged"
    weights = load_weights(out / "weights.safetensors")
    assert all(bool(torch.isfinite(v).all()) for v in weights.values())


@pytest.mark.slow
def test_interrupted_run_exits_130_and_saves(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from torchground.train import Trainer

    original = Trainer.run_epoch

    def run_epoch(self: Trainer):  # noqa: ANN202
        row = original(self)
        if self.epoch == 2:
            raise KeyboardInterrupt
        return row

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--epochs", "5", "--out", str(out), "--quiet")
    assert code == 130
    assert "Traceback" not in err
    assert t("cli.interrupted", path=str(out)) in err
    assert len((out / "history.csv").read_text(encoding="utf-8").splitlines()) == 3
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["status"] == "interrupted"


# ----------------------------------------------------------------------------- data


def test_data_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    code, out, err = run(capsys, "data", "circle", "--out", str(path))
    assert code == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "x1,x2,label" and len(lines) == 501
    ds = read_csv(path)
    expected = make_dataset("circle")
    assert np.array_equal(ds.points, expected.points) and np.array_equal(ds.labels, expected.labels)
    assert "500" in out + err and str(path) in out + err


def test_data_csv_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    code, _, _ = run(capsys, "data", "reg-plane", "--out", str(path), "--n", "40", "--seed", "3", "--noise", "10")
    assert code == 0
    ds = read_csv(path)
    expected = make_dataset("reg-plane", n_samples=40, noise=10, seed=3)
    assert np.array_equal(ds.points, expected.points) and np.array_equal(ds.labels, expected.labels)


def test_data_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.png"
    code, _, _ = run(capsys, "data", "xor", "--out", str(path))
    assert code == 0
    assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
def test_data_unknown_dataset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    assert_usage_error(*run(capsys, "data", "moon", "--out", str(path)), "moon", "circle")
    assert not path.exists()


def test_data_bad_suffix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    assert_usage_error(*run(capsys, "data", "circle", "--out", str(path)), "f.txt", ".csv", ".png")
    assert not path.exists()


def test_data_bad_noise(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_usage_error(*run(capsys, "data", "circle", "--out", str(tmp_path / "f.csv"), "--noise", "70"), "70")


# ----------------------------------------------------------------------------- list


def test_list_activations_shows_usable_and_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "activations")
    assert code == 0
    assert "tanh" in out and "relu" in out
    assert "softmax" in out and "refused" in out


@pytest.mark.parametrize("kind", ["losses", "optimizers", "inits", "datasets", "features", "presets"])
def test_list_other_kinds(capsys: pytest.CaptureFixture[str], kind: str) -> None:
    code, out, _ = run(capsys, "list", kind)
    assert code == 0
    expected = {"losses": "crossentropy", "optimizers": "sparseadam", "inits": "xavier", "datasets": "reg-gauss",
                "features": "sinx1", "presets": "playground"}[kind]
    assert expected in out


def test_list_optimizers_shows_their_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "optimizers")
    assert code == 0
    assert "dampening" in out and "betas" in out


def test_list_in_japanese(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "activations", "--lang", "ja")
    assert code == 0
    assert catalogue("ja")["cli.list.activations"] in out


def test_list_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "list", "bogus"), "bogus", "activations")


# ----------------------------------------------------------------------------- a real process


@pytest.mark.slow
def test_real_process_usage_error_exits_2_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "TORCHGROUND_LANG": "en"}
    code = "from torchground.cli import main; raise SystemExit(main(['train', '--epochs', 'x']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "epochs = x" in proc.stderr
    script = Path(sys.executable).with_name("torchground")
    if script.exists():
        proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0
        assert "train" in proc.stdout and "data" in proc.stdout and "list" in proc.stdout


@pytest.mark.slow
def test_train_engine_fast_gives_the_eager_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summaries = []
    for engine in ("eager", "fast"):
        assert main(["train", "--epochs", "4", "--engine", engine, "--json", "--quiet", "--out", str(tmp_path / engine)]) == 0
        summaries.append(json.loads(capsys.readouterr().out))
    eager, fast = summaries
    assert eager["steps"] == fast["steps"] == 68
    for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
        assert fast[key] == pytest.approx(eager[key], abs=1e-5)
    assert (tmp_path / "fast" / "boundary.png").exists()


@pytest.mark.slow
def test_train_engine_compiled_gives_the_eager_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summaries = []
    for engine in ("eager", "compiled"):  # full batches: one step an epoch, a short compilation
        args = ["train", "--epochs", "5", "--batch-size", "full", "--engine", engine, "--json", "--quiet", "--out", str(tmp_path / engine)]
        assert main(args) == 0
        summaries.append(json.loads(capsys.readouterr().out))
    eager, compiled = summaries
    assert eager["steps"] == compiled["steps"] == 5
    for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
        assert compiled[key] == pytest.approx(eager[key], abs=1e-5)


@pytest.mark.slow
def test_train_engine_refuses_unknown_and_unsupported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--engine", "turbo"]) == 2
    assert "eager, fast, compiled" in capsys.readouterr().err
    assert main(["train", "--engine", "fast", "--optimizer", "lbfgs", "--epochs", "1"]) == 2
    assert "lbfgs" in capsys.readouterr().err
