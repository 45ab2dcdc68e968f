"""The own-data tutorial: three named classes from NumPy, a spec, training, the exported script."""

from __future__ import annotations

import pytest

from code_texts import program
from torchground import data_spec, train
from torchground.lessons.own_data import OWN_DATA, own_data
from torchground.lessons.steps import render_code


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("own")
    return own_data(lang="en", epochs=20, out_dir=out), out


def test_the_labels_make_three_classes(result):
    run, out = result
    spec = run.step(2).values["spec"]
    assert (spec.problem, spec.classes, spec.class_names, spec.loss) == (
        "classification", 3, ("setosa", "versicolor", "virginica"), "crossentropy")
    assert (out / "iris-like.csv").read_text().startswith("x1,x2,label\n")
    assert data_spec(out / "iris-like.csv", hidden=(8,), lr=0.1, epochs=20) == spec


def test_training_learns_and_matches_the_trainer(result):
    run, _ = result
    last = run.step(3).values["last"]
    assert last["epoch"] == 20 and last["train_acc"] > 0.9
    spec = run.step(2).values["spec"]
    assert train(spec).history.rows[-1] == last  # the tutorial's run is torchground's run
    assert run.step(3).values["run"].model.layer_out.out_features == 3


def test_the_script_is_written_in_the_readers_language(result, tmp_path):
    run, out = result
    assert (out / "iris-like.py").read_text(encoding="utf-8") == run.step(4).values["script"]
    ja = own_data(lang="ja", epochs=2, out_dir=tmp_path).step(4)
    assert ja.output.startswith("# 自分のデータで")
    settings = {"out_dir": "x", "epochs": 2}
    for step in OWN_DATA.steps:
        en_code = render_code(step.code, {**settings, "lang": "en"}, OWN_DATA.key, "en")
        ja_code = render_code(step.code, {**settings, "lang": "ja"}, OWN_DATA.key, "ja")
        assert en_code != ja_code and program(en_code) == program(ja_code)
