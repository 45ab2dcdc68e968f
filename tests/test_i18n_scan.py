"""No English where the reader asked for Japanese: the page, the CLI's help, the code we write.

A scan for ASCII words in what a Japanese reader sees, with an allow-list for what
Japanese technical writing keeps in Latin letters: code identifiers (names the code itself
defines or calls, registry and spec names, option values), units, and names (PyTorch,
Adam, ReLU …; see ``code_texts.ALLOWED_WORDS``). Left out of the scan: Click's own
labels in help output (``Usage:``, ``Options:``, ``[required]``, ``[default: …]``), which
the library prints in English, and the training log line, whose format is the
curriculum's in both languages.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

import pytest
import torch
import typer

from code_texts import english_words, identifiers, program, registry_names, texts
from torchground.cli import main
from torchground.cli.app import _register_commands, app
from torchground.codegen import to_notebook, to_script
from torchground.i18n import catalogue
from torchground.lessons import LESSONS
from torchground.lessons.notebooks import NOTEBOOK_SETTINGS
from torchground.lessons.steps import render_code
from torchground.spec import SPEC_FIELDS, Spec

WEB = resources.files("torchground") / "web"

# Option values, flags' words and protocol names that messages quote as they are typed.
TYPED = set(
    """
    true false full auto eager fast compiled local ray random tpe grid csv svg png json text dot label spec type
    edits param pip install brew apt get graphviz sqlite host port token localhost Host start stop apply list
    lang export script notebook neuron seed playground pytorch classification regression momentum betas eps
    nesterov weight bias decay linear sparse Enter autograd Optuna Nesterov Transformer swish search
    activations losses optimizers inits datasets features presets
    """.split()
)


def _known_names() -> set[str]:
    """Every identifier a Japanese text may quote: code, registries, spec fields, torch names, CLI names."""
    names = registry_names() | set(SPEC_FIELDS) | TYPED
    names |= {n for n in dir(torch.nn) + dir(torch.optim) if not n.startswith("_")}
    _register_commands()
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        names.add(name)
        for param in sub.params:
            names |= {part for opt in getattr(param, "opts", []) for part in opt.strip("-").split("-")}
    return names


NAMES = _known_names()


# --- the page ---------------------------------------------------------------------------------
def test_page_texts_in_the_catalogue_are_japanese() -> None:
    ja = {k: v for k, v in catalogue("ja").items() if k.startswith("web.")}
    assert len(ja) > 50
    english = {k: w for k, v in ja.items() if (w := english_words(re.sub(r"\{[^{}]*\}", " ", v), NAMES))}
    assert english == {}


class _VisibleText(HTMLParser):
    """Text nodes and user-visible attributes of a page not filled from the catalogue."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: is its text filled from the catalogue (or code)?
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attr, marker in (("title", "data-i18n-title"), ("aria-label", "data-i18n-aria"), ("placeholder", ""),
                             ("alt", "")):
            if values.get(attr) and marker not in values:
                self.found.append(values[attr] or "")
        if tag not in self.VOID:
            inherited = bool(self.stack) and self.stack[-1]
            self.stack.append(inherited or tag in ("script", "style") or "data-i18n" in values)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and not (self.stack and self.stack[-1]):
            self.found.append(data.strip())


def test_page_has_no_english_outside_the_catalogue() -> None:
    # names stay as they are: the project, the language switch's "English", L1/L2
    parser = _VisibleText()
    parser.feed((WEB / "index.html").read_text(encoding="utf-8"))
    leftover = [text for text in parser.found if english_words(text, NAMES | {"torchground", "English"})]
    assert leftover == []


def test_scripts_show_no_english_sentences() -> None:
    # a JavaScript string that reads as an English sentence would bypass the catalogue
    sentence = re.compile(r"""(["'`])([A-Z][a-z]+(?: [a-z]+){2,}[^"'`]*)\1""")
    found = []
    for entry in WEB.iterdir():
        if entry.name.endswith(".js"):
            code = re.sub(r"^\s*//.*$|/\*.*?\*/", "", entry.read_text(encoding="utf-8"), flags=re.M | re.S)
            found += [(entry.name, m.group(2)) for m in sentence.finditer(code)]
    assert found == []


# --- the CLI --------------------------------------------------------------------------------
_CLICK_LABELS = re.compile(r"^Usage: .*$|^(Options|Arguments|Commands):$|\[required\]|\[default: [^\]]*\]|<[^<>]+>",
                           flags=re.M)


def _commands() -> list[str]:
    _register_commands()
    return sorted(typer.main.get_command(app).commands)


@pytest.mark.parametrize("command", _commands())
def test_cli_help_is_japanese_with_lang_ja(command: str, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the conftest sets English, as an English locale would: --lang ja alone makes it Japanese
    monkeypatch.setattr("typer._click.formatting.FORCED_WIDTH", 10_000)  # one line per item: no word cut
    assert main([command, "--lang", "ja", "--help"]) == 0
    shown = _CLICK_LABELS.sub(" ", capsys.readouterr().out)
    english = {line.strip(): words for line in shown.splitlines() if (words := english_words(line, NAMES))}
    assert english == {}
    assert sum(1 for ch in shown if 0x3040 <= ord(ch) <= 0x9FFF) > 20


def test_cli_help_is_english_with_lang_en(capsys: pytest.CaptureFixture[str]) -> None:
    from torchground.i18n import set_language

    set_language("ja")  # as a Japanese locale would
    assert main(["export", "--help", "--lang", "en"]) == 0
    shown = capsys.readouterr().out
    assert "Write the PyTorch code of a spec" in shown and not re.search(r"[\u3040-\u9fff]", shown)


# --- the code we write ------------------------------------------------------------------------
SPECS = [
    Spec(epochs=3),
    Spec(dataset="reg-gauss", optimizer="lbfgs", batch_size="full", loss="huber", l1=0.001, l2=0.01, patience=3,
         train_pct=60, val_pct=20, test_pct=20, activation="relu", init="playground", epochs=3),
    Spec(dataset="spiral", features=("x1", "x2", "x1sq", "sinx2"), optimizer="adam", weight_decay=0.01,
         loss="bce_with_logits", epochs=3),
    Spec.preset("playground", epochs=3),  # TensorFlow Playground's loop
    Spec.preset("playground", epochs=3, tf_playground_seed="0.80000"),  # ... and a link's data and weights
]


def _code_of_notebook(notebook: str) -> tuple[str, list[str]]:
    import json

    cells = json.loads(notebook)["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return code, ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _english_in(code: str, prose: list[str] = ()) -> dict[str, list[str]]:
    names = NAMES | identifiers(code)
    spec_line = re.compile(r"^[a-z_0-9]+ = ")  # the spec as TOML in a script's header
    found = {}
    for text in texts(code) + list(prose):
        text = re.sub(r"```.*?```", " ", text, flags=re.S)  # a code block inside markdown
        if not spec_line.match(text) and (words := english_words(text, names)):
            found[text[:80]] = words
    return found


@pytest.mark.parametrize("index", range(len(SPECS)))
def test_exported_code_is_japanese(index: int) -> None:
    assert _english_in(to_script(SPECS[index], "ja")) == {}
    assert _english_in(*_code_of_notebook(to_notebook(SPECS[index], "ja"))) == {}


def test_exported_code_is_japanese_for_own_data_and_k_classes(tmp_path) -> None:
    import numpy as np

    from torchground import data_spec

    rng = np.random.default_rng(0)
    points = np.repeat([[-2.0, -2.0], [2.0, -1.0], [0.0, 2.5]], 20, axis=0) + rng.normal(0.0, 0.8, (60, 2))
    labels = np.repeat(["apple", "banana", "cherry"], 20)
    specs = [data_spec((points, labels), save_as=tmp_path / "fruit.csv", hidden=(8,), epochs=2),
             Spec(dataset="spiral-k", classes=3, epochs=2)]
    for spec in specs:
        ja, en = to_script(spec, "ja"), to_script(spec, "en")
        assert _english_in(ja) == {}
        assert _english_in(*_code_of_notebook(to_notebook(spec, "ja"))) == {}
        assert program(ja) == program(en)


@pytest.mark.parametrize("number", sorted(LESSONS))
def test_lesson_code_is_japanese(number: int) -> None:
    lesson = LESSONS[number]
    settings = {"lang": "ja", "out_dir": "lesson-output", "epochs": 100, **NOTEBOOK_SETTINGS[number]}
    for step in lesson.steps:
        code = render_code(step.code, settings, lesson.key, "ja")
        assert _english_in(code) == {}, step.key
        english = render_code(step.code, {**settings, "lang": "en"}, lesson.key, "en")
        assert program(code) == program(english), step.key


def test_lesson_and_codegen_catalogues_are_japanese() -> None:
    # every text lessons and code export show, whatever spec or step uses it
    names = set(NAMES)
    for spec in SPECS:
        names |= identifiers(to_script(spec, "en"))
    for lesson in LESSONS.values():
        for step in lesson.steps:
            names |= identifiers(render_code(step.code, {"lang": "en", "out_dir": "x", "epochs": 1}))
    ja = catalogue("ja")
    english = {}
    for key, text in ja.items():
        if key.startswith(("lessons.", "codegen.")):
            text = re.sub(r"\{[^{}]*\}", " ", text)
            if words := english_words(text, names):
                english[key] = words
    assert english == {}


def test_the_scan_finds_english() -> None:
    # the scan itself: English prose is found, names and code are not
    assert english_words("Train the network", NAMES) == ["Train", "the", "network"]
    assert english_words("PyTorch の nn.Linear と Adam（`lr=0.1`）、CPU で 3 ms", NAMES) == []
    assert _english_in('x = 1  # the layer\nprint("done")\n') == {"the layer": ["the", "layer"], "done": ["done"]}
