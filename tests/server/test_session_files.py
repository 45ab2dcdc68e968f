"""Saving and reopening a page session (``save`` / ``POST /api/session`` / ``open``): a session
saved after 3 epochs and reopened elsewhere trains on to the very numbers of 5 straight
epochs; bad and foreign files are refused with a clear message."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from torchground.i18n import t
from torchground.server import create_app
from torchground.errors import TorchgroundError
from torchground.server.protocol import check_caps
from torchground.server.bundles import MAX_BUNDLE_BYTES, read_bundle
from torchground.server.urlstate import DEFAULT_SPEC, UrlState, to_query

TOKEN = "test-token"
ORIGIN = {"origin": "http://testserver"}
SPEC = DEFAULT_SPEC.replace(optimizer="adam", lr=0.03, scheduler="exponential")
QUERY = to_query(UrlState(SPEC, (), {}))


def _client() -> TestClient:
    return TestClient(create_app(TOKEN, lang="en"))


def _ws(client: TestClient) -> Any:
    return client.websocket_connect(f"/ws?token={TOKEN}", headers=ORIGIN)


def _ask(ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
    ws.send_text(json.dumps(msg))
    return ws.receive_json()


def _init(ws: Any) -> None:
    assert _ask(ws, {"type": "init", "query": QUERY, "lang": "en"})["type"] == "state"
    assert ws.receive_json()["type"] == "frame"


def _step(ws: Any, n: int) -> dict[str, Any]:
    frame: dict[str, Any] = {}
    for _ in range(n):
        frame = _ask(ws, {"type": "step"})
        assert frame["type"] == "frame", frame
    return frame


def _post(client: TestClient, body: bytes, lang: str = "en") -> Any:
    return client.post(f"/api/session?token={TOKEN}&lang={lang}", content=body)


def test_saved_after_3_epochs_and_reopened_trains_on_as_5_straight() -> None:
    client = _client()
    with _ws(client) as ws:
        _init(ws)
        straight = _step(ws, 5)
    with _ws(client) as ws:
        _init(ws)
        at3 = _step(ws, 3)
        saved = _ask(ws, {"type": "save"})
    assert saved["type"] == "saved" and saved["name"].endswith(".tgsession") and "epoch3" in saved["name"]
    data = base64.b64decode(saved["bundle"])
    answer = _post(client, data)
    assert answer.status_code == 200, answer.text
    with _ws(client) as ws:
        _init(ws)  # a fresh session at epoch 0, then the file
        state = _ask(ws, {"type": "open", "id": answer.json()["id"]})
        assert state["type"] == "state" and state["query"] == QUERY
        opened = ws.receive_json()
        assert opened["epoch"] == 3 and opened["params"] == at3["params"] and opened["metrics"] == at3["metrics"]
        again = _step(ws, 2)
    assert again["epoch"] == straight["epoch"] == 5
    assert again["steps"] == straight["steps"]
    assert again["params"] == straight["params"]  # the very numbers, not merely close ones
    assert again["metrics"] == straight["metrics"]


def _bundle() -> bytes:
    client = _client()
    with _ws(client) as ws:
        _init(ws)
        _step(ws, 1)
        return base64.b64decode(_ask(ws, {"type": "save"})["bundle"])


def _refusal(data: bytes, lang: str = "en") -> str:
    answer = _post(_client(), data, lang)
    assert answer.status_code in (400, 413), answer.text
    return answer.json()["error"]


def _remade(data: bytes, meta: dict[str, str] | None = None, tensors: dict[str, torch.Tensor] | None = None) -> bytes:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return save_tensors(tensors if tensors is not None else load_tensors(data), metadata=meta if meta is not None else header["__metadata__"])


def test_bad_and_foreign_files_are_refused_clearly() -> None:
    good = _bundle()
    meta = json.loads(good[8 : 8 + int.from_bytes(good[:8], "little")])["__metadata__"]
    head = t("server.session.bad_file", "en", reason="").split("(")[0]
    # not safetensors at all: a zip, a pickle, nothing
    for junk in (b"PK\x03\x04" + b"\0" * 40, b"\x80\x04\x95" + b"x" * 30, b"", b"{}"):
        assert _refusal(junk).startswith(head)
    # a safetensors file without our metadata (foreign), or with an extra member
    assert "safetensors" in _refusal(save_tensors({"w": torch.zeros(2)}))
    assert "evil" in _refusal(_remade(good, {**meta, "evil": "1"}))
    # a session of another format; settings that do not match the checkpoint's spec
    session = json.loads(meta["torchground_session"])
    assert "format" in _refusal(_remade(good, {**meta, "torchground_session": json.dumps({**session, "format": 9})}))
    other = to_query(UrlState(SPEC.replace(hidden=(3,)), (), {}))
    mismatch = _refusal(_remade(good, {**meta, "torchground_session": json.dumps({**session, "query": other})}))
    assert t("server.session.spec_mismatch", "en") in mismatch
    # a spec over the page's caps is refused as an init would refuse it
    huge = to_query(UrlState(SPEC.replace(hidden=(8,) * 10), (), {}))
    with pytest.raises(TorchgroundError) as caps:
        check_caps(SPEC.replace(hidden=(8,) * 10))
    assert _refusal(_remade(good, {**meta, "torchground_session": json.dumps({**session, "query": huge})})) == caps.value.message("en")
    # a tensor missing or one too many
    tensors = load_tensors(good)
    fewer = dict(list(tensors.items())[1:])
    assert t("server.session.tensors", "en") in _refusal(_remade(good, tensors=fewer))
    assert t("server.session.tensors", "en") in _refusal(_remade(good, tensors={**tensors, "x": torch.zeros(1)}))
    # too big, in Japanese too
    assert _refusal(b"\0" * (MAX_BUNDLE_BYTES + 1), "ja") == t("server.session.too_big", "ja", size=MAX_BUNDLE_BYTES + 1, max=MAX_BUNDLE_BYTES)
    # the good one passes, and an unknown id is refused over the socket
    assert read_bundle(good).meta["epoch"] == 1
    client = _client()
    with _ws(client) as ws:
        _init(ws)
        error = _ask(ws, {"type": "open", "id": "0" * 64})
        assert error == {"type": "error", "message": t("server.session.unknown", "en")}
        assert _ask(ws, {"type": "open", "id": "../x"})["type"] == "error"


def test_wrong_shapes_are_refused_when_opened() -> None:
    good = _bundle()
    tensors = load_tensors(good)
    name = next(k for k in tensors if k.startswith("/model/"))
    shaped = _remade(good, tensors={**tensors, name: torch.zeros(tensors[name].numel() + 1)})
    client = _client()
    answer = _post(client, shaped)
    assert answer.status_code == 200  # the file is well-formed; its weights do not fit the network
    with _ws(client) as ws:
        _init(ws)
        error = _ask(ws, {"type": "open", "id": answer.json()["id"]})
        assert error["type"] == "error" and error["message"].startswith(t("server.session.does_not_fit", "en", detail="").split("(")[0])
        assert _ask(ws, {"type": "step"})["epoch"] == 1  # the session goes on as it was


def test_tf_playground_loop_is_not_saved() -> None:
    client = _client()
    query = to_query(UrlState(DEFAULT_SPEC.replace(training_loop="tf-playground"), (), {}))
    with _ws(client) as ws:
        assert _ask(ws, {"type": "init", "query": query, "lang": "ja"})["type"] == "state"
        ws.receive_json()
        _step(ws, 1)
        assert _ask(ws, {"type": "save"}) == {"type": "error", "message": t("server.session.not_checkpointable", "ja")}
