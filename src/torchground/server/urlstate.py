"""The playground's URL query ↔ a spec, weight edits and view options.

The page keeps its whole state in the query (``docs/serve-protocol.md``, "URL state"):
every spec field under its own name in the CLI's text form (``hidden=4,2``,
``features=x1,x2``, ``batch_size=full``, ``optimizer_args=momentum=0.9;nesterov=true``,
``scheduler_args=step_size=5;gamma=0.5``),
``edits`` (weight edits ``param:row[:col]:value`` separated by ``;``) and the page's
view options (:data:`VIEW_OPTIONS`: ``discretize``, ``show_test``, ``lang``, …). Fields
left out keep the server's defaults (:data:`DEFAULT_SPEC`, the Playground's: a 4-2
network, batch 10, no reshuffling); a ``token`` parameter is ignored. :func:`to_query` writes only what differs from the
defaults, and :func:`parse_query` of it gives back the same state.

Example:
    >>> state = parse_query("dataset=xor&hidden=4,2&lr=0.1&edits=layer1.weight:0:1:0.5&discretize=1")
    >>> state.spec.dataset, state.spec.hidden, state.spec.lr, state.edits, state.view
    ('xor', (4, 2), 0.1, (Edit(param='layer1.weight', index=(0, 1), value=0.5),), {'discretize': True})
    >>> to_query(state)
    'dataset=xor&lr=0.1&edits=layer1.weight:0:1:0.5&discretize=1'
    >>> parse_query(to_query(state)) == state
    True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, urlencode

from torchground.errors import TorchgroundError
from torchground.i18n import LANGUAGES
from torchground.spec import SPEC_FIELDS, Spec, parse_optimizer_args

__all__ = [
    "DEFAULT_SPEC", "VIEW_OPTIONS", "VIEW_DEFAULTS", "MAX_EDITS", "Edit", "UrlState", "parse_query", "to_query", "format_value",
    "view_value", "set_changes",
]

#: The server's starting point: the Playground's defaults, trained on the CPU.
DEFAULT_SPEC = Spec.preset("playground", device="cpu", training_loop="pytorch")
# (The page offers every optimiser and loss, so it starts on the PyTorch loop; a TensorFlow
# Playground link, or ``training_loop=tf-playground``, switches to that loop.)
#: View options kept in the URL for the page (switches 0/1, the language, the open panel),
#: with the text the page assumes when one is left out ("" for the language: the
#: browser's; for the tab: none open). The page takes them from ``/api/meta``.
VIEW_DEFAULTS: dict[str, str] = {
    "discretize": "0", "show_train": "1", "show_val": "0", "show_test": "0", "gradient": "0", "lang": "", "tab": "",
}
VIEW_OPTIONS: tuple[str, ...] = tuple(VIEW_DEFAULTS)
MAX_EDITS = 1000
_MAX_FIELDS = 100
_NULLABLE = {"patience", "tf_playground_seed", "classes"}
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")
_TAB = re.compile(r"^[a-z_]{0,20}$")
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("0", "false", "off", "no")
# Auto-resolved spec fields (see Spec.replace) written together with the field they follow,
# so that parsing never re-resolves them to something else.
_FOLLOWERS = {
    "dataset": ("n_samples", "output_activation", "loss", "classes"), "optimizer": ("weight_decay",),
    "classes": ("loss", "output_activation"),
}


@dataclass(frozen=True)
class Edit:
    """One weight edit: ``param[index] = value`` (``index`` is (row, col) or (i,))."""

    param: str
    index: tuple[int, ...]
    value: float

    def text(self) -> str:
        """The URL form ``param:row[:col]:value``."""
        return ":".join([self.param, *map(str, self.index), format_value(self.value)])


@dataclass(frozen=True)
class UrlState:
    """What a playground URL holds: the spec, weight edits on top of its initial weights, view options."""

    spec: Spec = DEFAULT_SPEC
    edits: tuple[Edit, ...] = ()
    view: Mapping[str, bool | str] = field(default_factory=dict)


def parse_query(query: str, base: Spec = DEFAULT_SPEC) -> UrlState:
    """Read a URL query (with or without the leading ``?``) on top of ``base``.

    Raises:
        SpecError: a spec field's value is not allowed (the spec's own message).
        TorchgroundError: an unknown or repeated parameter, a malformed edit, optimiser
            argument or view option (``server.url.*``).
    """
    try:
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise TorchgroundError("server.url.too_many", limit=_MAX_FIELDS) from None
    seen: set[str] = set()
    changes: dict[str, Any] = {}
    edits: tuple[Edit, ...] = ()
    view: dict[str, bool | str] = {}
    allowed = ", ".join([*(f for f in SPEC_FIELDS), "edits", *VIEW_OPTIONS])
    for name, value in pairs:
        if name == "token":
            continue
        if name in seen:
            raise TorchgroundError("server.url.twice", name=name)
        seen.add(name)
        if name in SPEC_FIELDS:
            changes[name] = _spec_value(name, value)
        elif name == "edits":
            edits = _parse_edits(value)
        elif name in VIEW_OPTIONS:
            view[name] = view_value(name, value)
        else:
            raise TorchgroundError("server.url.unknown", name=name, allowed=allowed)
    spec = base.replace(**changes) if changes else base
    return UrlState(spec, edits, view)


def to_query(state: UrlState, base: Spec = DEFAULT_SPEC) -> str:
    """Write ``state`` as a URL query (no leading ``?``): spec fields that differ from ``base``
    in the spec's field order, then ``edits``, then the view options."""
    spec = state.spec
    # problem follows a generated data set; a data file's (csv) is its own and is written
    names = {f for f in SPEC_FIELDS if (f != "problem" or spec.dataset == "csv") and getattr(spec, f) != getattr(base, f)}
    if names & set(_FOLLOWERS):  # would parsing resolve a follower to another value? then write it too
        trial = base.replace(**{f: getattr(spec, f) for f in names})
        names.update(f for s in names & set(_FOLLOWERS) for f in _FOLLOWERS[s] if getattr(trial, f) != getattr(spec, f))
    pairs = [(f, format_value(getattr(spec, f), f)) for f in SPEC_FIELDS if f in names]
    if state.edits:
        pairs.append(("edits", ";".join(e.text() for e in state.edits)))
    for name in VIEW_OPTIONS:
        if name in state.view:
            value = state.view[name]
            pairs.append((name, ("1" if value else "0") if isinstance(value, bool) else str(value)))
    return urlencode(pairs, quote_via=quote, safe=",:;")


def format_value(value: Any, name: str = "") -> str:
    """A value in its URL/CLI text form (floats exact: ``repr`` unless whole)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (tuple, list)):
        if name == "hidden" and not value:
            return "none"
        return ",".join(format_value(v) for v in value)
    if isinstance(value, dict):
        return ";".join(f"{k}={_opt_text(v)}" for k, v in value.items())
    return str(value)


def _opt_text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # keeps the ".", so it reads back as a float
    if isinstance(value, (tuple, list)):  # read back as floats whatever their form: whole ones as 2, not 2.0
        return ",".join(format_value(float(v)) for v in value)
    return format_value(value)


#: Spec fields that are tables of settings, written ``NAME=VALUE;NAME=VALUE`` (the CLI's
#: ``--opt`` / ``--sched`` forms), with the message key of a malformed one.
_SETTINGS_FIELDS = {"optimizer_args": "server.url.bad_opt", "scheduler_args": "server.url.bad_sched"}


def _spec_value(name: str, text: str) -> Any:
    if name in _SETTINGS_FIELDS:
        return _parse_opt_args(text, _SETTINGS_FIELDS[name])
    if name == "tf_playground_view":  # ``showTestData=true;x_hide=true``: the spec checks names and values
        items = [s for s in text.split(";") if s.strip()]
        if any("=" not in s for s in items):
            raise TorchgroundError("tfpg.url_view_bad", value=text[:80])
        return dict(s.split("=", 1) for s in items)
    if name in _NULLABLE and text.strip().lower() in ("", "none"):
        return None
    return text  # the spec reads text as the CLI does, and refuses bad values itself


def set_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The spec changes of a ``set`` message, ``optimizer_args`` / ``scheduler_args`` given as text read here.

    The page sends optimiser settings as it shows them, in the URL's text form
    (``momentum=0.9;betas=0.9,0.99``), so that it holds no parser of its own; a dict is
    taken as it is. Other fields go to the spec unchanged (it reads text itself).

    >>> set_changes({"lr": 0.1, "optimizer_args": "momentum=0.9;nesterov=true"})
    {'lr': 0.1, 'optimizer_args': {'momentum': 0.9, 'nesterov': True}}
    """
    out = dict(changes)
    for name, error_key in _SETTINGS_FIELDS.items():
        if isinstance(out.get(name), str):
            out[name] = _parse_opt_args(out[name], error_key)
    return out


def _parse_opt_args(text: str, error_key: str = "server.url.bad_opt") -> dict[str, Any]:
    """``momentum=0.9;betas=0.9,0.99;nesterov=true`` → a dict (the CLI's ``--opt`` / ``--sched`` forms)."""
    items = [s.strip() for s in text.split(";") if s.strip()]
    return parse_optimizer_args(items, error_key=error_key)


def _parse_edits(text: str) -> tuple[Edit, ...]:
    items = [s.strip() for s in text.split(";") if s.strip()]
    if len(items) > MAX_EDITS:
        raise TorchgroundError("server.url.too_many_edits", count=len(items), limit=MAX_EDITS)
    edits: dict[tuple[str, tuple[int, ...]], Edit] = {}
    for item in items:
        parts = item.split(":")
        try:
            if len(parts) not in (3, 4) or not _PARAM_NAME.match(parts[0]):
                raise ValueError(item)
            index = tuple(int(p) for p in parts[1:-1])
            value = float(parts[-1])
            if any(i < 0 for i in index) or not math.isfinite(value):
                raise ValueError(item)
        except ValueError:
            raise TorchgroundError("server.url.bad_edit", value=item) from None
        edits[(parts[0], index)] = Edit(parts[0], index, value)  # a later edit of the same entry wins
    return tuple(edits.values())


def view_value(name: str, value: Any) -> bool | str:
    """A view option from URL text or JSON (switches: 0/1, true/false; ``lang``: en/ja; ``tab``: a word)."""
    text = str(int(value)) if isinstance(value, bool) else str(value)
    lowered = text.strip().lower()
    if name == "lang":
        if lowered not in LANGUAGES:
            raise TorchgroundError("server.url.bad_view", name=name, value=text, allowed=", ".join(LANGUAGES))
        return lowered
    if name == "tab":
        if not _TAB.match(lowered):
            raise TorchgroundError("server.url.bad_view", name=name, value=text[:40], allowed="code, graph, …")
        return lowered
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise TorchgroundError("server.url.bad_view", name=name, value=text, allowed="0, 1")
