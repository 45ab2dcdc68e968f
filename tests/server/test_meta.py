"""``GET /api/meta``: the facts the page takes from the server instead of copying them, and
the optimiser settings the page sends as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from torchground.data.datasets import DATASETS, make_dataset
from torchground.errors import TorchgroundError
from torchground.server import create_app
from torchground.server.meta import THUMBNAIL_POINTS, THUMBNAIL_SEED, meta
from torchground.server.protocol import MAX_LAYERS
from torchground.server.session import LIVE_FIELDS
from torchground.server.urlstate import VIEW_DEFAULTS, VIEW_OPTIONS, set_changes
from torchground.spec import MAX_SEED, SPEC_FIELDS
from torchground.train import Trainer

TOKEN = "meta-token"
ORIGIN = {"origin": "http://testserver"}
WEB = Path(__file__).resolve().parents[2] / "src" / "torchground" / "web"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(TOKEN, lang="en"))


def test_meta_is_token_gated(client: TestClient) -> None:
    assert client.get("/api/meta").status_code == 403
    assert client.get("/api/meta?token=wrong").status_code == 403
    assert client.get(f"/api/meta?token={TOKEN}").status_code == 200


def test_meta_publishes_the_server_facts(client: TestClient) -> None:
    m = client.get(f"/api/meta?token={TOKEN}").json()
    assert m["live_fields"] == sorted(Trainer.LIVE_FIELDS) == sorted(LIVE_FIELDS)
    assert m["view_defaults"] == VIEW_DEFAULTS and tuple(m["view_defaults"]) == VIEW_OPTIONS
    assert m["caps"]["seed"] == MAX_SEED and m["caps"]["layers"] == MAX_LAYERS
    options = client.get(f"/api/options?token={TOKEN}").json()
    assert {k: m["caps"][k] for k in options["limits"]} == options["limits"]


def test_thumbnails_are_the_data_sets_own_points(client: TestClient) -> None:
    thumbnails = client.get(f"/api/meta?token={TOKEN}").json()["thumbnails"]
    assert set(thumbnails) == set(DATASETS)
    for name, points in thumbnails.items():
        ds = make_dataset(name, n_samples=THUMBNAIL_POINTS, noise=0, seed=THUMBNAIL_SEED)
        rows = np.array(points)  # (N, 3)
        assert rows.shape == (THUMBNAIL_POINTS, 3)
        np.testing.assert_allclose(rows[:, :2], ds.points, atol=0.005)
        np.testing.assert_allclose(rows[:, 2], ds.labels, atol=0.005)


def test_meta_answers_are_independent_copies() -> None:
    a = meta()
    a["view_defaults"]["lang"] = "xx"
    a["caps"]["seed"] = 0
    assert meta()["view_defaults"]["lang"] == "" and meta()["caps"]["seed"] == MAX_SEED


def test_page_holds_no_copy_of_the_facts() -> None:
    """The page's scripts take these from /api/meta: no list of live fields, no view
    defaults, no data generators, no parser of optimiser values of their own."""
    app = (WEB / "app.js").read_text(encoding="utf-8")
    state = (WEB / "state.js").read_text(encoding="utf-8")
    points = (WEB / "points.js").read_text(encoding="utf-8")
    controls = (WEB / "controls.js").read_text(encoding="utf-8")
    assert '"weight_decay", "optimizer_args"' not in app and "/api/meta" in app
    assert "VIEW_DEFAULTS" not in state and 'show_train: "1"' not in state
    assert "mulberry32" not in points and "Math.random" not in points and "gaussian" not in points
    assert "parseArg" not in controls and "Number(p)" not in controls


def test_set_changes_reads_optimizer_args_text() -> None:
    assert set_changes({"optimizer_args": "momentum=0.9;betas=0.9, 0.99;nesterov=true"}) == {
        "optimizer_args": {"momentum": 0.9, "betas": (0.9, 0.99), "nesterov": True}
    }
    assert set_changes({"optimizer_args": ""}) == {"optimizer_args": {}}
    assert set_changes({"optimizer_args": {"momentum": 0.5}, "lr": "0.1"}) == {"optimizer_args": {"momentum": 0.5}, "lr": "0.1"}
    with pytest.raises(TorchgroundError, match="optimizer_args"):
        set_changes({"optimizer_args": "momentum"})


def _ask(ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
    ws.send_text(json.dumps(msg))
    return ws.receive_json()


def test_a_session_takes_optimizer_args_as_text(client: TestClient) -> None:
    with client.websocket_connect(f"/ws?token={TOKEN}", headers=ORIGIN) as ws:
        query = "optimizer=sgd" + ("&training_loop=pytorch" if "training_loop" in SPEC_FIELDS else "")
        assert _ask(ws, {"type": "init", "query": query})["type"] == "state"
        ws.receive_json()  # its frame
        frame = _ask(ws, {"type": "set", "changes": {"optimizer_args": "momentum=0.9;nesterov=true"}})
        assert frame["type"] == "frame" and "optimizer_args=momentum%3D0.9;nesterov%3Dtrue" in frame["query"]
        error = _ask(ws, {"type": "set", "changes": {"optimizer_args": "momentum"}})
        assert error["type"] == "error" and "optimizer_args" in error["message"]
