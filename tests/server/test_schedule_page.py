"""The page's learning-rate schedule: offered by /api/options, set by a message, trained as the trainer trains it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from torchground.schedules import SCHEDULERS
from torchground.server import create_app
from torchground.server.security import COOKIE_NAME
from torchground.server.urlstate import DEFAULT_SPEC
from torchground.train import Trainer

TOKEN = "test-token"
WEB = Path(__file__).resolve().parents[2] / "src" / "torchground" / "web"


def test_options_offer_the_schedules() -> None:
    client = TestClient(create_app(TOKEN, lang="en"), cookies={COOKIE_NAME: TOKEN})
    options = client.get("/api/options").json()
    assert [s["name"] for s in options["schedulers"]] == ["none", *SCHEDULERS]
    assert "web.takeout_scheduler" in client.get("/api/i18n/ja").json()


def test_the_page_has_the_selector_and_sends_the_field() -> None:
    html = (WEB / "index.html").read_text(encoding="utf-8")
    assert 'data-testid="scheduler"' in html
    js = (WEB / "controls.js").read_text(encoding="utf-8")
    assert "set({ scheduler: e.target.value, scheduler_args: {} })" in js


def test_a_schedule_set_from_the_page_trains_as_the_trainer() -> None:
    client = TestClient(create_app(TOKEN, lang="en"))
    with client.websocket_connect(f"/ws?token={TOKEN}", headers={"origin": "http://testserver"}) as ws:
        ws.send_text(json.dumps({"type": "init", "query": ""}))
        assert ws.receive_json()["type"] == "state" and ws.receive_json()["type"] == "frame"
        ws.send_text(json.dumps({"type": "set", "changes": {"scheduler": "exponential", "scheduler_args": {}}}))
        messages = [ws.receive_json(), ws.receive_json()]
        assert [m["type"] for m in messages] == ["state", "frame"], messages
        frames = []
        for _ in range(3):
            ws.send_text(json.dumps({"type": "step"}))
            frames.append(ws.receive_json())
    trainer = Trainer(DEFAULT_SPEC.replace(scheduler="exponential"))
    rows = [trainer.run_epoch() for _ in range(3)]
    assert [f["metrics"]["lr"] for f in frames] == [r["lr"] for r in rows] == pytest.approx([0.03, 0.0285, 0.027075])
    assert frames[-1]["metrics"]["train_loss"] == pytest.approx(rows[-1]["train_loss"], rel=1e-6)
