"""Tests for torchground.codegen: exported scripts reproduce the trainer, notebooks run, the CLI.

The central check runs each exported script as its own process (``python script.py``
with ``TORCHGROUND_HISTORY_JSON`` set) and compares its per-epoch rows with
``train(spec).history.rows``: every loss and metric within 1e-6. The scripts of all cases
run side by side (each standalone, one process per script) to keep the file fast.
"""

from __future__ import annotations

import ast
import json
import math
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import torchground.cli.export_cmd  # noqa: F401  (registers the command; the lead adds it to app)
from torchground.cli import main
from torchground.codegen import EXPORT_KINDS, sections, spec_toml, to_notebook, to_script
from torchground.data.datasets import DATASETS, make_dataset
from torchground.errors import TorchgroundError
from torchground.data.features import FEATURES
from torchground.i18n import catalogue
from torchground.model import build_model
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
from torchground.spec import Spec
from torchground.train import Trainer, build_loss, build_optimizer, make_data, to_tensors, train

TOL = 1e-6
ALLOWED_IMPORTS = {"copy", "json", "math", "os", "numpy", "torch", "matplotlib"}

# name -> (preset, overrides). Together they cover each data set, features beyond x1/x2,
# no hidden layer, several activations, losses, optimisers and inits, float64, L1 (with
# dead weights), L2, full batch, no reshuffle, noise, a val/test split, early stopping and
# divergence. Epochs are few: the numbers must agree from the first step on.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("seed", dict(epochs=5)),
    "playground": ("playground", dict(epochs=5, training_loop="pytorch")),
    "tf_playground_loop_partial_batch_l1": ("playground", dict(
        dataset="spiral", noise=10, features="x1,x2,x1sq", batch_size=7, l1=0.003, epochs=4)),
    "tf_playground_link_reg_gauss_zero_init": ("playground", dict(
        tf_playground_seed="0.13579", dataset="reg-gauss", noise=10, hidden="5", activation="relu", batch_size=7,
        lr=0.003, init="zero", train_pct=60, test_pct=40, epochs=3, dtype="float64")),
    "xor_features_relu_adam": ("seed", dict(
        dataset="xor", noise=25, features="x1,x2,x1sq,sinx1", activation="relu", optimizer="adam",
        optimizer_args={"betas": (0.8, 0.99)}, train_pct=60, val_pct=20, test_pct=20, epochs=3)),
    "gauss_gelu_huber_nesterov_l2": ("seed", dict(
        dataset="gauss", noise=10, activation="gelu", loss="huber", optimizer="sgd",
        optimizer_args={"momentum": 0.9, "nesterov": True}, l2=0.01, epochs=3)),
    "spiral_prelu_logits_rmsprop_l1": ("seed", dict(
        dataset="spiral", hidden=(8, 6), activation="prelu", loss="bce_with_logits", optimizer="rmsprop",
        lr=0.01, l1=0.003, batch_size=10, epochs=3)),
    "reg_plane_linear_rprop_f64": ("seed", dict(
        dataset="reg-plane", hidden=(), optimizer="rprop", dtype="float64", batch_size="full", init="torch",
        seed=7, init_seed=5, shuffle_seed=3, train_pct=80, val_pct=10, test_pct=10, epochs=3)),
    "reg_gauss_rrelu_smooth_l1_lbfgs": ("seed", dict(
        dataset="reg-gauss", activation="rrelu", optimizer="lbfgs", batch_size="full", loss="smooth_l1",
        n_samples=400, epochs=3)),
    "threshold_bce_noshuffle_patience": ("seed", dict(
        activation="threshold", loss="bce", shuffle=False, init="playground", patience=1, min_delta=0.5,
        epochs=5)),
    "xor_sigmoid_soft_margin_lbfgs_l1_l2": ("seed", dict(
        dataset="xor", features="x1x2,x2sq,cosx2", activation="sigmoid", loss="soft_margin", init="kaiming",
        optimizer="lbfgs", l1=0.001, l2=0.01, batch_size=125, patience=2, restore_best=False, epochs=3)),
    "diverges": ("seed", dict(
        dataset="reg-plane", n_samples=200, lr=60.0, weight_decay=0.0, hidden=(4,), epochs=4)),
    # With 5, 6, 7 or 9 input features CPU matmul kernels round differently on a view at an
    # unaligned offset than on a fresh tensor; the trainer yields fresh batches like a DataLoader.
    "nine_features_nadam": ("seed", dict(
        dataset="spiral", noise=50, features=",".join(FEATURES), n_samples=301, hidden=(5, 4, 3), batch_size=7,
        optimizer="nadam", epochs=20)),
}


def make_spec(name: str) -> Spec:
    preset, overrides = CASES[name]
    return Spec.preset(preset, device="cpu", **overrides)


NOTEBOOK_SPEC = Spec(epochs=3, device="cpu")

# Executes a notebook in a Jupyter kernel; run as its own process, beside the scripts.
_NOTEBOOK_RUNNER = (
    "import sys, nbformat, nbclient\n"
    "nb = nbformat.read(sys.argv[1], as_version=4)\n"
    "nbclient.NotebookClient(nb, timeout=120, kernel_name='python3', resources={'metadata': {'path': '.'}}).execute()\n"
    "nbformat.write(nb, sys.argv[2])\n"
)


def _run(folder: Path, args: list[str], timeout: float = 180) -> tuple[subprocess.CompletedProcess[str], Any]:
    env = dict(os.environ, TORCHGROUND_HISTORY_JSON=str(folder / "history.json"))
    proc = subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    out = folder / "history.json"
    return proc, json.loads(out.read_text()) if out.exists() else None


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each case's script run as its own process, and the notebook executed, several at once.

    Meanwhile this process trains the same specs with torchground. Returns name →
    (folder, completed process, the script's rows, the trainer's rows); "notebook" is the
    notebook of ``NOTEBOOK_SPEC``.
    """
    jobs: dict[str, tuple[Path, list[str], Spec]] = {}
    folder = tmp_path_factory.mktemp("notebook")
    (folder / "in.ipynb").write_text(to_notebook(NOTEBOOK_SPEC), encoding="utf-8")
    jobs["notebook"] = (folder, ["-c", _NOTEBOOK_RUNNER, "in.ipynb", "out.ipynb"], NOTEBOOK_SPEC)  # longest first
    for name in CASES:
        folder = tmp_path_factory.mktemp(name)
        lang = "ja" if name == "playground" else "en"  # one case with Japanese comments and messages
        (folder / "train.py").write_text(to_script(make_spec(name), lang=lang), encoding="utf-8")
        jobs[name] = (folder, ["train.py"], make_spec(name))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(_run, folder, args) for name, (folder, args, _) in jobs.items()}
        expected = {name: train(spec).history.rows for name, (_, _, spec) in jobs.items()}
        return {name: (jobs[name][0], *future.result(), expected[name]) for name, future in futures.items()}


def max_difference(rows: list[dict[str, Any]], expected: list[dict[str, Any]]) -> float:
    """Largest absolute difference over all values; fails on differing keys, lengths or None/nan."""
    assert len(rows) == len(expected)
    worst = 0.0
    for row, exp in zip(rows, expected, strict=True):
        assert list(row) == list(exp)
        for key, want in exp.items():
            got = row[key]
            if want is None or got is None:
                assert got is None and want is None, (key, got, want)
            elif math.isnan(want) or math.isnan(got):
                assert math.isnan(want) and math.isnan(got), (key, got, want)
            else:
                worst = max(worst, abs(got - want))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    list(CASES),
)
def test_script_reproduces_trainer(name: str, runs: dict[str, Any]) -> None:
    folder, proc, rows, expected = runs[name]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert rows is not None and max_difference(rows, expected) <= TOL
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[Epoch")]
    assert len(lines) == len(rows)  # one line per epoch
    assert (folder / "loss.png").stat().st_size > 1000


@pytest.mark.slow
def test_cases_cover_what_they_claim(runs: dict[str, Any]) -> None:
    """The special cases really take their paths: early stop, divergence, dead weights, Japanese."""
    name = "threshold_bce_noshuffle_patience"
    assert len(runs[name][2]) < make_spec(name).epochs and "Early stopping at epoch" in runs[name][1].stdout
    assert train(make_spec(name)).history.status == "early_stopped"
    _, proc, rows, _ = runs["diverges"]
    assert train(make_spec("diverges")).history.status == "diverged"
    assert "diverged" in proc.stdout and 0 < len(rows) < make_spec("diverges").epochs
    trainer = Trainer(make_spec("spiral_prelu_logits_rmsprop_l1"))
    trainer.fit()
    assert any(bool(d.any()) for d in trainer._dead)  # the L1 rule killed some weights
    assert "損失のグラフ" in runs["playground"][1].stdout


@pytest.mark.slow
def test_script_prints_like_torchground(runs: dict[str, Any]) -> None:
    from torchground.cli.train_cmd import log_line

    _, proc, _, expected = runs["default"]
    assert "Net(" in proc.stdout and "layer_out.weight" in proc.stdout  # the model and the final state_dict
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[Epoch")]
    assert lines == [log_line(row, 5) for row in expected]


@pytest.mark.slow
def test_notebook_is_valid_and_runs(runs: dict[str, Any]) -> None:
    nbformat = pytest.importorskip("nbformat")
    folder, proc, rows, expected = runs["notebook"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert rows is not None and max_difference(rows, expected) <= TOL
    nb = nbformat.read(folder / "out.ipynb", as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells[:3]] == ["markdown", "markdown", "code"]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "display_data" for o in outputs)  # the loss plot, inline
    assert (folder / "loss.png").exists()
    ja = nbformat.reads(to_notebook(NOTEBOOK_SPEC, lang="ja"), as_version=4)
    nbformat.validate(ja)
    assert ja.cells[5].source.startswith("## 3. データ")


def test_script_is_self_contained() -> None:
    for lang in ("en", "ja"):
        for name in CASES:
            code = to_script(make_spec(name), lang=lang)
            tree = ast.parse(code)
            compile(code, f"{name}.py", "exec")
            imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert imported <= ALLOWED_IMPORTS, imported
            assert 'LOSS_PLOT = "loss.png"' in code and "class Net(nn.Module):" in code


def test_header_holds_the_spec() -> None:
    spec = make_spec("xor_features_relu_adam")
    code = to_script(spec)
    start = code.index("#     problem")
    toml = "".join(line[6:] + "\n" for line in code[start:].splitlines() if line.startswith("#     "))
    assert Spec.model_validate(tomllib.loads(toml)) == spec
    assert Spec.from_toml(spec_toml(make_spec("diverges"))) == make_spec("diverges")


# -- the pieces, checked in-process against the torchground code they mirror ------------------
_PRELUDE = "import copy, json, math, os\nimport numpy as np\nimport torch\nfrom torch import nn, optim\nfrom torch.utils.data import DataLoader, TensorDataset\n"


def _exec(spec: Spec, upto: str) -> dict[str, Any]:
    """Run the exported sections from settings up to and including ``upto``."""
    ns: dict[str, Any] = {}
    exec(_PRELUDE, ns)
    for section in sections(spec):
        if section.name != "imports":
            exec(compile(section.code, section.name, "exec"), ns)
        if section.name == upto:
            return ns
    raise AssertionError(upto)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_data_bit_for_bit(dataset: str) -> None:
    for noise, n in ((0, None), (35, 101)):
        spec = Spec(dataset=dataset, noise=noise, n_samples=n, seed=3, features=list(FEATURES), train_pct=40,
                    val_pct=30, test_pct=30, dtype="float64")
        ns = _exec(spec, "features")
        ds = make_dataset(dataset, n_samples=spec.n_samples, noise=noise, seed=3)
        assert np.array_equal(ns["points"], ds.points) and np.array_equal(ns["labels"], ds.labels)
        splits = make_data(spec)
        for part in ("train", "val", "test"):
            x, y = to_tensors(getattr(splits, part), spec.features, torch.float64)
            assert torch.equal(ns[f"x_{part}"], x) and torch.equal(ns[f"y_{part}"], y)


@pytest.mark.parametrize("activation", ACTIVATIONS.names())
def test_model_and_init_match_build_model(activation: str, capsys: pytest.CaptureFixture[str]) -> None:
    inits = INITS.names()
    init = inits[ACTIVATIONS.names().index(activation) % len(inits)]  # every init, spread over the cases
    spec = Spec(hidden=(3, 2), activation=activation, init=init, init_seed=11, dtype="float64")
    model = _exec(spec, "init")["model"]
    ref = build_model(spec)
    assert list(model.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert repr(model).replace("Net(", "PlaygroundNet(", 1) == repr(ref)


@pytest.mark.parametrize("init", INITS.names())
def test_every_init(init: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = Spec(init=init, init_seed=2)
    model = _exec(spec, "init")["model"]
    for key, value in build_model(spec).state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


# K-class losses need K outputs: tests/codegen/test_own_data_export.py exports them with blobs and spiral-k.
@pytest.mark.parametrize("loss", [n for n in LOSSES.names() if "multiclass" not in LOSSES.get(n).info["problems"]])
def test_loss_matches(loss: str, capsys: pytest.CaptureFixture[str]) -> None:
    problem = LOSSES.get(loss).info["problems"][0]
    spec = Spec(loss=loss, dataset="circle" if problem == "classification" else "reg-plane")
    criterion = _exec(spec, "optimizer")["criterion"]
    gen = torch.Generator().manual_seed(0)
    out = torch.rand(20, 1, generator=gen) * 1.8 - 0.9
    target = torch.where(torch.rand(20, 1, generator=gen) > 0.5, 1.0, -1.0)
    assert torch.equal(criterion(out, target), build_loss(spec)(out, target))


@pytest.mark.parametrize("optimizer", OPTIMIZERS.names())
def test_optimizer_matches(optimizer: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = Spec(optimizer=optimizer)
    ns = _exec(spec, "optimizer")
    ref = build_optimizer(spec, ns["model"].parameters())
    assert type(ns["optimizer"]) is type(ref)
    drop = {"foreach"}
    assert {k: v for k, v in ns["optimizer"].defaults.items() if k not in drop} == {
        k: v for k, v in ref.defaults.items() if k not in drop
    }


def test_bad_lang_and_kind() -> None:
    with pytest.raises(TorchgroundError, match="lang = fr"):
        to_script(Spec(), lang="fr")
    assert EXPORT_KINDS == ("script", "notebook")


def test_catalogue_en_ja() -> None:
    import string

    en = {k: v for k, v in catalogue("en").items() if k.startswith("codegen.")}
    ja = {k: v for k, v in catalogue("ja").items() if k.startswith("codegen.")}
    assert en.keys() == ja.keys() and len(en) > 50

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key in en:
        assert fields(en[key]) == fields(ja[key]), key
    ja_code = to_script(make_spec("xor_sigmoid_soft_margin_lbfgs_l1_l2"), lang="ja")
    assert "勾配" in ja_code and "# ---- 学習ループ" in ja_code


# -- CLI --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_writes_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "train.py"
    code = main(["export", "script", "--dataset", "xor", "--hidden", "4,2", "--opt", "momentum=0.5", "--epochs", "7",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    text = out.read_text(encoding="utf-8")
    assert text == to_script(Spec(dataset="xor", hidden=(4, 2), optimizer_args={"momentum": 0.5}, epochs=7))
    assert "Wrote the script" in capsys.readouterr().err
    assert [p.name for p in out.parent.iterdir()] == ["train.py"]  # no temporary file left


def test_cli_notebook_preset_and_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "notebook", "--preset", "playground", "--training-loop", "pytorch", "--out", str(tmp_path / "nb.ipynb")]) == 0
    assert json.loads((tmp_path / "nb.ipynb").read_text(encoding="utf-8"))["nbformat"] == 4
    capsys.readouterr()
    assert main(["export", "script", "--out", "-", "--lang", "ja", "--epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert printed == to_script(Spec(epochs=3), lang="ja")
    config = tmp_path / "spec.json"
    config.write_text(Spec(dataset="spiral", epochs=2).to_json(), encoding="utf-8")
    assert main(["export", "script", "--config", str(config), "--lr", "0.1", "--out", "-"]) == 0
    assert capsys.readouterr().out == to_script(Spec(dataset="spiral", epochs=2, lr=0.1))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "slides", "--out", "x.py"], "export slides: not available"),
        (["export", "script", "--hidden", "3,999", "--out", "x.py"], "hidden"),
        (["export", "script", "--loss", "bce", "--dataset", "reg-plane", "--out", "x.py"], "loss = bce"),
        (["export", "script", "--activation", "softmax", "--out", "x.py"], "softmax"),
        (["export", "script", "--out", "."], "is a folder"),
        (["export", "script", "--out", "x.py", "--lang", "fr"], "--lang fr"),
        (["export", "script", "--out", "/proc/x.py"], "cannot write /proc/x.py"),
        (["export", "script"], "--out"),
    ],
)
def test_cli_refuses(argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.py").exists()
