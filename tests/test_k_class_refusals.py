"""A K-class data set where only two classes (or regression) fit is refused by one message,
classes.two_only, wherever it happens; no other catalogue text says it again."""

from __future__ import annotations

import difflib

import pytest

from torchground.errors import SpecError, TorchgroundError
from torchground.i18n import LANGUAGES, catalogue
from torchground.spec import Spec
from torchground.train.tfpg_run import spec_from_link


def _reason_key(exc: TorchgroundError) -> str:
    reason = exc.params.get("reason")
    return getattr(reason, "key", exc.key)


@pytest.mark.parametrize(
    "fields",
    [
        dict(dataset="blobs", training_loop="tf-playground", loss="half_mse", shuffle=False, weight_decay=0),
        dict(dataset="spiral-k", tf_playground_seed="0.5"),
        dict(dataset="blobs", preset="playground"),
    ],
)
def test_tensorflow_playground_with_k_classes_says_the_one_message(fields: dict) -> None:
    preset = fields.pop("preset", None)
    with pytest.raises(SpecError) as info:
        Spec.preset(preset, **fields) if preset else Spec(**fields)
    assert _reason_key(info.value) == "classes.two_only"
    en, ja = info.value.message("en"), info.value.message("ja")
    assert "this data has 3 classes" in en and "training_loop = pytorch" in en and "3 クラス" in ja


def test_a_link_with_a_k_class_data_set_says_the_one_message() -> None:
    with pytest.raises(TorchgroundError) as info:
        spec_from_link("https://playground.tensorflow.org/#dataset=xor&seed=0.5", dataset="blobs")
    assert "TensorFlow Playground handles two classes or regression only" in info.value.message("en")


def test_the_grid_view_says_the_one_message() -> None:
    from torchground.server.grid import GridRun
    from torchground.server.urlstate import DEFAULT_SPEC

    with pytest.raises(TorchgroundError) as info:
        GridRun(DEFAULT_SPEC.replace(dataset="spiral-k"), [("lr", "0.1, 1")])
    assert info.value.key == "classes.two_only" and "The grid view handles two classes" in info.value.message("en")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_two_class_refusals_say_the_same_thing_twice(lang: str) -> None:
    texts = {k: v for k, v in catalogue(lang).items()
             if k.startswith(("classes.", "grid.", "registry.refused.loss.", "tfpg.")) and ("class" in v or "クラス" in v)}
    assert "grid.classes" not in texts and "registry.refused.loss.crossentropy" not in texts
    keys = sorted(texts)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert difflib.SequenceMatcher(None, texts[a], texts[b]).ratio() < 0.75, (a, b)
