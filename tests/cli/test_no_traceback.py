"""Tests for the promise "a clear message and exit 2, never a traceback" on hostile or unlucky
input: optimiser arguments torch would refuse only at its first step, configs nested too deep,
integers of more than 4300 digits, files that are not UTF-8, --out names too long, dangling
links or empty, a full disk; and the same inputs in WebSocket messages."""

from __future__ import annotations

import asyncio
import errno
import json
import os

import pytest

from torchground.cli import main
from torchground.errors import SpecError
from torchground.server.protocol import ProtocolError, parse_message
from torchground.server.session import Session
from torchground.spec import Spec


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err


@pytest.mark.parametrize("optimizer, args, named", [
    ("lbfgs", {"history_size": -1}, "history_size"),
    ("lbfgs", {"line_search_fn": "anything"}, "line_search_fn"),
    ("sgd", {"dampening": "x"}, "dampening"),
    ("asgd", {"alpha": 1e30}, "alpha"),
    ("rprop", {"step_sizes": 0}, "step_sizes"),
])
def test_optimiser_arguments_are_checked_before_any_step(optimizer, args, named):
    with pytest.raises(SpecError, match=named):
        Spec(optimizer=optimizer, optimizer_args=args)


def test_good_optimiser_arguments_still_pass():
    Spec(optimizer="sgd", optimizer_args={"momentum": 0.9, "dampening": 0.1})
    Spec(optimizer="lbfgs", optimizer_args={"line_search_fn": "strong_wolfe", "history_size": 5})


@pytest.mark.parametrize("name, text", [
    ("deep.toml", "a = " + "[" * 500 + "]" * 500 + "\n"),
    ("deep.json", "[" * 5000 + "]" * 5000),
    ("big.toml", "epochs = " + "9" * 5000 + "\n"),
    ("big.json", '{"epochs": ' + "9" * 5000 + "}"),
])
def test_hostile_configs_are_refused_cleanly(tmp_path, capsys, name, text):
    path = tmp_path / name
    path.write_text(text)
    code, err = run(capsys, "train", "--config", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and err.strip()
    assert not (tmp_path / "run").exists()


def test_a_config_that_is_not_utf8_is_refused(tmp_path, capsys):
    path = tmp_path / "latin.toml"
    path.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    code, err = run(capsys, "train", "--config", str(path))
    assert code == 2 and "UTF-8" in err


@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["graph"]])
def test_empty_out_is_refused(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, *command, "--out", "")
    assert code == 2 and "--out" in err and not list(tmp_path.iterdir())


def test_out_name_too_long_or_a_dangling_link_is_refused(tmp_path, capsys):
    code, _ = run(capsys, "train", "--epochs", "1", "--out", str(tmp_path / ("x" * 300)))
    assert code == 2
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")
    code, _ = run(capsys, "train", "--epochs", "1", "--out", str(tmp_path / "dangling"))
    assert code == 2 and not (tmp_path / "nowhere").exists()


def test_a_full_disk_is_a_message(tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[-1]))
    monkeypatch.setattr(os, "replace", full)  # every atomic write ends in os.replace
    code, err = run(capsys, "data", "circle", "--out", str(tmp_path / "points.csv"))
    assert code == 2 and os.strerror(errno.ENOSPC) in err


# ----------------------------------------------------------------------------- WebSocket messages
def test_messages_with_a_lone_surrogate_or_a_huge_integer_are_protocol_errors():
    with pytest.raises(ProtocolError):
        parse_message('{"type": "init", "query": "\\ud800"}')
    with pytest.raises(ProtocolError):
        parse_message('{"type": "fps", "value": ' + "9" * 5000 + "}")


def test_an_edit_of_1e308_in_the_url_is_an_error_not_an_internal_one():
    answers: list[dict] = []

    async def send(text: str) -> None:
        text.encode("utf-8")
        answers.append(json.loads(text))

    async def talk() -> None:
        session = Session(send)
        await session.receive(json.dumps({"type": "init", "query": "edits=layer1.weight:0:0:1e308"}))
        await session.close()

    asyncio.run(talk())
    assert answers[0]["type"] == "error" and "Internal" not in answers[0]["message"] and "1e+308" in answers[0]["message"]


# ----------------------------------------------------------------------------- found by bench/fuzz.py
@pytest.mark.parametrize("fields", [
    {"dataset": "\ud800"}, {"activation": "\ud800"}, {"features": ["\ud800"]}, {"optimizer_args": {"\ud800": 1}},
    {"epochs": 10**400}, {"noise": 10**400},
    {"optimizer": "lbfgs", "optimizer_args": {"history_size": 0}},
    {"optimizer": "lbfgs", "optimizer_args": {"max_iter": 2**63}},
    {"optimizer": "lbfgs", "optimizer_args": {"max_eval": 0}},
    {"optimizer": "sgd", "optimizer_args": {"maximize": 0}},
])
def test_fields_the_fuzz_found_are_spec_errors_with_printable_messages(fields):
    with pytest.raises(SpecError) as caught:
        Spec(**fields)
    caught.value.message("en").encode("utf-8")
    caught.value.message("ja").encode("utf-8")
