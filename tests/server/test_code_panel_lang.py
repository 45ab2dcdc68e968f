"""The page's language and its Code panel's comments follow the one language rule.

A session's language is the one its ``init`` (or the page's switch) names, else the
server's, which ``torchground serve`` takes from ``--lang``, ``TORCHGROUND_LANG`` or the
locale. The script is :func:`torchground.codegen.to_script` of the session's spec in that
language: Japanese and English differ only in comments and printed texts.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient

from code_texts import program
from torchground.codegen import to_script
from torchground.i18n import set_language
from torchground.server.app import create_app
from torchground.server.urlstate import parse_query

TOKEN = "code-lang-token"
ORIGIN = {"origin": "http://testserver"}
QUERY = "hidden=4,2&training_loop=pytorch"  # the curriculum's loop: the one code export writes


def _code(client: TestClient, init: dict[str, Any], changes: list[dict[str, Any]] = ()) -> str:
    with client.websocket_connect(f"/ws?token={TOKEN}", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"type": "init", "query": QUERY, **init}))
        assert ws.receive_json()["type"] == "state"
        assert ws.receive_json()["type"] == "frame"
        for change in changes:
            ws.send_text(json.dumps({"type": "set", "changes": change}))
        ws.send_text(json.dumps({"type": "code"}))
        for _ in range(10):  # a set is answered by a frame first
            message = ws.receive_json()
            assert message["type"] != "error", message
            if message["type"] == "code":
                return message["script"]
    raise AssertionError("no code message")


@pytest.mark.slow
def test_code_panel_follows_the_session_language() -> None:
    client = TestClient(create_app(TOKEN, lang="en"))
    spec = parse_query(QUERY).spec
    ja, en = _code(client, {"lang": "ja"}), _code(client, {"lang": "en"})
    assert ja == to_script(spec, "ja") and en == to_script(spec, "en")
    assert "# ---- 学習ループ" in ja and "# ---- Training loop" in en
    assert program(ja) == program(en)
    assert _code(client, {"lang": "en"}, [{"lang": "ja"}]) == ja  # the page's language switch


def test_code_panel_default_is_the_servers_language(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TORCHGROUND_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    set_language(None)  # as `torchground serve` without --lang in a Japanese locale
    client = TestClient(create_app(TOKEN))
    assert _code(client, {}) == to_script(parse_query(QUERY).spec, "ja")


def test_the_page_starts_in_the_language_serve_was_given() -> None:
    # serve --lang ja (or TORCHGROUND_LANG=ja): the page gets it in the cookie its i18n.js reads
    # before the browser's language; without one the cookie is cleared and the browser's counts
    page = TestClient(create_app(TOKEN, page_lang="ja")).get(f"/?token={TOKEN}")
    assert page.status_code == 200 and page.cookies.get("tg_lang") == "ja"
    plain = TestClient(create_app(TOKEN)).get(f"/?token={TOKEN}")
    assert "tg_lang" not in plain.cookies
    assert any(h.startswith("tg_lang=") and "Max-Age=0" in h for h in plain.headers.get_list("set-cookie"))
    script = (resources.files("torchground") / "web" / "i18n.js").read_text(encoding="utf-8")
    assert "tg_lang=(en|ja)" in script  # initialLang reads it, after the URL's language
