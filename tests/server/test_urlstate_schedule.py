"""A playground link with a schedule's settings: read, shown again in the page's query, exported the same."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from torchground.errors import TorchgroundError
from torchground.server import create_app
from torchground.server.urlstate import parse_query, set_changes, to_query

TOKEN = "test-token"
LINK = "scheduler=multistep&scheduler_args=milestones%3D2,4;gamma%3D0.5"


def test_scheduler_args_in_a_link_round_trip() -> None:
    state = parse_query("scheduler=multistep&scheduler_args=milestones=2,4;gamma=0.5")
    assert state.spec.scheduler == "multistep" and state.spec.scheduler_args == {"milestones": (2.0, 4.0), "gamma": 0.5}
    assert to_query(state) == LINK and parse_query(LINK) == state
    onecycle = parse_query("optimizer=adam&scheduler=onecycle&scheduler_args=max_lr=0.1;anneal_strategy=linear;three_phase=true")
    assert onecycle.spec.scheduler_args == {"max_lr": 0.1, "anneal_strategy": "linear", "three_phase": True}
    assert parse_query(to_query(onecycle)) == onecycle
    assert set_changes({"scheduler_args": "step_size=5"}) == {"scheduler_args": {"step_size": 5}}


def test_a_malformed_or_refused_schedule_in_a_link_is_named() -> None:
    with pytest.raises(TorchgroundError) as info:
        parse_query("scheduler=step&scheduler_args=step_size")
    assert info.value.key == "server.url.bad_sched" and "scheduler_args" in info.value.message("en")
    with pytest.raises(TorchgroundError) as info:
        parse_query("scheduler=step&scheduler_args=step_size=0")
    assert "step_size must be a whole number from 1" in info.value.message("en")


def test_the_page_loaded_with_the_link_shows_it_again() -> None:
    client = TestClient(create_app(TOKEN, lang="en"))
    with client.websocket_connect(f"/ws?token={TOKEN}", headers={"origin": "http://testserver"}) as ws:
        ws.send_text(json.dumps({"type": "init", "query": LINK}))
        state = ws.receive_json()
        assert state["type"] == "state", state
        assert state["query"] == LINK
        assert state["spec"]["scheduler_args"] == {"milestones": [2.0, 4.0], "gamma": 0.5}
