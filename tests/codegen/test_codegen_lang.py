"""Exported code in the reader's language: one language rule, the same program in ja and en.

``export script|notebook`` follows ``--lang``, then ``TORCHGROUND_LANG``, then the locale,
for its message and for the code's comments alike. The Japanese and English code differ
only in what a reader reads (comments, docstrings, printed messages): stripped of those
they are the same program, and both reproduce the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import torchground.cli.export_cmd  # noqa: F401  (registers the command)
from code_texts import SPEC_LINE, english_words, identifiers, program, registry_names, texts
from torchground.cli import main
from torchground.codegen import to_notebook, to_script
from torchground.i18n import set_language, t
from torchground.spec import Spec
from torchground.train import train

from test_codegen import CASES, TOL, make_spec, max_difference

_LOCALE_VARS = ("TORCHGROUND_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


def _code_cells(notebook: str) -> str:
    cells = json.loads(notebook)["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_same_program_in_both_languages(name: str) -> None:
    spec = make_spec(name)
    en, ja = to_script(spec, "en"), to_script(spec, "ja")
    assert en != ja
    assert program(en) == program(ja)
    assert program(_code_cells(to_notebook(spec, "en"))) == program(_code_cells(to_notebook(spec, "ja")))


@pytest.mark.parametrize("name", ["xor_sigmoid_soft_margin_lbfgs_l1_l2", "reg_gauss_rrelu_smooth_l1_lbfgs"])
def test_japanese_code_has_no_english_prose(name: str) -> None:
    code = to_script(make_spec(name), "ja")
    found = texts(code)
    assert len(found) > 40
    names = identifiers(code) | registry_names()
    english = {text: words for text in found if not SPEC_LINE.match(text) and (words := english_words(text, names))}
    assert english == {}
    assert sum(any(ord(ch) > 0x3000 for ch in text) for text in found) > 40


def _clear_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    set_language(None)  # follow the environment, as a fresh `torchground` process does


@pytest.mark.parametrize(
    ("environ", "argv", "lang"),
    [
        ({"TORCHGROUND_LANG": "ja"}, [], "ja"),
        ({"LANG": "ja_JP.UTF-8"}, [], "ja"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, [], "ja"),
        ({"TORCHGROUND_LANG": "ja"}, ["--lang", "en"], "en"),
        ({"LANG": "C.UTF-8"}, [], "en"),
        ({"LANG": "C.UTF-8"}, ["--lang", "ja"], "ja"),
    ],
)
def test_export_follows_the_language_rule(environ: dict[str, str], argv: list[str], lang: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _clear_locale(monkeypatch)
    for var, value in environ.items():
        monkeypatch.setenv(var, value)
    out = tmp_path / "train.py"
    assert main(["export", "script", "--epochs", "3", "--out", str(out), *argv]) == 0
    assert out.read_text(encoding="utf-8") == to_script(Spec(epochs=3), lang)
    assert t("codegen.written", lang, kind="script", path=str(out)) in capsys.readouterr().err
    assert main(["export", "notebook", "--epochs", "3", "--out", "-", *argv]) == 0
    assert capsys.readouterr().out == to_notebook(Spec(epochs=3), lang)


def test_python_api_follows_the_language_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_locale(monkeypatch)
    monkeypatch.setenv("TORCHGROUND_LANG", "ja")
    assert to_script(Spec(epochs=2)) == to_script(Spec(epochs=2), "ja")
    monkeypatch.setenv("TORCHGROUND_LANG", "en")
    assert to_script(Spec(epochs=2)) == to_script(Spec(epochs=2), "en")


@pytest.mark.slow
def test_both_languages_reproduce_the_run(tmp_path: Path) -> None:
    # One case with every optional part (regression, val/test split, LBFGS, L1, L2, early
    # stopping): the Japanese and the English script each give the trainer's numbers.
    spec = make_spec("xor_sigmoid_soft_margin_lbfgs_l1_l2")
    expected = train(spec).history.rows
    procs = {}
    for lang in ("en", "ja"):
        folder = tmp_path / lang
        folder.mkdir()
        (folder / "train.py").write_text(to_script(spec, lang), encoding="utf-8")
        env = dict(os.environ, TORCHGROUND_HISTORY_JSON=str(folder / "history.json"))
        procs[lang] = subprocess.Popen([sys.executable, "train.py"], cwd=folder, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
    for lang, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        rows = json.loads((tmp_path / lang / "history.json").read_text())
        assert max_difference(rows, expected) <= TOL
        if lang == "ja":
            assert t("codegen.c.plot_saved", "ja", path="loss.png") in out
