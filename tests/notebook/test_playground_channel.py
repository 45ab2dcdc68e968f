"""The notebook playground's channel (no browser): files the page uploads as binary buffers,
views that open and close, the front end closing the widget, the language, and the code and
traits a learner reads from Python."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest

pytest.importorskip("anywidget")

from torchground import i18n  # noqa: E402
from torchground.errors import TorchgroundError  # noqa: E402
from torchground.notebook import Playground  # noqa: E402


def _listen(w: Playground) -> list[dict]:
    """What the page would receive (the widget's custom messages), from now on."""
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)
    return sent


def _wait_for(pred, what: str) -> None:
    deadline = time.monotonic() + 60
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _answer(sent: list[dict], kind: str, key: str, value) -> dict:
    _wait_for(lambda: any(m.get("kind") == kind and m.get(key) == value for m in sent), f"no {kind} {value}")
    return next(m for m in sent if m.get("kind") == kind and m.get(key) == value)


def _ws(sent: list[dict], type_: str) -> dict:
    _wait_for(lambda: any(m["kind"] == "ws" and json.loads(m["text"])["type"] == type_ for m in sent), f"no {type_}")
    return next(json.loads(m["text"]) for m in sent if m["kind"] == "ws" and json.loads(m["text"])["type"] == type_)


def _messages(sent: list[dict]) -> list[str]:
    """The session's texts to the page, once an error arrived (its ``message`` fields)."""
    _wait_for(lambda: any(m["kind"] == "ws" and '"error"' in m["text"][:30] for m in sent), "no error")
    return [json.loads(m["text"]).get("message", "") for m in sent if m["kind"] == "ws"]


def _post(w: Playground, request_id: int, path: str, data: bytes) -> None:
    """The page posting a file: the body is the message's buffer, as widget.js sends it."""
    w._from_page(w, {"kind": "fetch", "id": request_id, "method": "POST", "path": path, "body": None, "binary": True},
                 [memoryview(data)])


def test_an_uploaded_csv_arrives_as_a_buffer_and_becomes_the_data(widgets, tmp_path):
    w = widgets(dataset="xor")
    sent = _listen(w)
    rng = np.random.default_rng(0)
    rows = ["x1,x2,label"] + [f"{x:.3f},{y:.3f},{int(x * y > 0)}" for x, y in rng.uniform(-1, 1, (60, 2))]
    _post(w, 1, "/api/data?lang=en", ("\n".join(rows) + "\n").encode())
    answer = _answer(sent, "fetch", "id", 1)
    assert answer["status"] == 200, answer["body"]
    changes = json.loads(answer["body"])["changes"]
    # the page sends the answer's fields back as a setting, as owndata.js does
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "set", "changes": changes})}, [])
    _wait_for(lambda: w.spec.dataset == changes["dataset"], "the uploaded data did not become the spec's")
    w.step(1)
    assert w.epoch == 1 and w.spec.n_samples == 60
    # a file the CSV rules refuse is answered with the reason, in the page's language
    _post(w, 2, "/api/data?lang=ja", b"x1,x2,label\n1,2\n")
    refused = _answer(sent, "fetch", "id", 2)
    assert refused["status"] == 400 and json.loads(refused["body"])["error"]


def test_a_saved_session_posted_as_a_buffer_reopens_in_another_widget(widgets):
    a = widgets(dataset="circle", hidden=(3,), lr=0.1)
    a.step(2)
    sent_a = _listen(a)
    a._from_page(a, {"kind": "ws", "text": json.dumps({"type": "save"})}, [])
    bundle = base64.b64decode(_ws(sent_a, "saved")["bundle"])

    b = widgets(dataset="xor")
    sent_b = _listen(b)
    _post(b, 5, "/api/session?lang=en", bundle)
    answer = _answer(sent_b, "fetch", "id", 5)
    assert answer["status"] == 200, answer["body"]
    b._from_page(b, {"kind": "ws", "text": json.dumps({"type": "open", "id": json.loads(answer["body"])["id"]})}, [])
    _wait_for(lambda: b.epoch == 2 and b.spec.dataset == "circle", "the session did not reopen")
    a.step(1)
    b.step(1)  # trains on from the very same weights
    assert b.history[-1]["train_loss"] == pytest.approx(a.history[-1]["train_loss"], abs=1e-7)
    # a file that is not a session is refused by name
    _post(b, 6, "/api/session?lang=en", b"not a session")
    assert _answer(sent_b, "fetch", "id", 6)["status"] == 400


def test_training_pauses_once_the_last_view_closes(widgets):
    w = widgets(dataset="gauss")
    w._from_page(w, {"kind": "view", "view": "one"}, [])
    w._from_page(w, {"kind": "view", "view": "two"}, [])
    w.play()
    _wait_for(lambda: w.epoch >= 2, "playing did not train")
    w._from_page(w, {"kind": "closed", "view": "one"}, [])
    before = w.epoch
    _wait_for(lambda: w.epoch >= before + 2, "one view of two closing stopped training")
    assert w.running
    w._from_page(w, {"kind": "closed", "view": "two"}, [])
    _wait_for(lambda: not w.running, "the last view closing did not stop training")


def test_the_front_end_closing_the_widget_ends_its_session_and_thread(widgets):
    w = widgets(dataset="xor")
    other = widgets(dataset="xor")
    w.play()
    _wait_for(lambda: w.epoch >= 1, "playing did not train")
    assert w._thread.is_alive()
    w.comm.handle_close({"content": {"comm_id": w.comm.comm_id, "data": {}}})  # what the kernel does on comm_close
    assert w.closed and not w._thread.is_alive()
    with pytest.raises(TorchgroundError, match="closed"):
        w.step()
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "play"})}, [])  # a late message is ignored
    other.step(1)  # the other widget is not affected
    assert other.epoch == 1


def test_language_from_the_argument_or_the_kernels_locale(widgets, monkeypatch):
    with pytest.raises(TorchgroundError, match="en, ja"):
        Playground(lang="fr")
    monkeypatch.setattr(i18n, "_current", None)
    monkeypatch.setenv("TORCHGROUND_LANG", "")
    monkeypatch.setenv("LC_ALL", "ja_JP.UTF-8")
    assert widgets().lang == "ja"
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    assert widgets().lang == "en"
    ja = widgets(lang="ja", dataset="xor")
    sent = _listen(ja)
    ja._from_page(ja, {"kind": "ws", "text": json.dumps({"type": "set", "changes": {"lr": "fast"}})}, [])
    assert any("\u3002" in m for m in _messages(sent))  # the session answers in the widget's language (。)
    assert ja.code.startswith("# Playground の xor データ")  # and the script speaks it
    assert widgets(lang="en", dataset="xor").code.startswith("# Training a neural network")


def test_the_code_and_the_traits_follow_what_is_on_screen(widgets):
    w = widgets(dataset="xor", hidden=(4,), lr=0.1)
    running: list[bool] = []
    fields: list[dict] = []
    w.observe(lambda c: running.append(c["new"]), names="running")
    w.observe(lambda c: fields.append(c["new"]), names="spec_fields")
    w.set(lr=0.3, hidden=(6, 2))
    assert "hidden = [6, 2]" in w.code and "lr = 0.3" in w.code  # the script is of the spec on screen
    assert fields[-1]["hidden"] == [6, 2] and fields[-1]["lr"] == 0.3
    w.play()
    _wait_for(lambda: True in running, "running was not observed")
    w.pause()
    assert running[-1] is False and not w.running
    assert set(w.metrics) >= {"train_loss", "test_loss"}


def test_an_observer_may_command_the_widget(widgets):
    """Observers run as frames arrive, on the widget's thread: a command there is queued, not a deadlock."""
    w = widgets(dataset="circle")
    w.observe(lambda change: w.pause() if change["new"] >= 3 and w.running else None, names="epoch")
    w.play()
    _wait_for(lambda: w.epoch >= 3 and not w.running, "the observer's pause did not stop training")
    stopped = w.epoch
    w.step(2)  # the kernel's thread still commands it as before
    assert w.epoch == stopped + 2


def test_a_view_that_opens_joins_the_session_as_it_is(widgets):
    """Shown after training from Python (or shown again, or in a second view): no start-over."""
    w = widgets(dataset="xor", hidden=(3,))
    w.step(3)
    weights = [p.detach().clone() for p in w.model.parameters()]
    sent = _listen(w)
    w._from_page(w, {"kind": "view", "view": "late"}, [])
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "init", "query": "", "lang": "en"})}, [])
    state = _ws(sent, "state")
    assert state["spec"]["dataset"] == "xor" and state["spec"]["hidden"] == [3]
    frame = _ws(sent, "frame")
    assert frame["epoch"] == 3
    assert w.epoch == 3 and len(w.history) == 3
    assert all((a == b).all() for a, b in zip(weights, w.model.parameters()))


def test_large_modules_are_sent_when_the_page_asks(widgets):
    """Graphviz (web/vendor/) is not in every widget's files: the page's first use asks for it."""
    import re

    from torchground.notebook.playground import WEB

    w = widgets()
    assert not any(name.startswith("vendor/") for name in w.files)
    # the page reaches them only by a dynamic import("./vendor/…"), which widget.js turns into a request
    for name, text in w.files.items():
        if name.endswith(".js") and name != "widget.js":
            assert not re.search(r"""from\s+["']\./vendor/""", text), name
    sent = _listen(w)
    w._from_page(w, {"kind": "file", "name": "vendor/viz-standalone.js"}, [])  # answered at once
    for other in ("app.js", "../notebook/playground.py", "/etc/passwd", None):  # only the modules sent on demand
        w._from_page(w, {"kind": "file", "name": other}, [])
    assert [m["name"] for m in sent if m.get("kind") == "file"] == ["vendor/viz-standalone.js"]
    assert sent[0]["text"] == (WEB / "vendor" / "viz-standalone.js").read_text(encoding="utf-8")


def test_without_a_chosen_language_the_page_speaks_its_browsers(widgets, monkeypatch):
    monkeypatch.setenv("TORCHGROUND_LANG", "")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    w = widgets(dataset="xor")
    assert w.browser_lang and w.lang == "en"  # the kernel's locale, until a page opens
    sent = _listen(w)
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "init", "query": "", "lang": "ja"})}, [])
    assert w.lang == "ja" and w.code.startswith("# Playground の xor データ")
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "set", "changes": {"lr": "fast"}})}, [])
    assert any("\u3002" in m for m in _messages(sent))  # the session speaks it too
    # a language chosen in Python stays, unless the learner picks another in the page
    chosen = widgets(dataset="xor", lang="en")
    assert not chosen.browser_lang
    chosen._from_page(chosen, {"kind": "ws", "text": json.dumps({"type": "init", "query": "", "lang": "ja"})}, [])
    assert chosen.lang == "en"
    chosen._from_page(chosen, {"kind": "ws", "text": json.dumps({"type": "set", "changes": {"lang": "ja"}})}, [])
    assert chosen.lang == "ja"
    monkeypatch.setenv("TORCHGROUND_LANG", "ja")
    assert not widgets().browser_lang  # TORCHGROUND_LANG is a choice too


def test_an_observer_may_close_the_widget(widgets):
    w = widgets(dataset="circle")
    w.observe(lambda change: w.close() if change["new"] >= 2 else None, names="epoch")
    w.play()
    _wait_for(lambda: w.closed and not w._thread.is_alive(), "closing from an observer did not end the session")
    with pytest.raises(TorchgroundError, match="closed"):
        w.play()
