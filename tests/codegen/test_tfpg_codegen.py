"""Exported code of TensorFlow Playground links: the script carries its random stream,
its generator and its loop, and gives TensorFlow Playground's own numbers; the Japanese
script has no English prose and is the same program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from code_texts import SPEC_LINE, english_words, identifiers, program, registry_names, texts
from torchground.codegen import to_notebook, to_script
from torchground.codegen.tfpg_data import stream_code
from torchground.data.tfpg_datasets import playground_points
from torchground.train.tfpg_run import spec_from_link

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"
NAMES = ("default-circle", "reg-gauss-relu", "spiral-features-l1")


def reference(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_script_of_a_link_gives_tf_playgrounds_numbers(name: str, tmp_path: Path) -> None:
    ref = reference(name)
    spec, _ = spec_from_link(ref["url"], epochs=4)
    (tmp_path / "link.py").write_text(to_script(spec, "en"), encoding="utf-8")
    env = dict(os.environ, TORCHGROUND_HISTORY_JSON=str(tmp_path / "history.json"), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "link.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "history.json").read_text())
    got = np.array([[r["train_loss"], r["test_loss"]] for r in rows])
    assert got.shape == (4, 2)
    assert np.abs(got - np.array(ref["losses"][:4])).max() <= 1e-12


@pytest.mark.parametrize("dataset", ["circle", "xor", "gauss", "spiral", "reg-plane", "reg-gauss"])
def test_the_scripts_stream_and_generator_are_torchgrounds(dataset: str) -> None:
    """The code the script carries draws the same points as torchground (it is generated from it)."""
    namespace: dict = {}
    exec(compile("import math\n" + stream_code(dataset), "stream", "exec"), namespace)  # our own generated code
    rng = namespace["PlaygroundRandom"]("0.777")
    rows = namespace[{"reg-plane": "_reg_plane", "reg-gauss": "_reg_gauss"}.get(dataset, "_" + dataset)](
        rng, 1200 if dataset.startswith("reg") else 500, 0.25)
    namespace["shuffle_in_place"](rows, rng)
    ds, _ = playground_points(dataset, 25, "0.777")
    np.testing.assert_array_equal(np.array(rows), np.c_[ds.points, ds.labels])


def test_japanese_script_of_a_link_has_no_english_prose() -> None:
    spec, _ = spec_from_link(reference("spiral-features-l1")["url"], epochs=2)
    ja, en = to_script(spec, "ja"), to_script(spec, "en")
    assert program(ja) == program(en)
    found = texts(ja)
    names = identifiers(ja) | registry_names()
    english = {text: words for text in found if not SPEC_LINE.match(text) and (words := english_words(text, names))}
    assert english == {}
    assert "def accumulate(x, y):" in to_notebook(spec, "ja")
