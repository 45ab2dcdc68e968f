"""How a spec's values are read and checked: their text forms, ranges, and the messages that
refuse them; and the presets. :mod:`torchground.spec` uses these; they hold no spec themselves.

Example:
    >>> parse_optimizer_args(["momentum=0.9", "betas=0.9,0.99", "nesterov=true"])
    {'momentum': 0.9, 'betas': (0.9, 0.99), 'nesterov': True}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import torch
from pydantic import ValidationError

from torchground.errors import RegistryError, SpecError
from torchground.i18n import Text

__all__ = [
    "PRESETS", "parse_optimizer_args", "refuse_surrogates", "form_reason", "validate_form", "COUNT_LIMITS", "dummy_step",
    "strict_int", "registry_name", "in_range", "fmt", "to_spec_error", "Allowed", "OPTIMIZER_RULES", "setting_refusal",
    "optimizer_refusal", "torch_refusal", "written", "written_args",
]

PRESETS: dict[str, dict[str, Any]] = {
    # The curriculum's part-3 recipe: the defaults of Spec.
    "seed": {},
    # TensorFlow Playground's defaults: 4-2 network, batch 10, lr 0.03, no regularisation,
    # U(-0.5, 0.5) weights with bias 0.1, half squared error, no reshuffling, 50 % test data,
    # and its training loop.
    "playground": {
        "hidden": (4, 2),
        "batch_size": 10,
        "lr": 0.03,
        "weight_decay": 0.0,
        "init": "playground",
        "training_loop": "tf-playground",
        "loss": "half_mse",
        "shuffle": False,
        "train_pct": 50,
        "val_pct": 0,
        "test_pct": 50,
    },
}


def refuse_surrogates(value: Any, field: str = "-") -> None:
    """A lone surrogate (``"\\ud800"``) anywhere in the fields is no text: refused before pydantic,
    which cannot encode it, and before a message could show it."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SpecError("spec.invalid", field=field, value=ascii(value)[:60], allowed=Text("safety.allowed_text")) from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_surrogates(key, "-")
            refuse_surrogates(item, key if field == "-" and isinstance(key, str) else field)
    elif isinstance(value, (list, tuple)):
        for item in value:
            refuse_surrogates(item, field)


def form_reason(exc: BaseException) -> Text:
    """Why a config's text could not be read as data: nesting too deep, or an integer too long
    (rendered later, in the language the whole message is shown in)."""
    return Text("safety.too_deep") if isinstance(exc, RecursionError) else Text("safety.int_digits")


def validate_form(cls: Any, data: Any) -> Any:
    """``cls.model_validate(data)``; data nested too deeply for validation is a :class:`SpecError`."""
    try:
        return cls.model_validate(data)
    except RecursionError:
        raise SpecError("spec.bad_file", format="data", line="?", reason=Text("safety.too_deep")) from None


#: Optimiser settings that count iterations or kept steps: whole numbers from 1 to a limit (an
#: L-BFGS history of 0 fails at its second iteration; max_iter 2**63 never ends a step).
COUNT_LIMITS = {"lbfgs": {"history_size": 1_000, "max_iter": 10_000, "max_eval": 12_500}}


def dummy_step(build: Any, lr: float, kwargs: dict[str, Any]) -> None:
    """Build the optimiser on one dummy parameter and take a step (with a closure, as LBFGS needs)."""
    p = torch.zeros(1, requires_grad=True)
    opt = build([p], lr=lr, **kwargs)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        with torch.enable_grad():
            loss = ((p - 1) ** 2).sum()
            loss.backward()
        return loss

    opt.step(closure)


@dataclass(frozen=True)
class Allowed:
    """What one optimiser or schedule setting allows, said in the user's language by :meth:`text`.

    ``kind``: ``number`` (``low``/``high`` bounds, ``None`` for none; ``*_open`` excludes the
    bound), ``whole`` (a whole number from ``low``), ``wholes`` (one or more, each from
    ``low``), ``pair`` (two numbers, each within the bounds), ``bool`` or ``choice``.

    >>> Allowed("number", 0, 1, high_open=True).accepts(1.0), Allowed("whole", 1).accepts(2.0)
    (False, True)
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def accepts(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if self.kind == "pair":
            return isinstance(value, (tuple, list)) and len(value) == 2 and all(self._number_ok(v) for v in value)
        if self.kind == "wholes":
            items = value if isinstance(value, (tuple, list)) else (value,)
            return bool(items) and all(self._whole_ok(v) for v in items)
        return self._whole_ok(value) if self.kind == "whole" else self._number_ok(value)

    def _number_ok(self, v: Any) -> bool:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v)):
            return False
        low_ok = self.low is None or (v > self.low if self.low_open else v >= self.low)
        return low_ok and (self.high is None or (v < self.high if self.high_open else v <= self.high))

    def _whole_ok(self, v: Any) -> bool:
        whole = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
        return whole and not isinstance(v, bool) and self._number_ok(v)

    def text(self) -> Text:
        """What is allowed, as a catalogue text (``spec.setting.*``)."""
        if self.kind in ("bool", "choice"):
            return Text("spec.setting.bool") if self.kind == "bool" else Text("spec.setting.choice", choices=", ".join(self.choices))
        if self.kind in ("whole", "wholes"):
            key = "spec.setting.whole_to" if self.kind == "whole" and self.high is not None else f"spec.setting.{self.kind}"
            return Text(key, low=fmt_number(self.low or 0), high=fmt_number(self.high))
        bounds = ("above" if self.low_open else "from") if self.low is not None else "any"
        bounds += ("_below" if self.high_open else "_to") if self.high is not None else ""
        key = "spec.setting.pair" if self.kind == "pair" else "spec.setting.number"
        if bounds == "any":
            return Text(key + "_any")
        return Text(key, bounds=Text(f"spec.setting.bounds.{bounds}", low=fmt_number(self.low), high=fmt_number(self.high)))


def fmt_number(value: float | None) -> str:
    """``1.0`` → ``1``, ``0.5`` → ``0.5`` (a bound as a user writes it)."""
    return "-" if value is None else (str(int(value)) if float(value).is_integer() else repr(float(value)))


#: The ranges torch.optim checks itself, said before it is asked (settings of the same name
#: mean the same in every optimiser; one whose default is of another form, Adafactor's
#: ``eps`` pair, is left to torch).
OPTIMIZER_RULES: dict[str, Allowed] = {
    "momentum": Allowed("number", 0),
    "eps": Allowed("number", 0),
    "betas": Allowed("pair", 0, 1, high_open=True),
    "rho": Allowed("number", 0, 1),
    "lr_decay": Allowed("number", 0),
    "initial_accumulator_value": Allowed("number", 0),
    "momentum_decay": Allowed("number", 0),
    "line_search_fn": Allowed("choice", choices=("strong_wolfe",)),
}


def setting_refusal(
    args: Mapping[str, Any], defaults: Mapping[str, Any], rules: Mapping[str, Allowed], counts: Mapping[str, int] | None = None,
) -> Text | None:
    """Why the first refused setting of ``args`` is refused (a catalogue text naming it, its
    value and what is allowed), or ``None``: what optimisers and schedules share.

    ``defaults``: torch's defaults by name (a setting whose default is a number must be a
    number, one whose default is true/false must be true or false, torch's fused kernels
    taking no 0/1); ``rules``: what a setting allows by name; ``counts``: settings that count
    iterations or kept steps, whole numbers from 1 to a limit.

    >>> str(setting_refusal({"step_size": 0}, {}, {"step_size": Allowed("whole", 1)}).render("en"))
    'step_size must be a whole number from 1, not 0'
    """
    for key, value in args.items():
        default = defaults.get(key)
        if value is None and key in defaults and default is None:  # torch's own "none" (L-BFGS's max_eval)
            continue
        rule = rules.get(key)
        if counts and key in counts:
            rule = Allowed("whole", 1, counts[key])
        elif rule is None or (rule.kind == "number" and isinstance(default, (tuple, list))):
            if isinstance(default, bool):
                rule = Allowed("bool")
            elif isinstance(default, (int, float)):
                rule = Allowed("number")
            else:
                continue
        if not rule.accepts(value):
            shown = written(value) if not isinstance(value, str) else repr(value)
            return Text("spec.setting.refused", name=key, value=shown, allowed=rule.text())
    return None


def optimizer_refusal(optimizer: str, args: Mapping[str, Any], defaults: Mapping[str, Any]) -> Text | None:
    """:func:`setting_refusal` with :data:`OPTIMIZER_RULES` and :data:`COUNT_LIMITS`, then the
    combinations torch.optim refuses (Nesterov momentum, Rprop's etas)."""
    reason = setting_refusal(args, defaults, OPTIMIZER_RULES, COUNT_LIMITS.get(optimizer, {}))
    if reason is None and args.get("nesterov") is True and (not args.get("momentum") or args.get("dampening", 0) != 0):
        reason = Text("spec.setting.nesterov")
    etas = args.get("etas")
    if reason is None and isinstance(etas, (tuple, list)) and len(etas) == 2 and not 0 < etas[0] < 1 < etas[1]:
        reason = Text("spec.setting.etas", value=written(etas))
    return reason


def torch_refusal(exc: BaseException) -> Text:
    """A refusal no rule foresaw, in torch's own words inside a message in the user's language."""
    return Text("spec.setting.torch", detail=str(exc) or type(exc).__name__)


def parse_optimizer_args(items: Iterable[str], error_key: str = "spec.bad_optimizer_arg") -> dict[str, Any]:
    """Optimiser settings from their text forms (the CLI's ``--opt``, the browser's URL).

    ``NAME=VALUE`` each: ``true``/``false``, ``none``, a number, a pair ``0.9,0.999``, or
    any other word (``line_search_fn=strong_wolfe``; the spec checks it). A malformed item
    raises :class:`SpecError` with ``error_key`` and ``value=item``.

    >>> parse_optimizer_args(["momentum=0.9", "betas=0.9,0.99", "nesterov=true"])
    {'momentum': 0.9, 'betas': (0.9, 0.99), 'nesterov': True}
    """
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name or not raw:
            raise SpecError(error_key, value=item)
        if name in out:  # as the grid and the sweep do: a second value is refused, not silently taken
            raise SpecError("optargs.duplicate", name=name)
        value: Any
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        elif raw.lower() == "none":
            value = None
        elif "," in raw:
            try:
                value = tuple(_number(v.strip()) for v in raw.split(","))
            except ValueError:
                raise SpecError("optargs.bad_list", name=name, value=raw) from None
        else:
            try:
                value = _number(raw)
            except ValueError:
                value = raw
        out[name] = value
    return out


def _number(raw: str) -> int | float:
    """``"30"`` → ``30`` (a whole number stays one: milestones are saved as written), ``"0.9"`` → ``0.9``."""
    return float(raw) if any(c in raw for c in ".eEn") else int(raw)


def written(value: Any) -> str:
    """A setting's value as a user writes it (``--opt``, a link): ``true``, ``none``, ``0.9,0.999``.

    >>> written(True), written(None), written((0.9, 2.0)), written([30, 60]), written(0.5)
    ('true', 'none', '0.9,2.0', '30,60', '0.5')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(written(v) for v in value)
    return str(value)


def written_args(args: Mapping[str, Any]) -> str:
    """Settings as a user writes them, ``NAME=VALUE`` separated by spaces (``-`` for none).

    >>> written_args({"momentum": 0, "nesterov": True, "betas": (0.9, 2.0)})
    'momentum=0 nesterov=true betas=0.9,2.0'
    """
    return " ".join(f"{k}={written(v)}" for k, v in args.items()) or "-"


def strict_int(v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError("bool is not an int")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not an integer")
        return int(v)
    return int(str(v).strip()) if isinstance(v, str) else int(v)


def registry_name(registry: Any, v: Any) -> str:
    if not isinstance(v, str):
        raise SpecError("spec.invalid", field=registry.kind, value=fmt(v), allowed=", ".join(registry.names()))
    try:
        return registry.get(v).name
    except RegistryError as exc:
        field = registry.kind
        if exc.key == "registry.refused":
            raise SpecError("spec.refused", field=field, value=v, reason=exc.params["reason"]) from None
        raise SpecError("spec.invalid", field=field, value=v, allowed=", ".join(registry.names())) from None


def in_range(field: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    bad = not isinstance(value, (int, float)) or isinstance(value, bool)
    bad = bad or (isinstance(value, int) and not -(2**1023) < value < 2**1023) or not math.isfinite(value)  # no float holds it
    bad = bad or value > high or (value <= low if low_open else value < low)
    if bad:
        key = "spec.allowed.range_open" if low_open else "spec.allowed.range"
        raise SpecError("spec.invalid", field=field, value=value, allowed=Text(key, low=low, high=high))


def fmt(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


#: pydantic's error types → the catalogue's words for what is allowed (``spec.allowed.type.*``).
_TYPE_TEXTS = {
    "string_type": "text", "int_type": "whole_number", "int_parsing": "whole_number", "int_from_float": "whole_number",
    "float_type": "number", "float_parsing": "number", "finite_number": "finite_number", "bool_type": "boolean",
    "bool_parsing": "boolean", "dict_type": "mapping", "tuple_type": "list", "list_type": "list", "literal_error": "one_of",
}


def allowed_by_type(err: Mapping[str, Any]) -> Text | str:
    """What a value of the kind pydantic's error ``err`` expected may be, as a catalogue text
    (in the language of the message it ends up in); pydantic's own English words for a kind
    of error the catalogue does not name."""
    kind = _TYPE_TEXTS.get(err.get("type", ""))
    if kind is None:
        return str(err["msg"])
    return Text(f"spec.allowed.type.{kind}", expected=(err.get("ctx") or {}).get("expected", ""))


def to_spec_error(exc: ValidationError, data: Mapping[str, Any], fields: Iterable[str]) -> SpecError:
    """Turn pydantic's first error into one SpecError naming field, value and what is allowed
    (``fields``: the spec's field names, for an unknown one)."""
    err = exc.errors()[0]
    original = (err.get("ctx") or {}).get("error")
    if isinstance(original, SpecError):
        return original
    loc = [str(p) for p in err["loc"]]
    field = loc[0] if loc else "?"
    if err["type"] == "extra_forbidden":
        return SpecError("spec.unknown_field", field=field, allowed=", ".join(fields))
    value = data.get(field, err.get("input"))
    allowed_key = f"spec.allowed.{field}"
    # A Text, rendered with the error's message, so it comes out in the language asked for then.
    allowed: Text | str
    if field == "optimizer_args":
        allowed = Text("spec.allowed.optimizer_args")
    else:
        allowed = Text(allowed_key) if allowed_key in ALLOWED_KEYS else allowed_by_type(err)
    return SpecError("spec.invalid", field=field, value=fmt(value), allowed=allowed)


ALLOWED_KEYS = {
    f"spec.allowed.{f}"
    for f in (
        "problem", "n_samples", "noise", "train_pct", "val_pct", "test_pct", "seed", "init_seed", "shuffle_seed",
        "lr", "weight_decay", "l1", "l2", "epochs", "patience", "min_delta", "shuffle", "restore_best", "device", "dtype",
        "training_loop",
    )
}
