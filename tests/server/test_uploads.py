"""POST /api/data and data files in sessions: the token, the caps, every CSV rule, one folder only."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from torchground.server.app import create_app
from torchground.server.frames import data_view, model_maps
from torchground.server.uploads import MAX_UPLOAD_BYTES, upload_dir
from torchground.server.urlstate import UrlState, parse_query, to_query
from torchground.spec import Spec
from torchground.model import build_model
from torchground.train import make_data

TOKEN = "upload-token"
ORIGIN = {"origin": "http://testserver"}
THREE = "x1,x2,label\n" + "".join(f"{300 + 5 * (i % 3) + (i % 4) * 0.1},{(i % 3 == 1) * 4 + (i % 5) * 0.1},{'pqr'[i % 3]}\n" for i in range(60))


def _client() -> TestClient:
    return TestClient(create_app(TOKEN, lang="en"))


def _session(client: TestClient, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``init`` then ``messages``; return every answer up to the last frame."""
    out = []
    with client.websocket_connect(f"/ws?token={TOKEN}", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "init", "query": "", "lang": "en"}))
        out += [ws.receive_json(), ws.receive_json()]
        for message in messages:
            ws.send_text(json.dumps(message))
            while True:
                answer = ws.receive_json()
                out.append(answer)
                if answer["type"] in ("frame", "error"):
                    break
    return out


def test_upload_needs_the_token_and_answers_the_fields() -> None:
    client = _client()
    assert client.post("/api/data", content=THREE.encode()).status_code == 403
    answer = client.post(f"/api/data?token={TOKEN}", content=THREE.encode())
    assert answer.status_code == 200
    changes = answer.json()["changes"]
    assert changes["classes"] == 3 and changes["class_names"] == ["p", "q", "r"] and changes["loss"] == "crossentropy"
    assert changes["batch_size"] == "full" and changes["data_file"].startswith(str(upload_dir()))


def test_bad_and_too_large_uploads_are_refused() -> None:
    client = _client()
    answer = client.post(f"/api/data?token={TOKEN}&lang=ja", content=b"x1,x2,label\n1,2,a\n3,4\n")
    assert answer.status_code == 400 and "3 行目" in answer.json()["error"]
    answer = client.post(f"/api/data?token={TOKEN}", content=b"x" * (MAX_UPLOAD_BYTES + 1))
    assert answer.status_code == 413
    answer = client.post(f"/api/data?token={TOKEN}", content="x1,x2,label\n".encode() + b"0,0,a\n1,1,b\n" * 1500)
    assert answer.status_code == 400 and "n_samples" in answer.json()["error"]  # the page's cap on points


def test_a_session_trains_an_upload_and_refuses_other_files(tmp_path) -> None:
    client = _client()
    changes = client.post(f"/api/data?token={TOKEN}", content=THREE.encode()).json()["changes"]
    answers = _session(client, [{"type": "set", "changes": changes}, {"type": "step"}])
    state = next(a for a in answers[2:] if a["type"] == "state")
    assert state["view"]["classes"] == 3 and state["view"]["class_names"] == ["p", "q", "r"]
    assert state["view"]["box"][0] < -1 and state["network"]["widths"][-1] == 3
    frame = answers[-1]
    assert frame["type"] == "frame" and "classes" in frame["output"] and frame["metrics"]["train_acc"] is not None
    classes = np.frombuffer(base64.b64decode(frame["output"]["classes"]), dtype=np.uint8)
    assert classes.size == frame["output"]["size"] ** 2 and classes.max() <= 2
    other = tmp_path / "elsewhere.csv"
    other.write_text(THREE, encoding="utf-8")
    answers = _session(client, [{"type": "set", "changes": {**changes, "data_file": str(other)}}])
    assert answers[-1]["type"] == "error" and "data_file" in answers[-1]["message"]


def test_url_state_keeps_a_data_file() -> None:
    changes = _client().post(f"/api/data?token={TOKEN}", content=THREE.encode()).json()["changes"]
    spec = parse_query("").spec.replace(**changes)
    query = to_query(UrlState(spec, (), {}))
    assert "data_sha256=" in query and "class_names=p,q,r" in query
    assert parse_query(query).spec == spec


def test_model_maps_of_k_classes_over_a_box() -> None:
    spec = Spec(dataset="blobs", classes=4, n_samples=80, device="cpu")
    output, neurons = model_maps(build_model(spec), spec.features, (-2.0, 2.0, -1.0, 1.0))
    assert "classes" in output and len(neurons) == len(spec.hidden)
    view = data_view(spec, make_data(spec))
    assert view["box"] == [-6.0, 6.0, -6.0, 6.0] and view["classes"] == 4
