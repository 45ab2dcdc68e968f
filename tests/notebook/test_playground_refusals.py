"""The notebook playground refuses what the page's server refuses, in the widget's language;
edge cases of step, height and lang; link notes; read-only traits (no browser)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

pytest.importorskip("anywidget")

import traitlets

from torchground.codegen import to_script
from torchground.errors import SpecError, TorchgroundError
from torchground.i18n import t
from torchground.notebook import Playground
from torchground.notebook.turns import TurnSession

LINK_NO_SEED = ("https://playground.tensorflow.org/#activation=tanh&batchSize=10&dataset=circle&regDataset=reg-plane"
                "&learningRate=0.03&regularizationRate=0&noise=0&networkShape=4,2&showTestData=false&discretize=false"
                "&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false&ySquared=false&cosX=false&sinX=false"
                "&cosY=false&sinY=false&collectStats=false&problem=classification&initZero=false&hideText=false")


@pytest.fixture(scope="module")
def w():
    widget = Playground(dataset="xor", hidden=(2,), n_samples=100, lang="ja")
    yield widget
    widget.close()


def _threads() -> int:
    return sum(t.name == "torchground-playground" for t in threading.enumerate())


def test_caps_the_server_refuses_are_refused_at_creation_in_the_widgets_language():
    before = _threads()
    with pytest.raises(SpecError, match="hidden") as hidden:
        Playground(hidden=(16,), lang="en")
    assert str(hidden.value) == hidden.value.message("en")
    with pytest.raises(SpecError, match="n_samples") as many:
        Playground(n_samples=5000, lang="ja")
    assert str(many.value) == many.value.message("ja") != many.value.message("en")
    with pytest.raises(SpecError) as bad:
        Playground(lang="ja", lr=-1)
    assert str(bad.value) == bad.value.message("ja") != bad.value.message("en")
    assert _threads() == before  # nothing was started


def test_settings_beyond_the_caps_are_refused_and_change_nothing(w):
    for bad in ({"hidden": (16,)}, {"n_samples": 5000}):
        with pytest.raises(SpecError) as caught:
            w.set(**bad)
        assert str(caught.value) == caught.value.message("ja")
    assert w.spec.hidden == (2,) and w.spec.n_samples == 100
    with pytest.raises(SpecError) as caught:
        w.set(lr="abc")
    assert str(caught.value) == caught.value.message("ja")


def test_the_sessions_refusal_of_a_python_command_is_returned():
    async def go():
        sent: list[str] = []

        async def send(text: str) -> None:
            sent.append(text)

        session = TurnSession(send, "ja")
        init = await session.run(json.dumps({"type": "init", "query": "", "lang": "ja"}))
        refusal = await session.run(json.dumps({"type": "set", "changes": {"hidden": [16]}}))
        ok = await session.run(json.dumps({"type": "set", "changes": {"lr": 0.1}}))
        page = await session.submit(json.dumps({"type": "set", "changes": {"n_samples": 5000}}))  # the page's: not kept
        await session.run(json.dumps({"type": "pause"}))
        await session.close()
        return init, refusal, ok, page, session._refusals, sent

    init, refusal, ok, _page, kept, sent = asyncio.run(go())
    assert init is None and ok is None and kept == {}
    assert isinstance(refusal, SpecError) and refusal.params["field"] == "hidden"
    errors = [json.loads(s)["message"] for s in sent if json.loads(s)["type"] == "error"]
    assert errors[0] == refusal.message("ja")  # the page is told too


@pytest.mark.parametrize("n", [True, "2", 1.0, 0])
def test_steps_must_be_whole_numbers(w, n):
    with pytest.raises(TorchgroundError) as caught:
        w.step(n)
    assert caught.value.key == "notebook.bad_steps" and repr(n) in str(caught.value)
    assert str(caught.value) == caught.value.message("ja")
    assert w.epoch == 0


@pytest.mark.parametrize("height", [-5, 10**9, "abc", True, 199, 5001])
def test_heights_out_of_range_are_refused_clearly(height):
    with pytest.raises(TorchgroundError, match="200") as caught:
        Playground(height=height, lang="en")
    assert caught.value.key == "notebook.bad_height" and repr(height) in str(caught.value)


def test_height_and_lang_are_checked_when_set(w):
    with pytest.raises(TorchgroundError) as caught:
        w.height = -5
    assert caught.value.key == "notebook.bad_height" and str(caught.value) == caught.value.message("ja")
    w.height = 600
    assert w.height == 600
    with pytest.raises(TorchgroundError) as caught:
        w.lang = "fr"
    assert caught.value.key == "notebook.bad_lang_set" and w.lang == "ja"


def test_lang_from_python_switches_the_sessions_messages_and_errors(w):
    try:
        w.lang = "en"
        assert w._session.lang == "en" and w.code == to_script(w.spec, "en") != to_script(w.spec, "ja")
        with pytest.raises(SpecError) as caught:
            w.set(lr=-1)
        assert str(caught.value) == caught.value.message("en")
    finally:
        w.lang = "ja"
    assert w._session.lang == "ja"


def test_a_closed_playground_says_so_in_its_language():
    ja = Playground(dataset="xor", hidden=(2,), n_samples=100, lang="ja")
    ja.close()
    with pytest.raises(TorchgroundError) as caught:
        ja.step()
    assert str(caught.value) == t("notebook.closed", "ja")


def test_counters_are_read_only(w):
    for name, value in (("epoch", 5), ("running", True), ("metrics", {}), ("spec_fields", {})):
        with pytest.raises(traitlets.TraitError, match="read-only"):
            setattr(w, name, value)
    w.step(1)
    assert w.epoch == 1 and w.metrics and w.spec_fields["dataset"] == "xor"
    w.reset()
    assert w.epoch == 0


def test_a_links_notes_are_shown_and_kept():
    with pytest.warns(UserWarning) as shown:
        linked = Playground(LINK_NO_SEED, lang="en")
    try:
        assert linked.notes and linked.notes[0] == t("tfpg.note.fresh_seed", "en", seed=linked.spec.tf_playground_seed)
        assert [str(w.message) for w in shown] == linked.notes
        linked.lang = "ja"
        assert linked.notes[0] == t("tfpg.note.fresh_seed", "ja", seed=linked.spec.tf_playground_seed)
    finally:
        linked.close()


def test_a_data_file_of_ones_own_is_kept_among_the_uploads_and_trains(tmp_path):
    from torchground import data_spec
    from torchground.server.uploads import upload_dir

    csv = tmp_path / "mine.csv"
    csv.write_text("x1,x2,label\n" + "".join(f"{i % 7 / 7},{i % 5 / 5},{i % 2}\n" for i in range(60)))
    spec = data_spec(csv, hidden=(3,), lr=0.1)
    own = Playground(spec, lang="en")
    try:
        assert own.spec.data_sha256 == spec.data_sha256 and own.spec.data_file is not None
        assert own.spec.data_file != str(csv) and own.spec.data_file.startswith(str(upload_dir()))
        own.step(1)
        assert own.epoch == 1
        with pytest.raises(TorchgroundError) as caught:
            own.set(data_file=str(tmp_path / "gone.csv"))
        assert caught.value.key == "data.csv_missing" and "gone.csv" in str(caught.value)
        other = tmp_path / "other.csv"
        other.write_text("x1,x2,label\n0,0,1\n")
        with pytest.raises(TorchgroundError) as caught:  # not the file the spec pins: named by its own path
            own.set(data_file=str(other))
        assert caught.value.key == "classes.csv_changed" and "other.csv" in str(caught.value)
        assert own.spec.data_sha256 == spec.data_sha256 and own.epoch == 1
    finally:
        own.close()


def test_lang_set_from_python_is_a_choice_the_page_keeps(monkeypatch):
    monkeypatch.delenv("TORCHGROUND_LANG", raising=False)
    free = Playground(dataset="xor", hidden=(2,), n_samples=100)  # no lang: the page's browser decides
    try:
        assert free.browser_lang
        free._take_language(json.dumps({"type": "init", "query": "", "lang": "en"}), init=True)  # a browser in English
        assert free.lang == "en" and free.browser_lang
        free.lang = "ja"
        assert not free.browser_lang and free._session.lang == "ja"
        free._take_language(json.dumps({"type": "init", "query": "", "lang": "en"}), init=True)  # another view opens
        assert free.lang == "ja" and free._session.lang == "ja"
        free._take_language(json.dumps({"type": "set", "changes": {"lang": "en"}}), init=False)  # the learner's pick
        assert free.lang == "en" and free._session.lang == "en"
    finally:
        free.close()
