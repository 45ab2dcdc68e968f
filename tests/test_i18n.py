"""Tests for torchground.i18n: both catalogues complete and consistent, language detection, fallback."""

from __future__ import annotations

import json
import re
import string
from importlib import resources
from pathlib import Path

import pytest

import torchground
import torchground.i18n as i18n
from torchground.errors import TorchgroundError
from torchground.i18n import LANGUAGES, catalogue, detect_language, get_language, resolve_language, set_language, t
from torchground.spec import SPEC_FIELDS

EN = catalogue("en")
JA = catalogue("ja")

# Log lines keep the curriculum's English format in both languages; axis names are symbols.
SAME_IN_BOTH = {"train.log_line", "train.log_line_reg", "plots.axis.x1", "plots.axis.x2"}


def placeholders(template: str) -> set[str]:
    """Field names used by a str.format template, including those nested in format specs."""
    names: set[str] = set()
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is not None:
            names.add(name)
        if spec:
            names |= placeholders(spec)
    return names


def test_both_catalogues_have_the_same_keys() -> None:
    assert set(EN) - set(JA) == set(), "keys missing in ja"
    assert set(JA) - set(EN) == set(), "keys missing in en"
    assert len(EN) > 100


def test_each_domain_file_has_a_partner_with_the_same_keys() -> None:
    folder = resources.files("torchground.i18n")
    files = {e.name: json.loads(e.read_text(encoding="utf-8")) for e in folder.iterdir() if e.name.endswith(".json")}
    domains = {name.rsplit(".", 2)[0] for name in files}
    for domain in sorted(domains):
        en, ja = files.get(f"{domain}.en.json"), files.get(f"{domain}.ja.json")
        assert en is not None and ja is not None, domain
        assert set(en) == set(ja), domain


def test_no_key_is_defined_in_two_domain_files() -> None:
    folder = resources.files("torchground.i18n")
    seen: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".en.json"):
            continue
        for key in json.loads(entry.read_text(encoding="utf-8")):
            assert key not in seen, f"{key} in {seen.get(key)} and {entry.name}"
            seen[key] = entry.name


@pytest.mark.parametrize("key", sorted(EN))
def test_same_placeholders_in_both_languages(key: str) -> None:
    assert placeholders(EN[key]) == placeholders(JA[key])


def fields_with_format(template: str) -> set[tuple[str, str, str]]:
    """(name, format spec, conversion) of every field: `{value!r}` and `{value}` render differently."""
    return {(name, spec or "", conv or "") for _, name, spec, conv in string.Formatter().parse(template) if name}


def test_same_format_specs_and_conversions_in_both_languages() -> None:
    differ = [k for k in EN if fields_with_format(EN[k]) != fields_with_format(JA[k])]
    assert differ == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_templates_render_with_their_own_placeholders(lang: str) -> None:
    for key, template in catalogue(lang).items():
        names = placeholders(template)
        if names:
            text = template.format(**{n: 1 for n in names})  # numbers satisfy every format spec used
            # A brace left in the text is an unrendered placeholder, unless the template wrote it
            # as a literal ("{{"), which renders as one "{".
            assert text.count("{") == template.count("{{"), key


def test_japanese_is_actually_translated() -> None:
    keys = [k for k in EN if k not in SAME_IN_BOTH]
    different = [k for k in keys if EN[k] != JA[k]]
    assert len(different) >= 0.9 * len(keys)
    untranslated = sorted(set(keys) - set(different))
    assert len(untranslated) <= 0.1 * len(keys), untranslated


def test_log_line_formats_are_identical_and_render() -> None:
    row = {"epoch": 3, "train_loss": 0.5, "train_acc": 0.75, "val_loss": 0.25, "val_acc": 1.0}
    assert t("train.log_line", "en", width=2, epochs=10, **row) == t("train.log_line", "ja", width=2, epochs=10, **row)
    assert t("train.log_line", "en", width=1, epochs=3, **row) == (
        "[Epoch 3/3] loss: 0.50000, acc: 0.75000 val_loss: 0.25000, val_acc: 1.00000"
    )


def test_no_catalogue_text_is_blank() -> None:
    for table in (EN, JA):
        assert all(isinstance(v, str) and v.strip() for v in table.values())


def _literal_keys_in_source() -> set[str]:
    prefixes = sorted({k.split(".")[0] for k in EN})
    pattern = re.compile(r"""(?<![\w{.])["']((?:%s)\.[a-z0-9_]+(?:\.[a-z0-9_]+)*)["']""" % "|".join(prefixes))
    keys: set[str] = set()
    root = Path(torchground.__file__).parent
    for path in root.rglob("*.py"):
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            key = match.group(1)
            if key.split(".")[-1] in {"json", "csv", "png", "svg", "toml", "safetensors", "py"}:
                continue  # file names such as "spec.json"
            keys.add(key)
    return keys


def test_every_literal_key_used_in_the_source_exists() -> None:
    # A literal may also be the stem of composed keys (e.g. f"{key}.title"): then some key starts with it.
    missing = sorted(k for k in _literal_keys_in_source() if k not in EN and not any(e.startswith(k + ".") for e in EN))
    assert missing == []


def test_dynamic_keys_exist() -> None:
    from torchground.data.datasets import DATASETS
    from torchground.data.features import FEATURES
    from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
    from torchground.spec import PRESETS

    needed = [f"cli.help.{f}" for f in SPEC_FIELDS if f != "problem"]
    needed += [f"cli.preset.{p}" for p in PRESETS]
    needed += [f"registry.kind.{r.kind}" for r in (ACTIVATIONS, LOSSES, OPTIMIZERS, INITS)]
    needed += [info.summary_key for info in DATASETS.values()]
    needed += [info.summary_key for info in FEATURES.values()]
    needed += [f"train.status.{s}" for s in ("completed", "early_stopped", "diverged", "interrupted")]
    for reg in (ACTIVATIONS, LOSSES, OPTIMIZERS, INITS):
        needed += [f"registry.{reg.kind}.{n}" for n in reg.names()]
        needed += [reg.entry(n).refused for n in reg.refused()]
    assert sorted(k for k in needed if k not in EN or k not in JA) == []


# ----------------------------------------------------------------------------- detect_language


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "JA_JP"}, "ja"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "C", "LANG": "ja_JP.UTF-8"}, "en"),  # LC_ALL wins
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "C"}, "ja"),
        ({"LC_ALL": "", "LANG": "ja_JP.UTF-8"}, "ja"),  # empty variables are skipped
        ({"LANGUAGE": "ja:en"}, "ja"),
        ({"TORCHGROUND_LANG": "ja", "LANG": "C"}, "ja"),
        ({"TORCHGROUND_LANG": "en", "LC_ALL": "ja_JP.UTF-8"}, "en"),
        ({"TORCHGROUND_LANG": "fr", "LANG": "ja_JP.UTF-8"}, "ja"),  # unknown value ignored
    ],
)
def test_detect_language(environ: dict[str, str], expected: str) -> None:
    assert detect_language(environ) == expected


def test_resolve_language_one_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # --lang (an explicit argument) > set_language (the CLI's --lang) > TORCHGROUND_LANG > the locale
    for var in ("TORCHGROUND_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    set_language(None)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    assert resolve_language() == "ja" and resolve_language("en") == "en"
    monkeypatch.setenv("TORCHGROUND_LANG", "en")
    assert resolve_language() == "en" and resolve_language("ja") == "ja"
    set_language("ja")
    assert resolve_language() == "ja" and resolve_language("en") == "en"


def test_explicit_language_is_a_choice_not_the_locale() -> None:
    from torchground.i18n import explicit_language

    assert explicit_language("ja", {}) == "ja"
    assert explicit_language(None, {"TORCHGROUND_LANG": "en", "LANG": "ja_JP.UTF-8"}) == "en"
    assert explicit_language(None, {"LANG": "ja_JP.UTF-8"}) is None
    assert explicit_language(None, {"TORCHGROUND_LANG": "fr"}) is None


@pytest.mark.parametrize("error_key", ["cli.bad_lang", "codegen.bad_lang", "lessons.bad_lang"])
def test_resolve_language_refuses_others_with_the_callers_message(error_key: str) -> None:
    with pytest.raises(TorchgroundError) as info:
        resolve_language("fr", error_key)
    assert info.value.key == error_key and "fr" in info.value.message("en") and "en, ja" in info.value.message("en")


def test_detect_language_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCHGROUND_LANG", "ja")
    assert detect_language() == "ja"
    monkeypatch.setenv("TORCHGROUND_LANG", "en")
    assert detect_language() == "en"


# ----------------------------------------------------------------------------- t, languages


def test_languages() -> None:
    assert LANGUAGES == ("en", "ja")
    with pytest.raises(ValueError):
        catalogue("fr")
    with pytest.raises(ValueError):
        set_language("fr")


def test_set_language_changes_the_default() -> None:
    assert get_language() == "en"  # conftest
    set_language("ja")
    assert get_language() == "ja"
    assert t("cli.error") == JA["cli.error"]
    assert t("cli.error", "en") == EN["cli.error"]


def test_set_language_none_goes_back_to_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHGROUND_LANG", "ja")
    set_language(None)
    assert get_language() == "ja"


def test_t_formats_parameters() -> None:
    assert t("cli.interrupted", "en", path="runs/x") == "Interrupted: the run so far was saved to runs/x."
    assert "runs/x" in t("cli.interrupted", "ja", path="runs/x")


def test_t_falls_back_to_english_and_raises_for_unknown_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = {"en": {"only.en": "hello {name}", "both": "en text"}, "ja": {"both": "ja テキスト"}}
    monkeypatch.setattr(i18n, "catalogue", lambda lang: tables[lang])
    assert i18n.t("only.en", "ja", name="x") == "hello x"
    assert i18n.t("both", "ja") == "ja テキスト"
    with pytest.raises(KeyError):
        i18n.t("nowhere", "ja")
    with pytest.raises(KeyError):
        i18n.t("nowhere", "en")


def test_real_unknown_key_raises_key_error() -> None:
    with pytest.raises(KeyError):
        t("no.such.key", "ja")
