"""The WebSocket messages: pydantic models, size caps and the error texts for bad messages.

Every client message is validated against one discriminated union on ``"type"``
(``docs/serve-protocol.md``); anything else — text that is not JSON, an unknown type, a
missing or extra field, a value of the wrong type, a message over :data:`MAX_MESSAGE_BYTES`
— or a key given twice in one object — becomes a :class:`ProtocolError` whose catalogue message says what was wrong and what is
allowed. The server's caps on specs (smaller than the spec's own limits, so that a
browser tab stays light) live here too, with :func:`check_caps`.

Example:
    >>> parse_message('{"type": "fps", "value": 30}')
    Fps(type='fps', value=30)
    >>> parse_message('{"type": "fps", "value": 500}')
    Traceback (most recent call last):
    ...
    torchground.server.protocol.ProtocolError: Message fps: value = 500 is not allowed. Allowed: an integer from 1 to 120
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from torchground.errors import SpecError, TorchgroundError
from torchground.i18n import LANGUAGES, Text
from torchground.server.grid_axes import GRID_MAX_AXES
from torchground.spec import Spec
from torchground.spec_rules import allowed_by_type

__all__ = [
    "MAX_SESSIONS", "MAX_MESSAGE_BYTES", "MAX_LAYERS", "MAX_NEURONS", "MAX_SAMPLES", "MAX_BATCH", "MAX_FPS",
    "DEFAULT_FPS", "MAX_EDIT_VALUE", "MAX_QUERY_CHARS", "MESSAGE_TYPES", "ProtocolError", "Message",
    "Init", "Set", "Play", "Pause", "Step", "Reset", "Reinit", "Regenerate", "Edit", "Code", "Graph", "Fps",
    "Link", "LinkOf", "Grid", "GridAxis", "GridPick", "GridClose", "parse_message", "check_caps",
]

#: Open WebSocket sessions at once; one more is answered with an error and closed (they
#: share the CPU through the server's scheduler, so a session does not need a core of its own).
MAX_SESSIONS = 32
#: Largest client message (bytes of UTF-8 text).
MAX_MESSAGE_BYTES = 64 * 1024
#: Hidden layers, neurons per layer, points and batch size allowed in the browser (the Playground's limits).
MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_SAMPLES = 2000
MAX_BATCH = 30
#: Frames (epochs) per second while playing.
MAX_FPS = 120
DEFAULT_FPS = 60
#: Largest absolute value a weight edit may set.
MAX_EDIT_VALUE = 1e6
#: Longest URL state accepted in ``init``.
MAX_QUERY_CHARS = 16 * 1024


class ProtocolError(TorchgroundError):
    """A client message that cannot be used; the session lives on."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Init(_Message):
    """Build the session from a URL state (empty: the defaults), in language ``lang``."""

    type: Literal["init"]
    query: Annotated[str, Field(max_length=MAX_QUERY_CHARS)] = ""
    lang: Literal["en", "ja"] | None = None


class Set(_Message):
    """Change spec fields (and view options ``discretize``, ``show_test``, ``lang``)."""

    type: Literal["set"]
    changes: dict[str, Any]


class Play(_Message):
    type: Literal["play"]


class Pause(_Message):
    type: Literal["pause"]


class Step(_Message):
    type: Literal["step"]


class Reset(_Message):
    type: Literal["reset"]


class Reinit(_Message):
    type: Literal["reinit"]


class Regenerate(_Message):
    type: Literal["regenerate"]


class Edit(_Message):
    """Set one entry of a parameter: ``index`` is ``[row, col]`` for a weight, ``[i]`` for a bias."""

    type: Literal["edit"]
    param: Annotated[str, Field(min_length=1, max_length=100)]
    index: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=2)]
    value: Annotated[float, Field(allow_inf_nan=False, ge=-MAX_EDIT_VALUE, le=MAX_EDIT_VALUE)]


class Code(_Message):
    type: Literal["code"]


class Graph(_Message):
    type: Literal["graph"]


class Fps(_Message):
    type: Literal["fps"]
    value: Annotated[int, Field(ge=1, le=MAX_FPS)]


class Link(_Message):
    """Open a TensorFlow Playground link: its data, initial weights and training loop."""

    type: Literal["link"]
    url: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS)]


class LinkOf(_Message):
    """Ask for the TensorFlow Playground link of the session's spec (answer: ``tf_link``)."""

    type: Literal["link_of"]


class Save(_Message):
    """Ask for the session as a ``.tgsession`` file (answer: ``saved``)."""

    type: Literal["save"]


class Open(_Message):
    """Continue a session file uploaded to ``POST /api/session`` (its answer's ``id``)."""

    type: Literal["open"]
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class GridAxis(_Message):
    """One setting the grid varies: a field and its values, in the sweep grid's syntax."""

    field: Annotated[str, Field(min_length=1, max_length=40)]
    values: Annotated[str, Field(min_length=1, max_length=1000)]


class Grid(_Message):
    """Open the grid view: the session's spec with one or two settings varied (answer: ``grid_state``, ``grid_frame``)."""

    type: Literal["grid"]
    axes: Annotated[list[GridAxis], Field(min_length=1, max_length=GRID_MAX_AXES)]


class GridPick(_Message):
    """Make grid tile ``index`` the session's model, with its weights (answer: ``state``, ``frame``)."""

    type: Literal["grid_pick"]
    index: Annotated[int, Field(ge=0)]


class GridClose(_Message):
    """Leave the grid view for the session's model as it was."""

    type: Literal["grid_close"]


Message = Annotated[
    Union[Init, Set, Play, Pause, Step, Reset, Reinit, Regenerate, Edit, Code, Graph, Fps, Link, LinkOf, Save, Open,
          Grid, GridPick, GridClose],
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Message)
_MODELS: dict[str, type[_Message]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (Init, Set, Play, Pause, Step, Reset, Reinit, Regenerate, Edit, Code, Graph, Fps, Link, LinkOf, Save, Open,
              Grid, GridPick, GridClose)
}
#: The client message types, in the protocol's order.
MESSAGE_TYPES: tuple[str, ...] = tuple(_MODELS)

# Fields with an "allowed" text of their own (else pydantic's description is shown).
_ALLOWED = {
    ("init", "query"): Text("server.allowed.query", limit=MAX_QUERY_CHARS),
    ("init", "lang"): ", ".join(LANGUAGES),
    ("set", "changes"): Text("server.allowed.changes"),
    ("edit", "param"): Text("server.allowed.param"),
    ("edit", "index"): Text("server.allowed.index"),
    ("edit", "value"): Text("server.allowed.value", limit=f"{MAX_EDIT_VALUE:g}"),
    ("fps", "value"): Text("server.allowed.fps", limit=MAX_FPS),
    ("link", "url"): Text("tfpg.allowed.link", limit=MAX_QUERY_CHARS),
    ("grid", "axes"): Text("grid.allowed.axes", max=GRID_MAX_AXES),
    ("grid_pick", "index"): Text("grid.allowed.index"),
}


def parse_message(text: str | bytes) -> Any:
    """Validate one client message; returns its model (:class:`Init`, :class:`Set`, …).

    Raises:
        ProtocolError: binary or oversized data, malformed JSON or a message that does not
            fit the protocol; the message names what was wrong and what is allowed.
    """
    if isinstance(text, bytes):
        raise ProtocolError("server.not_text")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError("server.too_large", size=size, limit=MAX_MESSAGE_BYTES)
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise ProtocolError("protocol.duplicate_key", name=_short(exc.key)) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise ProtocolError("server.not_json", reason=reason) from None
    except ValueError:  # an integer of more digits than Python converts
        raise ProtocolError("server.not_json", reason=Text("safety.int_digits")) from None
    try:  # a lone surrogate ("\ud800") is valid JSON but no text: it could not be echoed or stored
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("server.not_json", reason=Text("safety.surrogate")) from None
    allowed = ", ".join(MESSAGE_TYPES)
    if not isinstance(data, dict):
        raise ProtocolError("server.not_object", allowed=allowed)
    kind = data.get("type")
    if kind is None:
        raise ProtocolError("server.missing_type", allowed=allowed)
    if not isinstance(kind, str) or kind not in _MODELS:
        raise ProtocolError("server.unknown_type", value=_short(kind), allowed=allowed)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _message_error(kind, data, exc) from None


#: Fields whose items are messages of their own (their fields are named in an error about them).
_NESTED: dict[tuple[str, str], type[BaseModel]] = {("grid", "axes"): GridAxis}


class _DuplicateKey(Exception):
    """A JSON object names a key twice (which of the two counts is no rule of JSON: refused)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _message_error(kind: str, data: dict[str, Any], exc: ValidationError) -> ProtocolError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    if loc and loc[0] == kind:  # the union's tag comes first
        loc = loc[1:]
    top = str(loc[0]) if loc else "?"
    path = _path(loc) if loc else "?"  # "axes[0].extra": the nested key itself, where it is one
    model = _NESTED.get((kind, top)) if len(loc) > 1 else _MODELS[kind]
    fields = [f for f in (model or _MODELS[kind]).model_fields if f != "type"]
    if err["type"] == "extra_forbidden":
        return ProtocolError("server.field_unknown", type=kind, field=path, allowed=", ".join(fields) or "-")
    if err["type"] == "missing":
        return ProtocolError("server.field_missing", type=kind, field=path)
    allowed = _ALLOWED.get((kind, top)) or allowed_by_type(err)
    value = err.get("input") if len(loc) > 1 else data.get(top)
    return ProtocolError("server.field_invalid", type=kind, field=path, value=_short(value), allowed=allowed)


def _path(loc: list[Any]) -> str:
    """A field's place in a message: ``axes[0].values``."""
    out = str(loc[0])
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: LBFGS settings that bound the work of one step: a page must not start an endless step.
LBFGS_CAPS = {"max_iter": 100, "max_eval": 125, "history_size": 100}


def check_caps(spec: Spec) -> None:
    """Refuse specs beyond the browser playground's caps (layers, neurons, points, batch size).

    Raises:
        SpecError: naming the field, the value and what the server allows.
    """
    if len(spec.hidden) > MAX_LAYERS or any(w > MAX_NEURONS for w in spec.hidden):
        value = ",".join(map(str, spec.hidden))
        raise SpecError("server.cap", field="hidden", value=value, allowed=Text("server.allowed.hidden", layers=MAX_LAYERS, neurons=MAX_NEURONS))
    if spec.n_samples is not None and spec.n_samples > MAX_SAMPLES:
        raise SpecError("server.cap", field="n_samples", value=spec.n_samples, allowed=Text("server.allowed.n_samples", limit=MAX_SAMPLES))
    for name, limit in LBFGS_CAPS.items():  # each evaluation is a forward and backward pass
        value = spec.optimizer_args.get(name) if spec.optimizer == "lbfgs" else None
        if value is not None and value > limit:
            raise SpecError("server.cap", field=f"optimizer_args.{name}", value=value, allowed=Text("server.allowed.lbfgs", limit=limit))
    if spec.batch_size != "full" and spec.batch_size > MAX_BATCH:
        raise SpecError("server.cap", field="batch_size", value=spec.batch_size, allowed=Text("server.allowed.batch_size", limit=MAX_BATCH))
