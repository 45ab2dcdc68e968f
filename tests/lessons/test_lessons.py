"""Lessons: the curriculum's numbers, code shown = code run, the CLI, the notebooks."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import string
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import torchground.cli.lesson_cmd  # noqa: F401  (registers `lesson`; the lead adds it to the app)
from torchground.cli import main
from torchground.codegen.sources import display_width
from torchground.errors import TorchgroundError
from torchground.viz.graph_render import dot_available
from torchground.i18n import catalogue
from torchground.lessons import LESSONS, lesson1, lesson2, lesson3, run
from torchground.lessons.steps import render_code
from torchground.model import build_model
from torchground.spec import Spec
from torchground.train import train

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_as_script(code: str) -> str:
    """Run ``code`` in a fresh namespace as a plain script and return what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<script>", "exec"), {"__name__": "__main__"})  # noqa: S102 (the lessons' own code)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def l1(tmp_path_factory: pytest.TempPathFactory):
    return lesson1(lang="en", out_dir=tmp_path_factory.mktemp("lesson1"))


@pytest.fixture(scope="module")
def l2():
    return lesson2(lang="en")


EPOCHS = 12


@pytest.fixture(scope="module")
def l3(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("lesson3")
    return lesson3(lang="en", epochs=EPOCHS, out_dir=out), out


# --- lesson 1 ------------------------------------------------------------------------------


def test_lesson1_model_and_activations(l1):
    assert [s.number for s in l1.steps] == list(range(1, 8))
    assert "(layer1): Linear(in_features=2, out_features=1, bias=True)" in l1.step(1).output
    values = l1.step(2).values
    assert len(values["article_activations"]) == 25
    assert {"Tanh", "ReLU", "ELU", "Sigmoid", "Threshold"} <= set(values["elementwise"])
    assert values["not_elementwise"] == [
        "MultiheadAttention", "Softmin", "Softmax", "Softmax2d", "LogSoftmax", "AdaptiveLogSoftmaxWithLoss",
    ]
    assert all(values["reasons"][n] for n in values["not_elementwise"])
    assert "✗ Softmax: Softmax normalises across a dimension" in l1.step(2).output


def test_lesson1_parameters_and_forward(l1):
    params = l1.step(3).values["params"]
    assert list(params) == ["layer1.weight", "layer1.bias"]
    torch.testing.assert_close(params["layer1.weight"], torch.tensor([[0.6, -0.2]]))
    torch.testing.assert_close(params["layer1.bias"], torch.tensor([0.8]))
    assert "tensor([[ 0.6000, -0.2000]])" in l1.step(3).output
    forward = l1.step(4).values
    assert forward["y_pred"].item() == pytest.approx(0.7616, abs=5e-5)
    assert forward["y_pred"].item() == pytest.approx(math.tanh(1.0), abs=1e-6)
    assert forward["grad_fn_name"] == "TanhBackward0"
    assert "tensor([[0.7616]], grad_fn=<TanhBackward0>)" in l1.step(4).output


def test_lesson1_graph(l1):
    values = l1.step(5).values
    picture = values["picture"]
    assert picture.path.is_file()
    assert sorted((n.label, n.shape) for n in values["graph"].by_kind("parameter")) == [
        ("layer1.bias", (1,)), ("layer1.weight", (1, 2)),
    ]
    assert "TanhBackward0 [operation]" in values["graph_text"]
    assert "layer1.weight [parameter] (1, 2)" in values["graph_text"]
    if dot_available():
        assert picture.fmt == "svg" and picture.path.name == "lesson1-graph.svg"
        assert "<svg" in picture.path.read_text(encoding="utf-8")
    else:
        assert picture.fmt == "dot"
    assert str(picture.path) in l1.step(5).output
    assert str(picture.path) in l1.step(5).explanation


def test_lesson1_writes_dot_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` to be found
    result = lesson1(step=5, lang="en", out_dir=tmp_path)
    picture = result.step(5).values["picture"]
    assert picture.fell_back and picture.fmt == "dot"
    assert picture.path == tmp_path / "lesson1-graph.svg.dot"
    assert picture.path.read_text(encoding="utf-8").startswith("digraph")
    assert "Graphviz not found" in result.step(5).output
    assert "(dot)" in result.step(5).explanation


def test_lesson1_autograd_numbers(l1):
    assert l1.step(6).values["g"].item() == 2.0
    assert l1.step(6).values["grads"] == {0.0: 0.0, 1.0: 2.0, 10.0: 20.0}
    values = l1.step(7).values
    assert values["loss"].item() == pytest.approx((math.tanh(1.0) - 1) ** 2, abs=1e-6)
    torch.testing.assert_close(values["weight_grad"], torch.tensor([[-0.2002, -0.4005]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(values["bias_grad"], torch.tensor([-0.2002]), atol=1e-4, rtol=0)
    assert "tensor([[-0.2002, -0.4005]])" in l1.step(7).output
    assert "tensor([-0.2002])" in l1.step(7).output


def test_code_shown_is_code_run(l1, l2):
    # The shown code, pasted into a script and run on its own, prints exactly the same.
    for result in (l1, l2):
        script = "\n".join(s.code for s in result.steps)
        assert "$" not in script
        assert run_as_script(script) == result.output


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_code_fits_80_columns(lang):
    # display width: a Japanese character takes two columns of a terminal
    from torchground.lessons.own_data import OWN_DATA
    from torchground.lessons.tf_playground import TF_PLAYGROUND

    settings = {"lang": lang, "out_dir": "/tmp/torchground-lesson1-abcdefgh", "epochs": 100}
    for lesson in [*LESSONS.values(), OWN_DATA, TF_PLAYGROUND]:
        for step in lesson.steps:
            for line in render_code(step.code, settings, lesson.key, lang).splitlines():
                assert display_width(line) <= 79, (lesson.number, step.key, line)


def test_single_step_and_language(tmp_path):
    result = lesson1(step=3, lang="ja")
    assert [s.number for s in result.steps] == [3]
    step = result.step(3)
    assert step.title == "パラメーター（重みとバイアス）の初期値設定"
    assert "nn.Parameter" in step.explanation and "重み" in step.explanation
    assert step.heading() == "ステップ 3/7：パラメーター（重みとバイアス）の初期値設定"
    assert "### ステップ 3/7" in step._repr_markdown_()
    assert "reason(lang='ja')" in lesson1(step=2, lang="ja").step(2).code
    assert "Softmax はある次元に沿って正規化します" in lesson1(step=2, lang="ja").step(2).output


def test_lessons_leave_the_callers_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    lesson2(step=2, lang="en")  # seeds torch inside the lesson
    assert torch.equal(torch.get_rng_state(), before)


def test_bad_numbers_raise_with_allowed_range():
    with pytest.raises(TorchgroundError, match="from 1 to 7"):
        lesson1(step=0)
    with pytest.raises(TorchgroundError, match="from 1 to 7"):
        lesson2(step=8)
    with pytest.raises(TorchgroundError, match="from 1 to 10"):
        lesson3(step=11)
    with pytest.raises(TorchgroundError, match="from 1 to 1000"):
        lesson3(epochs=0)
    with pytest.raises(TorchgroundError, match="from 1 to 3"):
        run(4)
    with pytest.raises(TorchgroundError, match="lesson 3"):
        run(1, epochs=5)


# --- lesson 2 ------------------------------------------------------------------------------


def test_lesson2_dtype_table(l2):
    table = l2.step(1).values["dtype_table"]
    assert [(dtype, size) for _, dtype, size in table] == [
        ("torch.bool", 1), ("torch.uint8", 1), ("torch.int8", 1), ("torch.int16", 2), ("torch.int32", 4),
        ("torch.int64", 8), ("torch.float16", 2), ("torch.float32", 4), ("torch.float64", 8),
    ]
    assert [name for name, _, _ in table][3:] == [
        "int16 / short", "int32 / int", "int64 / long", "float16 / half", "float32 / float", "float64 / double",
    ]
    assert l2.step(1).values["mixed"].dtype == torch.float32
    assert "True True True" in l2.step(1).output


def test_lesson2_creation_shape_arithmetic_indexing(l2):
    # torch.empty's content is arbitrary: only its shape and dtype are printed.
    assert l2.step(2).output.splitlines()[0] == "torch.Size([2, 3]) torch.float32"
    assert l2.step(2).values["z"].dtype == torch.float64
    assert l2.step(2).values["y"].dtype == torch.int32
    assert l2.step(3).values["shapes"] == ((4, 6), 4, 2, (24,), (3, 8))
    assert l2.step(4).output.count("tensor([11., 22., 33.])") == 4
    assert l2.step(5).values["value"] == 6.0 and isinstance(l2.step(5).values["value"], float)


def test_lesson2_numpy_bridge_shares_memory_and_conversion_copies(l2):
    v = l2.step(6).values
    assert v["numpy_follows_tensor"] and v["tensor_follows_numpy"] and v["copy_unchanged"]
    a, b, c, d, e = v["a"], v["b"], v["c"], v["d"], v["e"]
    assert isinstance(b, np.ndarray) and isinstance(c, np.ndarray)
    # Still shared both ways now, after the lesson ran:
    a[1] = 7.0
    assert b[1] == 7.0
    b[2] = 8.0
    assert a[2].item() == 8.0
    c[2] = 9.0
    assert d[2].item() == 9.0
    # ... while the converted tensor is a copy.
    assert d.dtype == torch.float64 and e.dtype == torch.float32
    assert c[0] == 100.0 and d[0].item() == 100.0 and e[0].item() == 2.0
    assert e[2].item() == 2.0


def test_lesson2_devices(l2):
    v = l2.step(7).values
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert v["cuda"] == torch.cuda.is_available()
    assert v["device"].type == expected
    assert next(v["model"].parameters()).device.type == expected
    assert v["z"].device.type == "cpu"
    if not torch.cuda.is_available():
        assert "CUDA available: False" in l2.step(7).output
        assert "No CUDA GPU here" in l2.step(7).output
    assert f"(this run: {expected})" in l2.step(7).explanation


# --- lesson 3 ------------------------------------------------------------------------------


def test_lesson3_matches_the_trainer(l3):
    result, _ = l3
    values = result.step(7).values
    history = train(Spec(epochs=EPOCHS)).history
    assert history.epochs == EPOCHS == len(values["train_history"])
    for column, mine in (
        ("train_loss", values["train_history"]),
        ("val_loss", values["valid_history"]),
        ("train_acc", values["train_acc_history"]),
        ("val_acc", values["valid_acc_history"]),
    ):
        np.testing.assert_allclose(mine, history.column(column), rtol=0, atol=1e-6, err_msg=column)


def test_lesson3_weights_match_build_model_and_trainer(l3):
    result, _ = l3
    initial = result.step(3).values["initial_state"]
    built = build_model(Spec()).state_dict()
    assert list(initial) == list(built) == [
        "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias", "layer_out.weight", "layer_out.bias",
    ]
    for key in built:
        assert torch.equal(initial[key], built[key]), key
    trained = train(Spec(epochs=EPOCHS)).model.state_dict()
    final = result.step(8).values["final_state"]
    for key in trained:
        torch.testing.assert_close(final[key], trained[key], atol=1e-6, rtol=0)


def test_lesson3_recipe_pieces(l3):
    result, _ = l3
    assert result.step(2).values["t_X_train"].dtype == torch.float32
    assert tuple(result.step(2).values["t_y_train"].shape) == (250, 1)
    assert len(result.step(2).values["loader_train"]) == 17
    assert result.step(4).values["classes"].flatten().tolist() == [-1.0, -1.0, 1.0, 1.0]
    optimizer = result.step(5).values["optimizer"]
    assert type(optimizer).__name__ == "SGD"
    assert optimizer.param_groups[0]["lr"] == 0.03 and optimizer.param_groups[0]["weight_decay"] == 0.03
    lines = [ln for ln in result.step(7).output.splitlines() if ln.startswith("[Epoch")]
    assert len(lines) == EPOCHS
    assert lines[0].startswith(f"[Epoch   1/ {EPOCHS}] loss: {result.step(7).values['train_history'][0]:.5f}")


def test_lesson3_flaw_note(l3):
    result, _ = l3
    v = result.step(7).values
    assert v["n_batches"] == 17
    for i, (article, batch_mean) in enumerate(zip(v["article_history"], v["batch_mean_history"])):
        summed = batch_mean * 17
        assert article == pytest.approx(summed / (i + 1), rel=1e-12)  # the article's ÷ epoch number
    rows = result.step(10).values["flaw_rows"]
    assert [r[0] for r in rows] == [1, 2, EPOCHS // 2, EPOCHS]
    first = rows[0]
    assert first[2] == pytest.approx(first[1])  # epoch 1: the "average" is the whole sum
    assert 15 < first[2] / first[4] < 19  # ~17 times the true mean
    assert first[4] == v["train_history"][0]
    last = rows[-1]
    assert last[2] == pytest.approx(last[1] / EPOCHS)
    text = result.step(10).explanation
    assert f"{first[2]:.4f}" in text and f"{first[4]:.4f}" in text and "17" in text
    assert f"{last[2]:.4f}" in text and f"{last[4]:.4f}" in text


def test_lesson3_png(l3):
    result, out = l3
    path = result.step(9).values["png_path"]
    assert path == out / "lesson3-loss.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == ["lesson3-loss.png"]  # no temporary file left
    assert str(path) in result.step(9).explanation


# --- catalogue -------------------------------------------------------------------------------


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_catalogue_en_ja_complete():
    folder = ROOT / "src" / "torchground" / "i18n"
    en = json.loads((folder / "lessons.en.json").read_text(encoding="utf-8"))
    ja = json.loads((folder / "lessons.ja.json").read_text(encoding="utf-8"))
    assert set(en) == set(ja)
    assert all(k.startswith("lessons.") for k in en)
    for key in en:
        assert _fields(en[key]) == _fields(ja[key]), key
        assert en[key] != ja[key], key
    needed = set()
    for lesson in LESSONS.values():
        needed |= {f"{lesson.key}.title", f"{lesson.key}.intro"}
        for step in lesson.steps:
            needed |= {f"{step.key}.title", f"{step.key}.text"}
    assert needed <= set(en)
    assert set(en) <= set(catalogue("en")) and set(ja) <= set(catalogue("ja"))


# --- CLI -------------------------------------------------------------------------------------


def test_cli_step_in_japanese(capsys, tmp_path):
    assert main(["lesson", "1", "--step", "3", "--lang", "ja", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ステップ 3/7" in out
    assert "パラメーター" in out and "代入します" in out
    assert "コード" in out and "出力" in out
    assert "weight_array = nn.Parameter(torch.tensor([[0.6, -0.2]]))" in out
    assert "OrderedDict" in out and "0.6000, -0.2000" in out
    assert "ステップ 2/7" not in out and "ステップ 4/7" not in out


@pytest.mark.parametrize(
    "environ, argv, comment",
    [
        ({"TORCHGROUND_LANG": "ja"}, [], "# モデルのインスタンス化"),
        ({"LANG": "ja_JP.UTF-8"}, [], "# モデルのインスタンス化"),
        ({"TORCHGROUND_LANG": "ja"}, ["--lang", "en"], "# create the model"),
        ({"LANG": "C.UTF-8"}, ["--lang", "ja"], "# モデルのインスタンス化"),
        ({"LANG": "C.UTF-8"}, [], "# create the model"),
    ],
)
def test_cli_lesson_code_follows_the_language_rule(environ, argv, comment, capsys, monkeypatch):
    from torchground.i18n import set_language

    for var in ("TORCHGROUND_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    for var, value in environ.items():
        monkeypatch.setenv(var, value)
    set_language(None)  # a fresh process: the environment decides unless --lang does
    assert main(["lesson", "1", "--step", "1", *argv]) == 0
    out = capsys.readouterr().out
    assert comment in out
    assert ("ステップ 1/7" in out) == ("モデル" in comment)  # explanation and code in one language


def test_cli_whole_lesson_in_english(capsys, tmp_path):
    assert main(["lesson", "1", "--lang", "en", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Lesson 1: One neuron" in out
    for n in range(1, 8):
        assert f"Step {n}/7" in out
    assert "tensor([[0.7616]], grad_fn=<TanhBackward0>)" in out
    assert "tensor([[-0.2002, -0.4005]])" in out
    assert any(p.name.startswith("lesson1-graph.svg") for p in tmp_path.iterdir())


def test_cli_lesson3_epochs(capsys, tmp_path):
    assert main(["lesson", "3", "--epochs", "3", "--step", "10", "--out-dir", str(tmp_path), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Step 10/10" in out and "÷ epoch" in out
    assert (tmp_path / "lesson3-loss.png").is_file()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["lesson", "4"], "Choose a lesson from 1 to 3"),
        (["lesson", "zero"], "Choose a lesson from 1 to 3"),
        (["lesson", "1", "--step", "8"], "Choose a step from 1 to 7"),
        (["lesson", "2", "--step", "0"], "Choose a step from 1 to 7"),
        (["lesson", "3", "--step", "x"], "Choose a step from 1 to 10"),
        (["lesson", "3", "--epochs", "0"], "from 1 to 1000"),
        (["lesson", "2", "--epochs", "5"], "only to lesson 3"),
        (["lesson", "4", "--lang", "ja"], "1〜3 のレッスンを選んでください"),
    ],
)
def test_cli_bad_numbers_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert fragment in captured.err
    assert "Traceback" not in captured.err + captured.out


# --- notebooks -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec for this very Python (the venv's), installed into a temporary prefix."""
    pytest.importorskip("nbclient")
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    name = "torchground-lessons-test"
    install(kernel_name=name, prefix=str(prefix))
    spec = json.loads((prefix / "share" / "jupyter" / "kernels" / name / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(prefix / "share" / "jupyter"), old]))
    yield name
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


# Fragments each notebook prints, per language: the lesson's numbers and its printed labels.
NOTEBOOK_OUTPUT = {
    "lesson1": ["0.7616", "TanhBackward0", "[[-0.2002, -0.4005]]"],
    "lesson2": ["torch.float64", "tensor([[1., 2.],"],
    "lesson3": ["[Epoch 100/100]", "0.0"],
    "own-data": ["classification 3 ('setosa', 'versicolor', 'virginica')", "crossentropy", "out_features=3"],
    "tf-playground": ["tf-playground 0.80000 (4, 2)", "10 0.03 float64", "True", "1 0.5028 0.5021"],
}
NOTEBOOK_LABELS = {
    "en": {"lesson1": "element-wise:", "lesson2": "device:", "lesson3": "÷ epoch",
           "own-data": "# Training a neural network on your own data",
           "tf-playground": "# Training a neural network on the Playground's circle data"},
    "ja": {"lesson1": "要素ごとに計算できる:", "lesson2": "デバイス:", "lesson3": "÷エポック",
           "own-data": "# 自分のデータでニューラルネットワーク",
           "tf-playground": "# Playground の circle データでニューラルネットワーク"},
}
NOTEBOOK_NAMES = list(NOTEBOOK_OUTPUT)


def test_every_notebook_is_tested():
    from torchground.lessons.notebooks import NOTEBOOKS

    assert list(NOTEBOOKS) == NOTEBOOK_NAMES
    stored = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.ipynb")}
    assert stored == {f"{lang}/{name}.ipynb" for lang in ("en", "ja") for name in NOTEBOOK_NAMES}


def _cells(notebook, kind):
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == kind]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebooks_are_made_from_the_lessons(name, lang):
    # examples/<lang>/<name>.ipynb is exactly what the generator writes today
    from torchground.lessons.notebooks import NOTEBOOKS

    stored = (EXAMPLES / lang / f"{name}.ipynb").read_text(encoding="utf-8")
    assert stored == NOTEBOOKS[name](lang), "run: python -m torchground.lessons.notebooks examples"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebooks_are_one_language_each_and_the_same_program(name):
    from code_texts import english_words, identifiers, program, registry_names, texts

    books = {lang: json.loads((EXAMPLES / lang / f"{name}.ipynb").read_text(encoding="utf-8"))
             for lang in ("en", "ja")}
    code = {lang: "\n".join(_cells(nb, "code")) for lang, nb in books.items()}
    assert program(code["en"]) == program(code["ja"])
    names = identifiers(code["ja"]) | registry_names()
    for text in texts(code["ja"]) + _cells(books["ja"], "markdown"):
        assert english_words(text, names) == [], text
    for text in _cells(books["en"], "markdown") + texts(code["en"]):
        assert not any(0x3000 <= ord(ch) <= 0x9FFF for ch in text), text  # no Japanese in the English one


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs(name, lang, kernel_name, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(EXAMPLES / lang / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name=kernel_name, resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
            texts.append(output.get("text", ""))
            texts.extend(v for v in output.get("data", {}).values() if isinstance(v, str))
    joined = "\n".join(texts)
    last = notebook.cells[-1]  # the notebook ends with the playground widget, continuing the lesson
    assert "tg.Playground(" in last.source
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in last.outputs), last.outputs
    for fragment in NOTEBOOK_OUTPUT[name] + [NOTEBOOK_LABELS[lang][name]]:
        assert fragment in joined, fragment
    if name == "lesson1":
        assert any(p.name.startswith("lesson1-graph.svg") for p in (tmp_path / "lesson1-output").iterdir())
    if name == "lesson3":
        assert (tmp_path / "lesson3-output" / "lesson3-loss.png").is_file()
    if name == "own-data":
        assert {p.name for p in (tmp_path / "own-data-output").iterdir()} == {"iris-like.csv", "iris-like.py"}
    if name == "tf-playground":
        assert (tmp_path / "tf-playground-output" / "tf-playground.py").is_file()


# --- examples/README.md ----------------------------------------------------------------------


def _readme_blocks(lang: str) -> list[str]:
    import re

    return re.findall(rf"```{lang}\n(.*?)```", (EXAMPLES / "README.md").read_text(encoding="utf-8"), flags=re.S)


def test_examples_readme_runs(tmp_path, monkeypatch, capsys):
    import shlex

    monkeypatch.chdir(tmp_path)
    commands = [ln.strip() for block in _readme_blocks("bash") for ln in block.splitlines() if ln.strip()]
    generate = "python -m torchground.lessons.notebooks examples"  # checked by test_notebooks_are_made_from_the_lessons
    assert generate in commands
    commands.remove(generate)
    assert commands and all(c.startswith("torchground lesson ") for c in commands)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    assert (tmp_path / "lesson3-output" / "lesson3-loss.png").is_file()
    (code,) = _readme_blocks("python")
    capsys.readouterr()
    exec(compile(code, "examples/README.md", "exec"), {})  # noqa: S102 (our own README)
    assert "tensor([[0.7616]], grad_fn=<TanhBackward0>)" in capsys.readouterr().out
