"""The notebook playground from Python (no browser): steps, history, model, links, traits, the
page's channel, and two widgets that train independently."""

from __future__ import annotations

import json
import time

import pytest
import torch

pytest.importorskip("anywidget")

from torchground.errors import SpecError, TorchgroundError  # noqa: E402
from torchground.notebook import Playground  # noqa: E402
from torchground.spec import Spec  # noqa: E402
from torchground.train import Trainer  # noqa: E402

LINK = ("https://playground.tensorflow.org/#activation=relu&batchSize=10&dataset=xor&regDataset=reg-plane&learningRate=0.03"
        "&regularizationRate=0&noise=0&networkShape=4,2&seed=0.12345&showTestData=false&discretize=false&percTrainData=50"
        "&x=true&y=true&xTimesY=false&xSquared=false&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false"
        "&collectStats=false&problem=classification&initZero=false&hideText=false&regularization=none")


def test_steps_train_as_the_trainer_does(widgets):
    spec = Spec(dataset="xor", hidden=(4,), lr=0.1)
    w = widgets(spec)
    w.step(3)
    trainer = Trainer(spec)
    rows = [trainer.run_epoch() for _ in range(3)]
    assert w.epoch == 3 and len(w.history) == 3
    assert [r["train_loss"] for r in w.history] == pytest.approx([r["train_loss"] for r in rows], abs=1e-7)
    assert w.metrics["train_loss"] == pytest.approx(rows[-1]["train_loss"], abs=1e-7)
    assert isinstance(w.model, torch.nn.Module)
    x = torch.zeros(1, 2)
    assert torch.allclose(w.model(x), trainer.model(x), atol=1e-6)  # the live model is the trained one


def test_keyword_settings_links_and_bad_values(widgets):
    w = widgets(dataset="spiral", hidden=(8, 8), activation="relu")
    assert (w.spec.dataset, w.spec.hidden, w.spec.activation) == ("spiral", (8, 8), "relu")
    linked = widgets(LINK)
    assert linked.spec.training_loop == "tf-playground" and linked.spec.dataset == "xor" and linked.spec.activation == "relu"
    with pytest.raises(SpecError):
        Playground(hidden=(3, 300))
    with pytest.raises(TorchgroundError, match="step"):
        w.step(0)


def test_settings_from_python_reach_the_page_and_the_traits(widgets):
    w = widgets()
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)  # what the page would receive
    seen: list[int] = []
    w.observe(lambda change: seen.append(change["new"]), names="epoch")
    w.set(lr=0.3, hidden=(5,))
    assert w.spec.lr == 0.3 and w.spec.hidden == (5,) and w.spec_fields["hidden"] == [5]
    kinds = [json.loads(m["text"])["type"] for m in sent if m["kind"] == "ws"]
    assert "state" in kinds and "frame" in kinds
    w.step(2)
    assert seen[-1] == 2
    w.reset()
    assert w.epoch == 0 and seen[-1] == 0


def test_the_page_drives_the_session_over_the_channel(widgets):
    w = widgets(dataset="gauss")
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)

    def wait_for(pred, what):
        deadline = time.monotonic() + 60
        while not pred():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    # the page starts with an empty address: it gets the widget's state, not the defaults
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "init", "query": "", "lang": "en"})}, [])
    wait_for(lambda: any(m["kind"] == "ws" and '"state"' in m["text"][:30] for m in sent), "no state")
    state = json.loads(next(m["text"] for m in sent if m["kind"] == "ws" and '"state"' in m["text"][:30]))
    assert state["spec"]["dataset"] == "gauss"
    # a setting changed in the page reaches Python
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "set", "changes": {"lr": 0.1}})}, [])
    wait_for(lambda: w.spec.lr == 0.1 and w.spec_fields["lr"] == 0.1, "the page's change did not arrive")
    # the page's /api requests are answered by the server's application
    w._from_page(w, {"kind": "fetch", "id": 7, "method": "GET", "path": "/api/i18n/ja"}, [])
    wait_for(lambda: any(m["kind"] == "fetch" for m in sent), "no fetch answer")
    answer = next(m for m in sent if m["kind"] == "fetch")
    assert answer["id"] == 7 and answer["status"] == 200 and json.loads(answer["body"])["web.data"] == "データ"
    # play from the page; closing the output pauses it
    w._from_page(w, {"kind": "ws", "text": json.dumps({"type": "play"})}, [])
    wait_for(lambda: w.epoch >= 2, "playing did not train")
    w._from_page(w, {"kind": "closed"}, [])
    wait_for(lambda: not w.running, "closing the output did not stop training")
    stopped = w.epoch
    time.sleep(0.5)
    assert w.epoch <= stopped + 1


def test_two_widgets_train_independently(widgets):
    a = widgets(dataset="circle", lr=0.1)
    b = widgets(dataset="xor", lr=0.01)
    a.play()
    b.step(2)
    deadline = time.monotonic() + 60
    while a.epoch < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    a.pause()
    assert b.epoch == 2 and b.spec.dataset == "xor" and a.spec.dataset == "circle"
    before = [r["train_loss"] for r in b.history]
    b.step(1)
    assert [r["train_loss"] for r in b.history][:2] == before and b.epoch == 3


def test_the_page_files_are_the_pages_own(widgets):
    from importlib import resources
    from pathlib import Path

    w = widgets()
    web = Path(str(resources.files("torchground"))) / "web"
    assert w.files["app.js"] == (web / "app.js").read_text(encoding="utf-8")
    assert "index.html" in w.files and "style.css" in w.files and "widget.js" not in w.files
    assert "class Net" in w.code


def test_mistakes_are_refused_clearly(widgets):
    w = widgets(dataset="xor")
    for bad in ({"lr": "x"}, {"nope": 1}, {"hidden": (300,)}):
        with pytest.raises(SpecError):
            w.set(**bad)
    assert w.spec.dataset == "xor" and w.spec.lr == Spec().lr
    with pytest.raises(TorchgroundError, match="Allowed: a Spec"):
        Playground(5)
    w.play()
    w.pause()
    assert not w.running
    w.close()
    with pytest.raises(TorchgroundError, match="closed"):
        w.step()
