"""The TensorFlow Playground tutorial: a link opened exactly, trained with its loop, back to a link."""

from __future__ import annotations

import pytest

from code_texts import program
from torchground import train
from torchground.lessons.steps import render_code
from torchground.lessons.tf_playground import TF_PLAYGROUND, tf_playground
from torchground.train.tfpg_run import open_link


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("tfpg")
    return tf_playground(lang="en", epochs=6, out_dir=out), out


def test_the_link_becomes_its_spec_data_and_weights(result):
    run, _ = result
    spec = run.step(1).values["spec"]
    assert (spec.training_loop, spec.tf_playground_seed, spec.hidden, spec.batch_size) == ("tf-playground", "0.80000", (4, 2), 10)
    opened = open_link(run.step(1).values["LINK"], epochs=6)
    assert (run.step(2).values["train_points"] == opened.data.train.points).all()
    assert (run.step(2).values["weights"] == opened.initial_weights()[0][0]).all()


def test_training_is_torchgrounds_and_the_link_round_trips(result):
    run, out = result
    spec = run.step(1).values["spec"]
    assert run.step(3).values["run"].history.rows == train(spec).history.rows
    assert run.step(4).output.splitlines()[1] == "True"
    assert (out / "tf-playground.py").read_text(encoding="utf-8") == run.step(4).values["script"]


def test_same_program_in_both_languages():
    settings = {"out_dir": "x", "epochs": 2}
    for step in TF_PLAYGROUND.steps:
        en = render_code(step.code, {**settings, "lang": "en"}, TF_PLAYGROUND.key, "en")
        ja = render_code(step.code, {**settings, "lang": "ja"}, TF_PLAYGROUND.key, "ja")
        assert en != ja and program(en) == program(ja)
