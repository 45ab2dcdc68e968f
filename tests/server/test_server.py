"""Tests for the browser playground's server (``torchground serve``, docs/serve-protocol.md).

HTTP and single sessions go through FastAPI's TestClient; the multi-session tests run one
real uvicorn server in a thread on a free port and talk to it with ``websockets``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from torchground.viz.boundary import boundary_grid
from torchground.i18n import catalogue, t
from torchground.server import create_app
from torchground.server.frames import decode_map, encode_map
from torchground.server.protocol import (
    MAX_BATCH, MAX_FPS, MAX_LAYERS, MAX_MESSAGE_BYTES, MAX_NEURONS, MAX_SAMPLES, MAX_SESSIONS, ProtocolError, parse_message,
)
from torchground.server.security import COOKIE_NAME, WS_FORBIDDEN, resolve_static
from torchground.server.urlstate import DEFAULT_SPEC, Edit, UrlState, parse_query, to_query
from torchground.errors import SpecError, TorchgroundError
from torchground.spec import Spec
from torchground.train import Trainer

TOKEN = "test-token"
ORIGIN = {"origin": "http://testserver"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    # Not entered as a context manager: then each WebSocket runs on its own event loop
    # thread, and a refused handshake cannot block the shared one.
    return TestClient(create_app(TOKEN, lang="en"))


def ws_connect(client: TestClient, query: str = f"?token={TOKEN}", headers: dict[str, str] | None = None) -> Any:
    return client.websocket_connect("/ws" + query, headers=ORIGIN if headers is None else headers)


def send(ws: Any, msg: dict[str, Any]) -> None:
    ws.send_text(json.dumps(msg))


def init(ws: Any, query: str = "", lang: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    send(ws, {"type": "init", "query": query, **({"lang": lang} if lang else {})})
    state = ws.receive_json()
    assert state["type"] == "state", state
    frame = ws.receive_json()
    assert frame["type"] == "frame", frame
    return state, frame


def ask(ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
    send(ws, msg)
    return ws.receive_json()


def run_epochs(spec: Spec, n: int) -> tuple[Trainer, list[dict[str, Any]]]:
    trainer = Trainer(spec)
    return trainer, [trainer.run_epoch() for _ in range(n)]


def close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol, atol=tol))


# ----------------------------------------------------------------------------- HTTP and token


def test_http_requires_the_token_and_sets_a_cookie() -> None:
    c = TestClient(create_app(TOKEN))
    assert c.get("/api/options").status_code == 403
    assert c.get("/api/options?token=wrong").status_code == 403
    assert c.get("/static/app.js").status_code == 403
    refused = c.get("/?token=nope")
    assert refused.status_code == 403 and refused.text.strip() == t("server.forbidden", "en")
    ok = c.get(f"/api/options?token={TOKEN}")
    assert ok.status_code == 200
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert ok.headers["referrer-policy"] == "no-referrer"
    fresh = TestClient(create_app(TOKEN), cookies={COOKIE_NAME: TOKEN})  # the cookie alone is enough
    assert fresh.get("/api/options").status_code == 200
    assert TestClient(create_app(TOKEN), cookies={COOKIE_NAME: "wrong"}).get("/api/options").status_code == 403


def test_api_options_and_i18n(client: TestClient) -> None:
    en = client.get(f"/api/options?token={TOKEN}").json()
    ja = client.get(f"/api/options?token={TOKEN}&lang=ja").json()
    assert en["limits"] == {"layers": MAX_LAYERS, "neurons": MAX_NEURONS, "batch_size": MAX_BATCH, "noise": 50,
                            "samples": MAX_SAMPLES, "fps": MAX_FPS, "message_bytes": MAX_MESSAGE_BYTES}
    assert "tanh" in [a["name"] for a in en["activations"]]
    assert [a["summary"] for a in en["activations"]] != [a["summary"] for a in ja["activations"]]
    sgd = next(o for o in en["optimizers"] if o["name"] == "sgd")
    assert sgd["params"]["momentum"] == 0
    assert {"name": "reg-plane", "problem": "regression"}.items() <= next(d for d in en["datasets"] if d["name"] == "reg-plane").items()
    assert [f["name"] for f in en["features"]][:2] == ["x1", "x2"] and en["features"][2]["label"] == "X₁²"
    assert en["learning_rates"][0] == 0.00001 and en["learning_rates"][-1] == 10 and en["regularization_rates"][0] == 0
    assert Spec.model_validate(en["defaults"]) == DEFAULT_SPEC
    assert client.get(f"/api/options?token={TOKEN}&lang=fr").status_code == 400
    texts = client.get(f"/api/i18n/ja?token={TOKEN}").json()
    assert all(k.startswith("web.") for k in texts) and texts == {k: v for k, v in catalogue("ja").items() if k.startswith("web.")}
    assert client.get(f"/api/i18n/fr?token={TOKEN}").status_code == 404


def test_static_files_only_from_the_web_folder(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "vendor").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>page</title>", encoding="utf-8")
    (web / "app.js").write_text("export const x = 1;", encoding="utf-8")
    (web / "vendor" / "lib.js").write_text("// lib", encoding="utf-8")
    (web / ".hidden").write_text("hidden", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    (web / "link.txt").symlink_to(tmp_path / "secret.txt")
    c = TestClient(create_app(TOKEN, web_dir=web), cookies={COOKIE_NAME: TOKEN})
    assert c.get("/").text.startswith("<!doctype html>")
    js = c.get("/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert c.get("/static/vendor/lib.js").status_code == 200
    for path in ("/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt", "/static/vendor/%2e%2e/%2e%2e/secret.txt",
                 "/static/%2fetc%2fpasswd", "/static/.hidden", "/static/link.txt", "/static/vendor", "/static/",
                 "/static/..%5csecret.txt", "/static/missing.js"):
        r = c.get(path)
        assert r.status_code == 404 and "secret" not in r.text.replace("secret.txt", ""), path
    assert resolve_static(web, "../secret.txt") is None and resolve_static(web, "/etc/passwd") is None
    assert resolve_static(web, "app.js") == (web / "app.js").resolve()
    missing = TestClient(create_app(TOKEN, web_dir=tmp_path / "nothing"), cookies={COOKIE_NAME: TOKEN})
    assert missing.get("/").status_code == 404 and missing.get("/static/app.js").status_code == 404


# ----------------------------------------------------------------------------- WebSocket gate


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", ORIGIN),  # no token
        ("?token=wrong", ORIGIN),
        (f"?token={TOKEN}", {"origin": "http://evil.example"}),
        (f"?token={TOKEN}", {"origin": "http://testserver.evil.example"}),
        (f"?token={TOKEN}", {}),  # no Origin
    ],
)
def test_websocket_refused_without_token_or_with_a_foreign_origin(query: str, headers: dict[str, str]) -> None:
    fresh = TestClient(create_app(TOKEN))  # no cookie from earlier requests
    with pytest.raises(WebSocketDisconnect) as exc:
        with ws_connect(fresh, query, headers) as ws:
            ws.receive_json()
    assert exc.value.code == WS_FORBIDDEN


def test_websocket_with_cookie_and_own_origin_works() -> None:
    c = TestClient(create_app(TOKEN), cookies={COOKIE_NAME: TOKEN})
    with ws_connect(c, "") as ws:
        state, frame = init(ws)
        assert frame["epoch"] == 0


# ----------------------------------------------------------------------------- messages


def test_bad_messages_get_error_frames_and_the_session_lives_on(client: TestClient) -> None:
    with ws_connect(client) as ws:
        send(ws, {"type": "fps", "value": 30})  # a setting: fine before init, no answer
        assert "init" in ask(ws, {"type": "step"})["message"]  # nothing to step before init
        init(ws)
        bad = ["{not json", json.dumps({"type": "fly"}), json.dumps({"kind": "step"}), "[1, 2]",
               json.dumps({"type": "fps", "value": "fast"}), json.dumps({"type": "edit", "param": "layer1.weight", "index": [0, 0]}),
               json.dumps({"type": "edit", "param": "layer1.weight", "index": ["a"], "value": 1}),
               json.dumps({"type": "step", "extra": 1}), json.dumps({"type": "set", "changes": [1]}),
               json.dumps({"type": "pause", "pad": "x" * (100 * 1024)})]
        for text in bad:
            ws.send_text(text)
            answer = ws.receive_json()
            assert answer["type"] == "error" and answer["message"], text[:40]
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_json()["type"] == "error"
        frame = ask(ws, {"type": "step"})
        assert frame["type"] == "frame" and frame["epoch"] == 1


def test_protocol_messages_name_what_is_allowed() -> None:
    with pytest.raises(ProtocolError, match="Allowed types: init, set"):
        parse_message('{"type": "fly"}')
    with pytest.raises(ProtocolError, match=f"at most {MAX_MESSAGE_BYTES} bytes"):
        parse_message('{"type": "step", "x": "' + "a" * MAX_MESSAGE_BYTES + '"}')
    with pytest.raises(ProtocolError, match="an integer from 1 to 120"):
        parse_message('{"type": "fps", "value": 500}')
    with pytest.raises(ProtocolError, match="field value is missing"):
        parse_message('{"type": "fps"}')
    assert parse_message('{"type": "edit", "param": "layer1.bias", "index": [1], "value": 2}').value == 2.0


# ----------------------------------------------------------------------------- init and frames


def test_init_sends_state_and_frame_with_the_documented_shapes(client: TestClient) -> None:
    with ws_connect(client) as ws:
        state, frame = init(ws)
    spec = Spec.model_validate(state["spec"])
    assert spec == DEFAULT_SPEC and state["query"] == ""
    assert state["network"] == {"features": ["x1", "x2"], "widths": [4, 2, 1]}
    trainer = Trainer(spec)
    assert len(state["data"]["train"]) == trainer.data.train.n and len(state["data"]["test"]) == trainer.data.test.n
    assert state["data"]["val"] == [] and len(state["data"]["train"][0]) == 3
    assert np.allclose(state["data"]["train"], np.column_stack([trainer.data.train.points, trainer.data.train.labels]), atol=1e-4)
    assert set(state["feature_maps"]) >= {"x1", "x2", "x1sq", "sinx2"}
    x1 = decode_map(state["feature_maps"]["x1"])
    assert x1.shape == (40, 40) and x1[0, 0] == -1.0 and x1[0, -1] == 1.0  # clipped x1 at the left / right edge
    x2 = decode_map(state["feature_maps"]["x2"])
    assert x2[0, 0] == 1.0 and x2[-1, 0] == -1.0  # row 0 is the top, y = +6

    assert frame["epoch"] == 0 and frame["running"] is False and frame["grads"] is None
    assert set(frame["params"]) == {n for n, _ in trainer.model.named_parameters()}
    for name, p in trainer.model.named_parameters():
        assert close(frame["params"][name], p.detach().tolist())
    assert frame["metrics"]["epoch"] == 0 and frame["metrics"]["val_loss"] is None
    assert frame["metrics"]["train_loss"] == pytest.approx(trainer.valid_step(*trainer.sets["train"])["loss"])
    assert [len(layer) for layer in frame["neurons"]] == [4, 2]
    assert all(decode_map(m).shape == (40, 40) for layer in frame["neurons"] for m in layer)
    out = decode_map(frame["output"])
    assert out.shape == (100, 100)
    grid = boundary_grid(trainer.model, spec.features, resolution=100)["output"]
    assert np.abs(out - np.clip(grid[::-1], -1, 1)).max() <= 1 / 127
    with torch.no_grad():  # a few points, straight from the model: (row, col) → (x, y)
        for (i, j) in [(0, 0), (0, 99), (99, 0), (50, 30), (12, 77)]:
            x, y = -6 + 12 * j / 99, 6 - 12 * i / 99
            value = float(trainer.model(torch.tensor([[x, y]], dtype=torch.float32)))
            assert abs(out[i, j] - max(-1.0, min(1.0, value))) <= 1 / 127
    neuron = decode_map(frame["neurons"][0][1])
    small = boundary_grid(trainer.model, spec.features, resolution=40)["neurons"][0][1]
    assert np.abs(neuron - np.clip(small[::-1], -1, 1)).max() <= 1 / 127


def test_map_encoding_round_trip() -> None:
    values = np.linspace(-1.5, 1.5, 36).reshape(6, 6)
    decoded = decode_map(encode_map(values))
    assert np.abs(decoded - np.clip(values, -1, 1)[::-1]).max() <= 0.5 / 127.5 + 1e-12
    assert encode_map(np.array([[np.nan, np.inf], [-np.inf, 0.0]]))["size"] == 2


def test_step_matches_the_trainer(client: TestClient) -> None:
    query = "dataset=xor&noise=10&hidden=3&seed=2&init_seed=5&batch_size=7"
    with ws_connect(client) as ws:
        state, _ = init(ws, query)
        frames = [ask(ws, {"type": "step"}) for _ in range(2)]
    spec = parse_query(query).spec
    trainer, rows = run_epochs(spec, 2)
    assert [f["epoch"] for f in frames] == [1, 2]
    for frame, row in zip(frames, rows):
        assert frame["metrics"].keys() == row.keys()
        for key, value in row.items():
            assert frame["metrics"][key] == (None if value is None else pytest.approx(value, rel=1e-6)), key
    for name, p in trainer.model.named_parameters():
        assert close(frames[-1]["params"][name], p.detach().tolist())
        assert close(frames[-1]["grads"][name], p.grad.tolist())
    assert frames[0]["running"] is False


def test_set_lr_applies_live_and_keeps_the_weights(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws)
        before = ask(ws, {"type": "step"})
        after = ask(ws, {"type": "set", "changes": {"lr": 0.3}})
        assert after["type"] == "frame" and after["epoch"] == 1 and after["params"] == before["params"]
        assert "lr=0.3" in after["query"]
        nxt = ask(ws, {"type": "step"})
        assert nxt["epoch"] == 2 and nxt["metrics"]["lr"] == 0.3
        live = ask(ws, {"type": "set", "changes": {"l2": 0.01, "optimizer_args": {"momentum": 0.9}}})
        assert live["type"] == "frame" and live["epoch"] == 2 and live["params"] == nxt["params"]
        assert ask(ws, {"type": "step"})["epoch"] == 3
    # The same numbers as a trainer whose lr changes after epoch 1.
    trainer = Trainer(DEFAULT_SPEC)
    trainer.run_epoch()
    for group in trainer.optimizer.param_groups:
        group["lr"] = 0.3
    trainer.spec = DEFAULT_SPEC.replace(lr=0.3)
    row = trainer.run_epoch()
    assert nxt["metrics"]["train_loss"] == pytest.approx(row["train_loss"], rel=1e-6)


def test_set_hidden_rebuilds_at_epoch_zero(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws)
        ask(ws, {"type": "step"})
        send(ws, {"type": "set", "changes": {"hidden": [5, 3, 2]}})
        state, frame = ws.receive_json(), ws.receive_json()
    assert state["type"] == "state" and state["network"]["widths"] == [5, 3, 2, 1] and "hidden=5,3,2" in state["query"]
    assert frame["epoch"] == 0 and frame["grads"] is None and [len(l) for l in frame["neurons"]] == [5, 3, 2]
    fresh = Trainer(DEFAULT_SPEC.replace(hidden=(5, 3, 2)))
    assert close(frame["params"]["layer1.weight"], fresh.model.layer1.weight.tolist())


def test_reset_reinit_and_regenerate(client: TestClient) -> None:
    with ws_connect(client) as ws:
        state0, frame0 = init(ws)
        ask(ws, {"type": "step"})
        reset = ask(ws, {"type": "reset"})
        assert reset["type"] == "frame" and reset["epoch"] == 0 and reset["params"] == frame0["params"]
        send(ws, {"type": "reinit"})
        state1, reinit = ws.receive_json(), ws.receive_json()
        assert state1["spec"]["init_seed"] == state0["spec"]["init_seed"] + 1 and "init_seed=1" in state1["query"]
        assert reinit["epoch"] == 0 and reinit["params"]["layer1.weight"] != frame0["params"]["layer1.weight"]
        assert state1["data"] == state0["data"]
        send(ws, {"type": "regenerate"})
        state2, regen = ws.receive_json(), ws.receive_json()
        assert state2["spec"]["seed"] == state0["spec"]["seed"] + 1 and state2["data"]["train"] != state0["data"]["train"]
        assert regen["params"] == reinit["params"]  # same init_seed: same weights, new data


def test_edit_changes_exactly_that_weight(client: TestClient) -> None:
    with ws_connect(client) as ws:
        _, frame0 = init(ws)
        frame = ask(ws, {"type": "edit", "param": "layer1.weight", "index": [2, 1], "value": 0.5})
        bias = ask(ws, {"type": "edit", "param": "layer2.bias", "index": [1], "value": -0.25})
        bad_param = ask(ws, {"type": "edit", "param": "layer9.weight", "index": [0, 0], "value": 1})
        bad_index = ask(ws, {"type": "edit", "param": "layer1.weight", "index": [4, 0], "value": 1})
        reset = ask(ws, {"type": "reset"})
    expected = json.loads(json.dumps(frame0["params"]))
    expected["layer1.weight"][2][1] = 0.5
    assert frame["params"] == expected
    assert bias["params"]["layer2.bias"][1] == -0.25 and bias["params"]["layer2.bias"][0] == frame0["params"]["layer2.bias"][0]
    assert "edits=layer1.weight:2:1:0.5;layer2.bias:1:-0.25" in bias["query"]
    assert bad_param["type"] == "error" and "layer1.weight" in bad_param["message"]
    assert bad_index["type"] == "error" and "4×2" in bad_index["message"]
    assert reset["params"] == bias["params"]  # reset goes back to the initial weights with the URL's edits
    with ws_connect(client) as ws:  # the edits in the URL restore the same weights
        _, again = init(ws, bias["query"])
    assert again["params"] == bias["params"]


def test_code_and_graph(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws, "hidden=3")
        code = ask(ws, {"type": "code"})
        graph = ask(ws, {"type": "graph"})
        frame = ask(ws, {"type": "step"})  # the graph's backward pass leaves training alone
    assert code["type"] == "code" and "nn.Module" in code["script"] and "import torchground" not in code["script"]
    assert graph["type"] == "graph" and graph["dot"].startswith("digraph")
    for name in ("layer1.weight", "layer1.bias", "layer_out.weight"):
        assert name in graph["dot"]
    labels = {n["label"] for n in graph["graph"]["nodes"]}
    assert {"layer1.weight", "loss"} <= labels
    _, rows = run_epochs(parse_query("hidden=3").spec, 1)
    assert frame["metrics"]["train_loss"] == pytest.approx(rows[0]["train_loss"], rel=1e-6)


def test_divergence_pauses_with_the_catalogue_message(client: TestClient) -> None:
    with ws_connect(client) as ws:
        _, frame0 = init(ws, "dataset=reg-plane&output_activation=identity&lr=10", lang="ja")
        send(ws, {"type": "play"})
        messages = []
        while True:  # frames until the diverged message, then the paused frame
            msg = ws.receive_json()
            messages.append(msg)
            if msg["type"] == "frame" and not msg["running"]:
                break
        after = ask(ws, {"type": "step"})  # still usable
    diverged = [m for m in messages if m["type"] == "diverged"]
    assert len(diverged) == 1 and "発散" in diverged[0]["message"] and "lr = 10" in diverged[0]["message"]
    last = messages[-1]
    assert messages[-2]["type"] == "diverged"
    assert all(np.isfinite(np.asarray(v, dtype=float)).all() for v in last["params"].values())
    assert after["type"] in ("frame", "diverged")


def test_play_then_pause(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws)
        send(ws, {"type": "fps", "value": MAX_FPS})
        send(ws, {"type": "play"})
        playing = [ws.receive_json() for _ in range(4)]
        send(ws, {"type": "pause"})
        rest = []
        while True:
            msg = ws.receive_json()
            rest.append(msg)
            if not msg["running"]:
                break
        epochs = [f["epoch"] for f in playing + rest]
        assert all(f["type"] == "frame" for f in playing + rest)
        assert all(f["running"] for f in playing)
        assert epochs == sorted(epochs) and epochs[:4] == [1, 2, 3, 4]
        assert ask(ws, {"type": "step"})["epoch"] == epochs[-1] + 1  # nothing left running


def test_caps_are_refused(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws)
        for changes, field in [({"hidden": [2] * (MAX_LAYERS + 1)}, "hidden"), ({"hidden": [MAX_NEURONS + 1]}, "hidden"),
                               ({"n_samples": MAX_SAMPLES + 1}, "n_samples"), ({"batch_size": MAX_BATCH + 1}, "batch_size")]:
            answer = ask(ws, {"type": "set", "changes": changes})
            assert answer["type"] == "error" and answer["message"].startswith(field), answer
        fps = ask(ws, {"type": "fps", "value": 500})
        assert fps["type"] == "error" and "120" in fps["message"]
        bad_spec = ask(ws, {"type": "set", "changes": {"lr": -1}})
        assert bad_spec["type"] == "error" and bad_spec["message"].startswith("lr = -1")
        ok = ask(ws, {"type": "set", "changes": {"hidden": [MAX_NEURONS] * MAX_LAYERS, "batch_size": "full"}})
        assert ok["type"] == "state" and ws.receive_json()["type"] == "frame"
        assert ask(ws, {"type": "init", "query": "hidden=9"})["type"] == "error"


def test_errors_follow_the_session_language(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws, lang="ja")
        spec_error = ask(ws, {"type": "set", "changes": {"lr": 0}})
        protocol_error = ask(ws, {"type": "fps", "value": 0})
        send(ws, {"type": "set", "changes": {"lang": "en"}})
        assert ws.receive_json()["type"] == "frame"
        english = ask(ws, {"type": "fps", "value": 0})
    assert spec_error["message"] == SpecError("spec.invalid", field="lr", value=0.0, allowed=t("spec.allowed.range_open", "ja", low=0, high=100)).message("ja")
    assert "使えません" in protocol_error["message"] and "not allowed" in english["message"]


# ----------------------------------------------------------------------------- URL state


@pytest.mark.parametrize(
    "state",
    [
        UrlState(),
        UrlState(DEFAULT_SPEC.replace(dataset="reg-gauss", noise=15.0, hidden=(), features=("x1", "sinx2"), lr=0.003)),
        UrlState(DEFAULT_SPEC.replace(dataset="reg-plane", n_samples=500, optimizer="adam", optimizer_args={"betas": (0.8, 0.99), "amsgrad": True})),
        UrlState(DEFAULT_SPEC.replace(optimizer="sgd", optimizer_args={"momentum": 0.9, "nesterov": True}, l1=0.001, batch_size="full",
                                      train_pct=70, val_pct=10, test_pct=20, patience=5, shuffle=True, seed=7, init_seed=3)),
        UrlState(DEFAULT_SPEC.replace(activation="relu", init="xavier", loss="mse", weight_decay=0.01, dtype="float64"),
                 (Edit("layer1.weight", (0, 1), 0.1), Edit("layer_out.bias", (0,), -2.5)),
                 {"discretize": True, "show_test": False, "lang": "ja", "tab": "code"}),
    ],
)
def test_url_state_round_trip(state: UrlState) -> None:
    query = to_query(state)
    assert parse_query(query) == state
    assert parse_query("?token=abc&" + query) == state  # the token is not state


def test_url_state_reads_cli_text_forms_and_refuses_bad_values() -> None:
    state = parse_query("dataset=spiral&hidden=8,8&features=x1,x2,x1x2&batch_size=full&shuffle=true"
                        "&optimizer_args=momentum%3D0.9&edits=layer2.bias:0:1e-1;layer1.weight:0:0:2&show_test=1")
    assert state.spec.hidden == (8, 8) and state.spec.batch_size == "full" and state.spec.shuffle is True
    assert state.spec.optimizer_args == {"momentum": 0.9} and state.view == {"show_test": True}
    assert state.edits == (Edit("layer2.bias", (0,), 0.1), Edit("layer1.weight", (0, 0), 2.0))
    assert "dataset=spiral" in to_query(state) and "edits=layer2.bias:0:0.1;layer1.weight:0:0:2" in to_query(state)
    with pytest.raises(SpecError, match="lr"):
        parse_query("lr=fast")
    with pytest.raises(SpecError, match="dataset"):
        parse_query("dataset=moons")
    for bad, words in [("colour=red", "Unknown URL parameter colour"), ("lr=0.1&lr=0.2", "more than once"),
                       ("edits=layer1.weight:0:x", "edits"), ("edits=layer1.weight:0:0:nan", "edits"),
                       ("optimizer_args=momentum", "optimizer_args"), ("discretize=maybe", "discretize"), ("lang=fr", "lang")]:
        with pytest.raises(TorchgroundError, match=words):
            parse_query(bad)


# ----------------------------------------------------------------------------- a real server


@pytest.fixture(scope="module")
def live_server() -> Iterator[tuple[int, Any]]:
    app = create_app(TOKEN, lang="en")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws_max_size=1 << 20))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started
    yield port, app
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def live_connect(port: int) -> Any:
    return connect(f"ws://127.0.0.1:{port}/ws?token={TOKEN}", origin=f"http://127.0.0.1:{port}", max_size=1 << 22, open_timeout=10)


def live_ask(ws: Any, msg: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(msg))
    return json.loads(ws.recv(timeout=30))


def wait_for_free_slots(app: Any, count: int) -> None:
    for _ in range(1000):  # the server notices closed sockets asynchronously
        if app.state.slots.count <= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{app.state.slots.count} sessions still open")


def test_real_server_refuses_a_foreign_origin(live_server: tuple[int, Any]) -> None:
    port, _ = live_server
    with pytest.raises(Exception):
        with connect(f"ws://127.0.0.1:{port}/ws?token={TOKEN}", origin="http://evil.example", open_timeout=10) as ws:
            ws.recv(timeout=5)


@pytest.mark.slow
def test_many_sessions_train_independently(live_server: tuple[int, Any]) -> None:
    port, app = live_server
    wait_for_free_slots(app, 0)
    n, steps = 8, 3
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            with live_connect(port) as ws:
                ws.send(json.dumps({"type": "init", "query": f"init_seed={i}&hidden={i % 3 + 1},2"}))
                assert json.loads(ws.recv(timeout=30))["type"] == "state"
                assert json.loads(ws.recv(timeout=30))["type"] == "frame"
                results[i] = [live_ask(ws, {"type": "step"}) for _ in range(steps)]
        except BaseException as exc:  # reported below, from the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    for i in range(n):
        frames = results[i]
        assert [f["epoch"] for f in frames] == [1, 2, 3]
        trainer, rows = run_epochs(parse_query(f"init_seed={i}&hidden={i % 3 + 1},2").spec, steps)
        assert frames[-1]["metrics"]["train_loss"] == pytest.approx(rows[-1]["train_loss"], rel=1e-6)
        for name, p in trainer.model.named_parameters():
            assert close(frames[-1]["params"][name], p.detach().tolist())


def test_one_session_over_the_cap_is_refused(live_server: tuple[int, Any]) -> None:
    port, app = live_server
    wait_for_free_slots(app, 0)
    open_sockets = [live_connect(port) for _ in range(MAX_SESSIONS)]
    try:
        wait_for_free_slots(app, MAX_SESSIONS)
        for _ in range(1000):
            if app.state.slots.count == MAX_SESSIONS:
                break
            time.sleep(0.01)
        with live_connect(port) as extra:
            refusal = json.loads(extra.recv(timeout=10))
            assert refusal["type"] == "error" and str(MAX_SESSIONS) in refusal["message"]
            with pytest.raises(ConnectionClosed) as closed:
                extra.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        open_sockets.pop().close()
        wait_for_free_slots(app, MAX_SESSIONS - 1)
        with live_connect(port) as again:  # a slot was freed
            assert live_ask(again, {"type": "init", "query": ""})["type"] == "state"
    finally:
        for ws in open_sockets:
            ws.close()


# ----------------------------------------------------------------------------- the command


@pytest.mark.slow
def test_serve_command_prints_the_url_and_runs_uvicorn(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from torchground.cli import main, serve_cmd

    calls: dict[str, Any] = {}
    def fake_run(self: Any, sockets: list[socket.socket] | None = None) -> None:
        calls.update(config=self.config, port=sockets[0].getsockname()[1] if sockets else None)

    monkeypatch.setattr(serve_cmd.uvicorn.Server, "run", fake_run)
    monkeypatch.setattr(serve_cmd.webbrowser, "open", lambda url: calls.update(opened=url))
    assert main(["serve", "--port", "0"]) == 0
    out, err = capsys.readouterr()
    port = calls["port"]
    url = calls["opened"]
    assert url.startswith(f"http://127.0.0.1:{port}/?token=") and url in out and "Warning" not in err
    token = url.split("token=")[1]
    assert len(token) >= 30
    assert calls["config"].ws_max_size == serve_cmd.WS_MAX_SIZE
    app_client = TestClient(calls["config"].app, base_url=f"http://127.0.0.1:{port}")  # the Host header must name the server
    assert app_client.get("/api/options").status_code == 403 and app_client.get(f"/api/options?token={token}").status_code == 200
    assert TestClient(calls["config"].app).get(f"/api/options?token={token}").status_code == 400  # Host: testserver

    calls.clear()
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--no-open", "--lang", "ja"]) == 0
    out, err = capsys.readouterr()
    assert "opened" not in calls and "警告" in err and "0.0.0.0" in err and "http://127.0.0.1:" in out
    assert main(["serve", "--port", "70000", "--no-open"]) == 2
    assert "70000" in capsys.readouterr().err


def test_options_say_which_optimizers_take_weight_decay():
    from torchground.server.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app("tok"))
    options = client.get("/api/options?token=tok").json()
    decay = {o["name"]: o["weight_decay"] for o in options["optimizers"]}
    assert decay["sgd"] is True and decay["rprop"] is False and decay["lbfgs"] is False


@pytest.mark.slow
def test_lbfgs_settings_that_make_endless_steps_are_capped():
    from torchground.errors import SpecError
    from torchground.server.protocol import check_caps

    with pytest.raises(SpecError) as info:
        check_caps(Spec(optimizer="lbfgs", batch_size="full", optimizer_args={"max_iter": 10**9}))
    assert "max_iter" in info.value.message()
    check_caps(Spec(optimizer="lbfgs", batch_size="full", optimizer_args={"max_iter": 20}))


def test_an_edit_after_steps_of_a_diverged_first_epoch_stays_out_of_the_url(client: TestClient) -> None:
    with ws_connect(client) as ws:
        init(ws, "dataset=reg-plane&lr=100&activation=relu&hidden=8,8,8&output_activation=identity")
        send(ws, {"type": "step"})
        answers = [ws.receive_json()]
        while answers[-1]["type"] != "frame":
            answers.append(ws.receive_json())
        assert any(a["type"] == "diverged" for a in answers)
        assert answers[-1]["epoch"] == 0  # no epoch finished, but steps were taken
        frame = ask(ws, {"type": "edit", "param": "layer1.bias", "index": [0], "value": 0.5})
    assert frame["type"] == "frame" and "edits=" not in frame["query"]
