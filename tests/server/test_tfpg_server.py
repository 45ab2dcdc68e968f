"""Server tests for TensorFlow Playground links: the link / link_of messages, the URL state
of a link's spec, regenerate with a seed text, and ``serve --open``'s URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from torchground.cli.serve_cmd import _link_query
from torchground.errors import TorchgroundError
from torchground.server import create_app
from torchground.server.urlstate import DEFAULT_SPEC, UrlState, parse_query, to_query
from torchground.train.tfpg_run import spec_from_link

TOKEN = "test-token"
ORIGIN = {"origin": "http://testserver"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"


def reference(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(TOKEN, lang="en"))


def send(ws: Any, msg: dict[str, Any]) -> None:
    ws.send_text(json.dumps(msg))


def open_session(client: TestClient, query: str = "") -> Any:
    ws = client.websocket_connect(f"/ws?token={TOKEN}", headers=ORIGIN)
    ws.__enter__()
    send(ws, {"type": "init", "query": query})
    assert ws.receive_json()["type"] == "state"
    assert ws.receive_json()["type"] == "frame"
    return ws


def test_the_page_starts_on_the_pytorch_loop() -> None:
    assert DEFAULT_SPEC.training_loop == "pytorch" and DEFAULT_SPEC.tf_playground_seed is None


def test_link_message_opens_tf_playgrounds_state_and_numbers(client: TestClient) -> None:
    ref = reference("default-circle")
    ws = open_session(client)
    try:
        send(ws, {"type": "link", "url": ref["url"]})
        state = ws.receive_json()
        assert state["type"] == "state"
        assert state["spec"]["training_loop"] == "tf-playground" and state["spec"]["tf_playground_seed"] == "0.80000"
        frame = ws.receive_json()
        assert frame["epoch"] == 0
        for part in ("train", "test"):  # the page's points are TensorFlow Playground's (rounded to 4 decimals)
            assert np.abs(np.asarray(state["data"][part]) - np.asarray(ref[part])).max() <= 5e-5
        for epoch in range(1, 4):
            send(ws, {"type": "step"})
            frame = ws.receive_json()
            while frame.get("epoch") != epoch:
                frame = ws.receive_json()
            want = ref["losses"][epoch - 1]
            assert abs(frame["metrics"]["train_loss"] - want[0]) <= 1e-12
            assert abs(frame["metrics"]["test_loss"] - want[1]) <= 1e-12
        send(ws, {"type": "link_of"})
        answer = ws.receive_json()
        assert answer == {"type": "tf_link", "url": ref["url"], "message": None}
    finally:
        ws.__exit__(None, None, None)


def test_link_without_seed_gets_a_notice(client: TestClient) -> None:
    ws = open_session(client)
    try:
        send(ws, {"type": "link", "url": "https://playground.tensorflow.org/#networkShape=3"})
        state = ws.receive_json()
        seed = state["spec"]["tf_playground_seed"]
        assert ws.receive_json()["type"] == "frame"
        notice = ws.receive_json()
        assert notice["type"] == "notice" and seed in notice["message"]
    finally:
        ws.__exit__(None, None, None)


def test_bad_link_is_an_error_and_the_session_lives_on(client: TestClient) -> None:
    ws = open_session(client)
    try:
        send(ws, {"type": "link", "url": "#speed=1"})
        error = ws.receive_json()
        assert error["type"] == "error" and "speed" in error["message"] and "batchSize" in error["message"]
        send(ws, {"type": "link", "url": "#networkShape=9&seed=1"})  # beyond the page's caps
        assert ws.receive_json()["type"] == "error"
        send(ws, {"type": "link_of"})
        answer = ws.receive_json()  # the default page spec: the PyTorch loop, torchground's data
        assert answer["type"] == "tf_link" and answer["url"] is None and "training_loop = pytorch" in answer["message"]
    finally:
        ws.__exit__(None, None, None)


def test_leaving_tf_playgrounds_loop_by_a_set(client: TestClient) -> None:
    ws = open_session(client)
    try:
        send(ws, {"type": "link", "url": "#seed=x"})
        ws.receive_json(), ws.receive_json()
        send(ws, {"type": "set", "changes": {"optimizer": "adam"}})
        error = ws.receive_json()
        assert error["type"] == "error" and "training_loop = tf-playground needs optimizer = sgd" in error["message"]
        send(ws, {"type": "set", "changes": {"optimizer": "adam", "training_loop": "pytorch"}})
        state = ws.receive_json()
        assert state["type"] == "state" and state["spec"]["training_loop"] == "pytorch"
    finally:
        ws.__exit__(None, None, None)


def test_regenerate_draws_a_fresh_seed_text(client: TestClient) -> None:
    ws = open_session(client)
    try:
        send(ws, {"type": "link", "url": "#seed=0.11111"})
        ws.receive_json(), ws.receive_json()
        send(ws, {"type": "regenerate"})
        state = ws.receive_json()
        seed = state["spec"]["tf_playground_seed"]
        assert seed != "0.11111" and len(seed) == 7
    finally:
        ws.__exit__(None, None, None)


def test_new_weights_are_tf_playgrounds_next_network(client: TestClient) -> None:
    ws = open_session(client)
    try:
        send(ws, {"type": "link", "url": reference("default-circle")["url"]})
        ws.receive_json()
        first = ws.receive_json()["params"]["layer1.weight"]
        assert first == reference("default-circle")["init"][0]["weight"]
        send(ws, {"type": "reinit"})
        state = ws.receive_json()
        assert state["spec"]["init_seed"] == 1 and state["spec"]["tf_playground_seed"] == "0.80000"
        assert ws.receive_json()["params"]["layer1.weight"] != first
    finally:
        ws.__exit__(None, None, None)


@pytest.mark.parametrize("name", ["default-circle", "reg-gauss-relu", "spiral-features-l1"])
def test_url_state_of_a_link_round_trips(name: str) -> None:
    url = reference(name)["url"]
    spec, _ = spec_from_link(url, device="cpu")
    state = UrlState(spec)
    query = to_query(state)
    assert "training_loop=tf-playground" in query
    assert parse_query(query) == state


def test_url_state_keeps_the_display_settings() -> None:
    spec, _ = spec_from_link("#showTestData=true&playButton_hide=true&seed=s", device="cpu")
    query = to_query(UrlState(spec))
    assert "tf_playground_view=" in query
    assert parse_query(query).spec.tf_playground_view == {"showTestData": "true", "playButton_hide": "true"}
    with pytest.raises(TorchgroundError, match="tf_playground_view"):
        parse_query("training_loop=tf-playground&tf_playground_seed=a&tf_playground_view=oops")


def test_serve_open_query_opens_the_link() -> None:
    url = reference("spiral-features-l1")["url"]
    query = _link_query(url)
    spec = parse_query(query).spec
    assert spec == spec_from_link(url, device="cpu")[0]
    with pytest.raises(TorchgroundError, match="speed"):
        _link_query("#speed=2")
