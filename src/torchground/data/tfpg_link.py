"""TensorFlow Playground links: read one into its settings, and write settings back.

A link such as ``https://playground.tensorflow.org/#activation=tanh&batchSize=10&…``
holds TensorFlow Playground's whole state in its fragment. :func:`parse_link` reads it
as TensorFlow Playground's ``state.ts`` does, but strictly: an unknown parameter, one
given twice, or a value TensorFlow Playground could not use is refused with a
:class:`LinkError` naming it and what is allowed (TensorFlow Playground silently keeps
its default instead). What it does accept, it accepts as TensorFlow Playground does:

* a parameter left out keeps TensorFlow Playground's default (:data:`DEFAULTS`); an
  empty value counts as left out, except ``networkShape=`` (no hidden layer);
* ``seed`` and ``tutorial`` are raw text (not percent-decoded), as it reads them;
* any ``NAME_hide`` key (true/false) hides a control; ``x_hide=true`` and the like also
  remove that input from the network, as TensorFlow Playground does;
* ``cosX`` and ``cosY`` are kept but do nothing: TensorFlow Playground lists them in
  links yet has no such inputs.

:func:`format_link` writes settings back in TensorFlow Playground's own form (its
``serialize``: every parameter in its order, numbers as JavaScript prints them, then
the ``_hide`` keys in the order given), so a link it wrote comes back unchanged.

Pure and I/O-free.

Example:
    >>> s = parse_link("https://playground.tensorflow.org/#activation=relu&networkShape=3&seed=0.5")
    >>> s.values["activation"], s.values["networkShape"], s.values["batchSize"], s.values["seed"]
    ('relu', (3,), 10, '0.5')
    >>> format_link(s).startswith("https://playground.tensorflow.org/#activation=relu&regularization=none&batchSize=10&")
    True
    >>> parse_link("#learningRate=0.03&speed=3")
    Traceback (most recent call last):
    ...
    torchground.data.tfpg_link.LinkError: Unknown TensorFlow Playground link parameter(s): speed. Known: activation, regularization, batchSize, dataset, regDataset, learningRate, regularizationRate, noise, networkShape, seed, showTestData, discretize, percTrainData, x, y, xTimesY, xSquared, ySquared, cosX, sinX, cosY, sinY, collectStats, tutorial, problem, initZero, hideText, and NAME_hide (true or false) for hiding a control
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from torchground.errors import TorchgroundError
from torchground.i18n import Text

__all__ = [
    "LinkError",
    "LinkSettings",
    "PARAMS",
    "DEFAULTS",
    "INPUTS",
    "INPUT_FEATURES",
    "ACTIVATIONS",
    "REGULARIZATIONS",
    "CLASSIFICATION_DATASETS",
    "REGRESSION_DATASETS",
    "BASE_URL",
    "parse_link",
    "format_link",
    "js_number",
]

BASE_URL = "https://playground.tensorflow.org/"


class LinkError(TorchgroundError):
    """A TensorFlow Playground link that cannot be read (unknown or malformed parameters)."""


ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid", "linear")
REGULARIZATIONS: tuple[str, ...] = ("none", "L1", "L2")
CLASSIFICATION_DATASETS: tuple[str, ...] = ("circle", "xor", "gauss", "spiral")
REGRESSION_DATASETS: tuple[str, ...] = ("reg-plane", "reg-gauss")
PROBLEMS: tuple[str, ...] = ("classification", "regression")

#: The network's inputs in TensorFlow Playground's order (``cosX``/``cosY`` are not among them).
INPUTS: tuple[str, ...] = ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")

#: Each input's feature name in torchground (:data:`torchground.data.features.FEATURES`).
INPUT_FEATURES: Mapping[str, str] = {
    "x": "x1", "y": "x2", "xSquared": "x1sq", "ySquared": "x2sq", "xTimesY": "x1x2", "sinX": "sinx1", "sinY": "sinx2",
}

# name -> kind ("choice", "number", "shape", "text", "bool"), choices; TensorFlow Playground's order.
PARAMS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "activation": ("choice", ACTIVATIONS),
    "regularization": ("choice", REGULARIZATIONS),
    "batchSize": ("number", ()),
    "dataset": ("choice", CLASSIFICATION_DATASETS),
    "regDataset": ("choice", REGRESSION_DATASETS),
    "learningRate": ("number", ()),
    "regularizationRate": ("number", ()),
    "noise": ("number", ()),
    "networkShape": ("shape", ()),
    "seed": ("text", ()),
    "showTestData": ("bool", ()),
    "discretize": ("bool", ()),
    "percTrainData": ("number", ()),
    "x": ("bool", ()),
    "y": ("bool", ()),
    "xTimesY": ("bool", ()),
    "xSquared": ("bool", ()),
    "ySquared": ("bool", ()),
    "cosX": ("bool", ()),
    "sinX": ("bool", ()),
    "cosY": ("bool", ()),
    "sinY": ("bool", ()),
    "collectStats": ("bool", ()),
    "tutorial": ("text", ()),
    "problem": ("choice", PROBLEMS),
    "initZero": ("bool", ()),
    "hideText": ("bool", ()),
}

#: TensorFlow Playground's values for parameters a link leaves out (``seed``: drawn anew).
DEFAULTS: Mapping[str, Any] = {
    "activation": "tanh",
    "regularization": "none",
    "batchSize": 10,
    "dataset": "circle",
    "regDataset": "reg-plane",
    "learningRate": 0.03,
    "regularizationRate": 0,
    "noise": 0,
    "networkShape": (4, 2),
    "seed": None,
    "showTestData": False,
    "discretize": False,
    "percTrainData": 50,
    "x": True,
    "y": True,
    "xTimesY": False,
    "xSquared": False,
    "ySquared": False,
    "cosX": False,
    "sinX": False,
    "cosY": False,
    "sinY": False,
    "collectStats": False,
    "tutorial": None,
    "problem": "classification",
    "initZero": False,
    "hideText": False,
}

HIDE_SUFFIX = "_hide"
_HIDE_NAME = re.compile(r"^[A-Za-z0-9]+_hide$")
# A plain decimal number, as a link holds one (no hex, no Infinity, no NaN).
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class LinkSettings:
    """The settings of a link: every parameter of :data:`PARAMS`, and the ``_hide`` keys.

    Args:
        values: one value per name of :data:`PARAMS`: str for choices and text (``seed``
            and ``tutorial`` may be ``None``), int or float for numbers, bool, and a tuple
            of ints for ``networkShape``.
        hides: ``NAME_hide`` → bool, in the order given.
        given: the names the link itself gave (the rest are defaults).
    """

    values: Mapping[str, Any]
    hides: Mapping[str, bool] = field(default_factory=dict)
    given: frozenset[str] = frozenset()

    def hidden(self, name: str) -> bool:
        """Whether the link hides control or input ``name`` (``name_hide=true``)."""
        return bool(self.hides.get(name + HIDE_SUFFIX, False))

    @property
    def inputs(self) -> tuple[str, ...]:
        """The inputs the network gets, in its order: switched on and not hidden."""
        return tuple(n for n in INPUTS if self.values[n] and not self.hidden(n))

    @property
    def data_set(self) -> str:
        """The data set in use: ``dataset`` or, for regression, ``regDataset``."""
        return self.values["regDataset"] if self.values["problem"] == "regression" else self.values["dataset"]

    def replace(self, **values: Any) -> "LinkSettings":
        """A copy with some values changed (not checked)."""
        return LinkSettings({**self.values, **values}, dict(self.hides), self.given | frozenset(values))


def _known() -> Text:
    return Text("tfpg.known", names=", ".join(PARAMS))


def _number(name: str, raw: str) -> int | float:
    if not _NUMBER.match(raw):
        raise LinkError("tfpg.malformed", name=name, value=raw, allowed=Text("tfpg.allowed.number"))
    value = float(raw)
    if not math.isfinite(value):
        raise LinkError("tfpg.malformed", name=name, value=raw, allowed=Text("tfpg.allowed.number"))
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _value(name: str, raw: str) -> Any:
    kind, choices = PARAMS[name]
    if kind == "choice":
        if raw not in choices:
            raise LinkError("tfpg.malformed", name=name, value=raw, allowed=Text("tfpg.allowed.one_of", choices=", ".join(choices)))
        return raw
    if kind == "number":
        return _number(name, raw)
    if kind == "bool":
        if raw not in ("true", "false"):
            raise LinkError("tfpg.malformed", name=name, value=raw, allowed=Text("tfpg.allowed.boolean"))
        return raw == "true"
    if kind == "shape":
        if raw.strip() == "":
            return ()
        widths = []
        for part in raw.split(","):
            width = _number(name, part) if _NUMBER.match(part) else None
            if not isinstance(width, int) or width < 1:
                raise LinkError("tfpg.malformed", name=name, value=raw, allowed=Text("tfpg.allowed.shape"))
            widths.append(width)
        return tuple(widths)
    return raw  # text: seed and tutorial, raw as TensorFlow Playground reads them


def fragment_of(text: str) -> str:
    """The state part of a link: after ``#``; the whole text if it has no ``#`` and no ``://``."""
    text = text.strip()
    if "#" in text:
        return text.split("#", 1)[1]
    return "" if "://" in text else text


def parse_link(text: str) -> LinkSettings:
    """Read a TensorFlow Playground link (or just its fragment) into :class:`LinkSettings`.

    Raises:
        LinkError: unknown parameters (all named at once, with the known ones), a
            parameter given twice or without ``=``, or a malformed value.
    """
    if not isinstance(text, str):
        raise LinkError("tfpg.not_text", value=type(text).__name__)
    items = [item for item in fragment_of(text).split("&") if item != ""]
    pairs: list[tuple[str, str]] = []
    unknown: list[str] = []
    for item in items:
        name, sep, raw = item.partition("=")
        if name not in PARAMS and not _HIDE_NAME.match(name):
            unknown.append(name)
            continue
        if not sep or "=" in raw:
            raise LinkError("tfpg.malformed", name=name, value=raw if sep else "", allowed=Text("tfpg.allowed.pair"))
        pairs.append((name, raw))
    if unknown:
        raise LinkError("tfpg.unknown", names=", ".join(unknown), known=_known())
    seen: set[str] = set()
    values = dict(DEFAULTS)
    hides: dict[str, bool] = {}
    for name, raw in pairs:
        if name in seen:
            raise LinkError("tfpg.duplicate", name=name)
        seen.add(name)
        if name in PARAMS:
            if raw.strip() == "" and PARAMS[name][0] != "shape":
                continue  # TensorFlow Playground: an empty value keeps the default
            values[name] = _value(name, raw)
        else:
            if raw not in ("true", "false"):
                raise LinkError("tfpg.malformed", name=name, value=raw, allowed=Text("tfpg.allowed.boolean"))
            hides[name] = raw == "true"
    given = frozenset(n for n in seen if n in PARAMS and values[n] is not None)
    return LinkSettings(values, hides, given)


def js_number(value: float | int) -> str:
    """A number as JavaScript's ``String(value)`` writes it.

    >>> [js_number(v) for v in (0.03, 10, 1e-05, 1e-07, 2.5e21, -0.0, 0.1 + 0.2)]
    ['0.03', '10', '0.00001', '1e-7', '2.5e+21', '0', '0.30000000000000004']
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**21:
        return str(value)
    x = float(value)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that read back to x, as JavaScript picks them
    m = re.match(r"^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$", repr(abs(x)))
    assert m is not None
    whole, frac, e = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    all_digits = whole + frac
    leading = len(all_digits) - len(all_digits.lstrip("0"))
    digits = all_digits.strip("0")
    n = len(whole) + e - leading  # x = 0.d1d2…dk × 10**n
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        exponent = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if exponent >= 0 else "-") + str(abs(exponent))
    return sign + out


def _text(name: str, value: Any) -> str:
    kind = PARAMS[name][0]
    if kind == "bool":
        return "true" if value else "false"
    if kind == "number":
        return js_number(value)
    if kind == "shape":
        return ",".join(js_number(w) for w in value)
    return str(value)


def format_link(settings: LinkSettings, base: str = BASE_URL) -> str:
    """The link of ``settings`` in TensorFlow Playground's own form (its ``serialize``)."""
    parts = [f"{name}={_text(name, settings.values[name])}" for name in PARAMS if settings.values.get(name) is not None]
    parts += [f"{name}={'true' if hidden else 'false'}" for name, hidden in settings.hides.items()]
    return f"{base}#{'&'.join(parts)}"
