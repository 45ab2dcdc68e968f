"""Fuzz targets and their input strategies, shared by the CI suite (``test_fuzz.py``, a small
fixed budget) and ``bench/fuzz.py`` (long runs).

Each target takes one generated input and either succeeds or raises one of the project's
errors (:class:`~torchground.errors.TorchgroundError`, which the CLI prints as a message with
status 2 and the server answers as an ``error`` message). Anything else is a finding: a
traceback a user would see.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from hypothesis import strategies as st

from torchground.engine.sweep.grid import MAX_SETTINGS, parse_grid
from torchground.errors import TorchgroundError
from torchground.explain.formula import parse as parse_formula
from torchground.data.csv_io import parse_csv
from torchground.registry import OPTIMIZERS, optimizer_params
from torchground.server.protocol import MESSAGE_TYPES, parse_message
from torchground.server.session import Session
from torchground.spec import SPEC_FIELDS, Spec

# ----------------------------------------------------------------------------- values
_NUMBERS = st.one_of(
    st.integers(-10, 10), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e30, -1e30, 1e308, 2**63, 10**400]),
)
_SCALARS = st.one_of(_NUMBERS, st.booleans(), st.none(), st.text(max_size=12),
                     st.sampled_from(["tanh", "relu", "sgd", "adam", "circle", "full", "auto", "x", "", "\ud800"]))
VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
FIELDS = st.one_of(st.sampled_from(sorted(SPEC_FIELDS)), st.text(max_size=10))


def _spec_dict() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(FIELDS, VALUES, max_size=4)


# ----------------------------------------------------------------------------- targets
def spec_from_fields(fields: dict[str, Any]) -> None:
    """A spec from keyword fields (as flags and the browser give them)."""
    Spec(**{k: v for k, v in fields.items() if k.isidentifier()})


def spec_from_json(fields: dict[str, Any]) -> None:
    try:
        text = json.dumps(fields)
    except (ValueError, TypeError):  # not representable: nothing to feed
        return
    Spec.from_json(text)


def spec_from_toml_text(text: str) -> None:
    Spec.from_toml(text)


def spec_from_json_text(text: str) -> None:
    Spec.from_json(text)


def optimiser_args(case: tuple[str, dict[str, Any]]) -> None:
    """Arguments the spec accepts must train: a spec that validates takes real steps without error."""
    optimizer, args = case
    spec = Spec(optimizer=optimizer, optimizer_args=args, n_samples=20, epochs=1, batch_size=5, hidden=(2,))
    from torchground.train import Trainer

    trainer = Trainer(spec)
    trainer.run_epoch()  # diverging is an outcome, not an error


def grid_text(text: str) -> None:
    grid = parse_grid(text)
    assert len(grid) <= MAX_SETTINGS


def formula_text(text: str) -> None:
    parse_formula(text)


def csv_bytes(data: bytes) -> None:
    parse_csv(data)


def ws_message(text: str) -> None:
    """A raw WebSocket message: parsed, then given to a fresh session; no "Internal error"."""
    try:
        parse_message(text)
    except TorchgroundError:
        pass
    answers: list[str] = []

    async def send(answer: str) -> None:
        answer.encode("utf-8")  # every answer is text a socket can carry
        answers.append(answer)

    async def talk() -> None:
        session = Session(send)
        await session.receive(text)
        await session.close()

    asyncio.run(talk())
    for answer in answers:
        message = json.loads(answer)
        assert not (message["type"] == "error" and "Internal" in message["message"]), message["message"]


# ----------------------------------------------------------------------------- strategies
def _optimiser_case() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    def args_for(name: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        params = sorted(optimizer_params(name)) or ["x"]
        values = st.one_of(_NUMBERS, st.booleans(), st.text(max_size=8), st.tuples(_NUMBERS, _NUMBERS),
                           st.sampled_from(["strong_wolfe", "anything", (0.9, 0.999), (0.5, 1.2), (1e-6, 50)]))
        return st.tuples(st.just(name), st.dictionaries(st.sampled_from(params), values, max_size=3))
    return st.sampled_from(OPTIMIZERS.names()).flatmap(args_for)


_GRID_ALPHABET = st.sampled_from(["lr", "seed", "hidden", "betas", "momentum", "=", ",", ";", "|", "..", "0", "1", "9", "0.1",
                                  "99999", "-", " ", "x", "activation", "tanh", "e", "9" * 50])
_MESSAGE = st.one_of(
    st.builds(lambda kind, extra: json.dumps({"type": kind, **extra}, ensure_ascii=False), st.sampled_from(MESSAGE_TYPES),
              st.dictionaries(st.sampled_from(["query", "lang", "changes", "param", "index", "value", "x"]), VALUES, max_size=3)),
    st.builds(lambda q: json.dumps({"type": "init", "query": q}), st.text(max_size=60)),
    st.builds(lambda q: json.dumps({"type": "init", "query": q}),
              st.sampled_from(["edits=layer1.weight:0:0:1e308", "n_samples=" + "9" * 5000, "hidden=8,8,8,8,8,8,8", "lr=nan"])),
    st.text(max_size=80),
    st.sampled_from(['{"type": "init", "query": "\\ud800"}', '{"type": "fps", "value": ' + "9" * 5000 + "}", "[" * 3000]),
)

#: name -> (target, strategy of its inputs)
TARGETS: dict[str, tuple[Callable[[Any], None], st.SearchStrategy[Any]]] = {
    "spec_fields": (spec_from_fields, _spec_dict()),
    "spec_json": (spec_from_json, _spec_dict()),
    "spec_toml_text": (spec_from_toml_text, st.one_of(
        st.text(max_size=80), st.builds(lambda k, v: f"{k} = {v}\n", FIELDS, st.sampled_from(
            ["1", "-1", "1e400", "9" * 5000, "'x'", "[1,2]", "{a=1}", "[" * 600 + "]" * 600, "true", '"\\ud800"'])))),
    "spec_json_text": (spec_from_json_text, st.one_of(st.text(max_size=80), st.sampled_from(
        ["[" * 6000 + "]" * 6000, '{"epochs": ' + "9" * 5000 + "}", '{"lr": 1e999}', '{"hidden": [1e300]}', "\x00"]))),
    "optimiser_args": (optimiser_args, _optimiser_case()),
    "grid": (grid_text, st.lists(_GRID_ALPHABET, max_size=20).map("".join)),
    "formula": (formula_text, st.one_of(st.text(max_size=40), st.lists(st.sampled_from(
        ["x", "y", "w", "+", "-", "*", "/", "^", "(", ")", "exp", "log", "tanh", "1", "1e308", "9" * 500, "=", ","]),
        max_size=30).map("".join))),
    "csv": (csv_bytes, st.one_of(st.binary(max_size=120), st.lists(st.sampled_from(
        ["x1,x2,label\n", "x1,x2,y\n", "1,2,1\n", "1,2,-1\n", "nan,1,1\n", "inf,1,0\n", "1e999,0,1\n", ",,\n", "a,b,c\n", "\xff\n",
         "1,2\n", "9" * 5000 + ",1,1\n"]), max_size=8).map(lambda parts: "".join(parts).encode("utf-8", "surrogateescape")))),
    "ws_message": (ws_message, _MESSAGE),
}


def check(name: str, value: Any) -> None:
    """Run target ``name`` on ``value``; a project error is a fine answer, anything else propagates."""
    target, _ = TARGETS[name]
    try:
        target(value)
    except TorchgroundError:
        pass
