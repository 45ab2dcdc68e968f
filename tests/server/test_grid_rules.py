"""The grid's and the protocol's refusals: each in the session's language only, naming the
nested key or the equal values, a grid mixing problem kinds, a duplicate JSON key, and the
rule for the single model's messages while the grid is open (docs/serve-protocol.md)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.server.grid import GridRun
from torchground.server.grid_axes import grid_settings
from torchground.server.grid_mode import SINGLE_MODEL
from torchground.server.protocol import ProtocolError, parse_message
from torchground.server.session import Session
from torchground.server.urlstate import DEFAULT_SPEC, VIEW_OPTIONS
from torchground.spec import Spec

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(r"\b(number|integer|greater|between|allowed|at most|text)\b", re.IGNORECASE)


class Client:
    """A session driven directly, its answers collected as dicts."""

    def __init__(self, lang: str) -> None:
        self.out: list[dict[str, Any]] = []

        async def send(text: str) -> None:
            self.out.append(json.loads(text))

        self.session = Session(send, lang)

    async def ask(self, raw: str | None = None, **msg: Any) -> list[dict[str, Any]]:
        self.out.clear()
        await self.session.receive(raw if raw is not None else json.dumps(msg))
        return list(self.out)


def _one_language(message: str, lang: str) -> None:
    if lang == "en":
        assert not JAPANESE.search(message), message
    else:
        assert not ENGLISH_WORDS.search(message), message


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("field, value", [("lr", "abc"), ("init_seed", 1.5), ("noise", "x"), ("name", "\ud800")])
def test_a_spec_refusal_renders_its_allowed_part_in_the_language_asked_for(field: str, value: Any, lang: str) -> None:
    with pytest.raises(TorchgroundError) as info:
        Spec(**{field: value})
    message = info.value.message(lang)
    _one_language(message, lang)
    if field in ("lr", "init_seed"):
        assert t(f"spec.allowed.{field}", lang) in message


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_set_and_grid_refusals_in_a_session_come_in_its_language_only(lang: str) -> None:
    async def main() -> None:
        c = Client(lang)
        await c.ask(type="init", query="", lang=lang)
        for msg in ({"type": "set", "changes": {"lr": "abc"}}, {"type": "grid", "axes": [{"field": "lr", "values": "abc"}]},
                    {"type": "grid", "axes": [{"field": "init_seed", "values": "1.5"}]}):
            answers = await c.ask(**msg)
            assert [m["type"] for m in answers] == ["error"], answers
            _one_language(answers[0]["message"], lang)
        await c.session.close()

    asyncio.run(main())


def test_an_unknown_key_inside_an_axis_is_named_with_the_axis_keys() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_message(json.dumps({"type": "grid", "axes": [{"field": "lr", "values": "0.1", "extra": 1}]}))
    assert info.value.params["field"] == "axes[0].extra" and info.value.params["allowed"] == "field, values"
    with pytest.raises(ProtocolError) as info:
        parse_message(json.dumps({"type": "grid", "axes": [{"field": "lr", "values": "0.1"}, {"field": "lr"}]}))
    assert info.value.key == "server.field_missing" and info.value.params["field"] == "axes[1].values"
    with pytest.raises(ProtocolError) as info:  # top-level fields as before
        parse_message(json.dumps({"type": "fps", "value": 30, "extra": 1}))
    assert info.value.params["field"] == "extra" and info.value.params["allowed"] == "value"


@pytest.mark.parametrize("field, values", [("lr", "0.1, 0.10"), ("lr", "0.1, 1e-1"), ("init_seed", "1, 01"),
                                           ("hidden", "4,2 | 4, 2"), ("activation", "relu, ReLU")])
def test_equal_values_written_differently_are_refused_naming_both(field: str, values: str) -> None:
    with pytest.raises(TorchgroundError) as info:
        grid_settings(DEFAULT_SPEC, [(field, values)])
    first, second = (v.strip() for v in values.split("|" if field == "hidden" else ","))
    assert info.value.key == "grid.same_value"
    assert (info.value.params["first"].strip(), info.value.params["second"].strip()) == (first, second)
    shown, specs = grid_settings(DEFAULT_SPEC, [("lr", "0.1, 0.11")])  # close but different: kept
    assert [s.lr for s in specs] == [0.1, 0.11]


def test_a_grid_mixing_classification_and_regression_is_refused_and_one_of_regression_says_so() -> None:
    with pytest.raises(TorchgroundError) as info:
        GridRun(DEFAULT_SPEC, [("dataset", "circle, reg-plane")])
    assert info.value.key == "grid.mixed_problems"
    assert (info.value.params["classification"], info.value.params["regression"]) == ("circle", "reg-plane")
    for lang in ("en", "ja"):
        _one_language(info.value.message(lang), lang)
    run = GridRun(DEFAULT_SPEC, [("dataset", "reg-plane, reg-gauss")])  # the base spec is a classification
    assert run.problem == "regression" and run.state()["problem"] == "regression"


def test_a_key_given_twice_is_refused_at_parse() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_message('{"type": "play", "type": "pause"}')
    assert info.value.key == "protocol.duplicate_key" and info.value.params["name"] == '"type"'
    with pytest.raises(ProtocolError):  # nested objects too
        parse_message('{"type": "set", "changes": {"lr": 0.1, "lr": 0.2}}')


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_while_the_grid_is_open_the_single_models_changes_are_refused_and_the_rest_answered(lang: str) -> None:
    async def main() -> None:
        c = Client(lang)
        await c.ask(type="init", query="", lang=lang)
        answers = await c.ask(type="grid_close")  # no grid: nothing to do
        assert answers == [] and c.session.grid is None
        await c.ask(type="grid", axes=[{"field": "lr", "values": "0.03, 0.3"}])
        spec = c.session.spec
        refused = [{"type": kind} for kind in SINGLE_MODEL if kind != "edit"]
        refused += [{"type": "edit", "param": "layers.0.weight", "index": [0, 0], "value": 0.5},
                    {"type": "set", "changes": {"lr": 0.1, "lang": lang}}]
        for msg in refused:
            answers = await c.ask(**msg)
            assert [m["type"] for m in answers] == ["error"], (msg, answers)
            expected = (t("grid.open_set", lang, fields="lr", allowed=", ".join(VIEW_OPTIONS)) if msg["type"] == "set"
                        else t("grid.open_refused", lang, type=msg["type"]))
            assert answers[0]["message"] == expected
            assert c.session.grid is not None and c.session.spec == spec
        answers = await c.ask(type="set", changes={"discretize": "1"})  # view options: as always
        assert [m["type"] for m in answers] == ["grid_frame"]
        for kind, answer in (("code", "code"), ("link_of", "tf_link"), ("graph", "graph")):  # they read the waiting model
            assert [m["type"] for m in await c.ask(type=kind)] == [answer]
        assert c.session.grid is not None
        answers = await c.ask(type="grid_close")
        assert [m["type"] for m in answers] == ["state", "frame"] and c.session.grid is None
        answers = await c.ask(type="reinit")  # the single model again
        assert [m["type"] for m in answers] == ["state", "frame"]
        await c.session.close()

    asyncio.run(main())
