"""TensorFlow Playground link settings ↔ the spec's fields, as plain data.

One table of correspondences, used both ways:

========================  =====================================================
link parameter            spec field
========================  =====================================================
problem, dataset /        dataset (the one of the link's problem); the output
regDataset                activation follows the problem (tanh / identity)
noise                     noise
percTrainData             train_pct (val_pct 0, test_pct the rest)
seed                      tf_playground_seed (the data and initial weights are
                          drawn from TensorFlow Playground's stream)
x, y, xSquared, …         features (x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2)
networkShape              hidden
activation                activation (linear ↔ identity)
learningRate              lr
regularization + rate     l1 or l2
batchSize                 batch_size
initZero                  init (zero / playground)
========================  =====================================================

Every link also sets ``training_loop = "tf-playground"``, half squared error, plain SGD
without weight decay, no reshuffling and float64. The parameters that change only
what TensorFlow Playground shows (``showTestData``, ``discretize``, ``collectStats``,
``hideText``, ``tutorial``, the ``_hide`` keys, ``cosX``/``cosY``, the other problem's
data set, a regularisation without effect, inputs hidden by ``_hide``) are kept in
``tf_playground_view`` in their link text, so link → spec → link is the identity.

Pure and I/O-free: dicts in, dicts out (the spec itself is built one layer up, in
:mod:`torchground.train.tfpg_run`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from torchground.data.tfpg_link import (
    DEFAULTS,
    HIDE_SUFFIX,
    INPUT_FEATURES,
    INPUTS,
    PARAMS,
    LinkError,
    LinkSettings,
    _HIDE_NAME,
    _text,
    _value,
    js_number,
)
from torchground.i18n import Text

__all__ = [
    "TRAINING_LOOPS",
    "VIEW_PARAMS",
    "SEED_MAX_LENGTH",
    "PARAM_OF_FIELD",
    "check_view",
    "check_seed",
    "spec_fields",
    "link_settings",
]

#: The spec's ``training_loop`` values: the curriculum's PyTorch loop, or TensorFlow Playground's.
TRAINING_LOOPS: tuple[str, ...] = ("pytorch", "tf-playground")

#: Link parameters that only change what TensorFlow Playground shows (besides ``NAME_hide``).
VIEW_PARAMS: tuple[str, ...] = (
    "showTestData", "discretize", "collectStats", "hideText", "tutorial", "cosX", "cosY",
    "dataset", "regDataset", "regularization", "regularizationRate", *INPUTS,
)

SEED_MAX_LENGTH = 200

#: The link parameter each spec field comes from (to word refusals in the link's terms).
PARAM_OF_FIELD: Mapping[str, str] = {
    "dataset": "dataset", "noise": "noise", "train_pct": "percTrainData", "test_pct": "percTrainData",
    "features": "x, y, xSquared, ySquared, xTimesY, sinX, sinY", "hidden": "networkShape", "activation": "activation",
    "lr": "learningRate", "l1": "regularizationRate", "l2": "regularizationRate", "batch_size": "batchSize",
    "tf_playground_seed": "seed", "tf_playground_view": "showTestData, discretize, …",
}

_ACTIVATION_TO_SPEC = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "identity"}
_ACTIVATION_TO_LINK = {v: k for k, v in _ACTIVATION_TO_SPEC.items()}
_FEATURE_TO_INPUT = {v: k for k, v in INPUT_FEATURES.items()}


def check_seed(seed: str) -> str:
    """A seed string a link can hold: 1 to 200 characters, none of ``& = #`` or white space."""
    bad = not isinstance(seed, str) or not 1 <= len(seed) <= SEED_MAX_LENGTH
    if bad or any(c in "&=#" or c.isspace() for c in seed):
        raise LinkError("tfpg.malformed", name="seed", value=seed, allowed=Text("tfpg.allowed.seed", max=SEED_MAX_LENGTH))
    return seed


def check_view(view: Mapping[str, Any]) -> dict[str, str]:
    """Check ``tf_playground_view``: known keys, each value valid for its parameter.

    Values are kept as link text (``"true"``, ``"0.003"``, ``"reg-gauss"``); an input
    (``x``, ``sinX``, …) may only be there when the view also hides it (``x_hide``).

    >>> check_view({"showTestData": "true", "x_hide": "true", "x": "false"})
    {'showTestData': 'true', 'x_hide': 'true', 'x': 'false'}
    """
    if not isinstance(view, Mapping):
        raise LinkError("tfpg.view_not_table", value=type(view).__name__)
    out: dict[str, str] = {}
    for name, raw in view.items():
        text = js_number(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else raw
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        if not isinstance(name, str) or not isinstance(text, str):
            raise LinkError("tfpg.view_unknown", name=str(name), allowed=", ".join(VIEW_PARAMS))
        if _HIDE_NAME.match(name):
            if text not in ("true", "false"):
                raise LinkError("tfpg.malformed", name=name, value=text, allowed=Text("tfpg.allowed.boolean"))
        elif name in VIEW_PARAMS:
            _value(name, text)
            if name in INPUTS and view.get(name + HIDE_SUFFIX) not in ("true", True):
                raise LinkError("tfpg.view_input_not_hidden", name=name)
        else:
            raise LinkError("tfpg.view_unknown", name=name, allowed=", ".join(VIEW_PARAMS) + ", NAME_hide")
        out[name] = text
    return out


def spec_fields(settings: LinkSettings) -> tuple[dict[str, Any], list[Text]]:
    """The spec fields of a link, and notes for the user (cosX/cosY ignored, hidden inputs).

    ``tf_playground_seed`` is the link's seed, or ``None`` when it has none (the caller
    draws a fresh one, as TensorFlow Playground does).
    """
    v = settings.values
    problem = v["problem"]
    reg, rate = v["regularization"], v["regularizationRate"]
    effective = reg != "none" and rate > 0
    fields: dict[str, Any] = {
        "dataset": settings.data_set,
        "noise": v["noise"],
        "train_pct": v["percTrainData"],
        "val_pct": 0,
        "test_pct": 100 - v["percTrainData"] if isinstance(v["percTrainData"], (int, float)) else None,
        "features": [INPUT_FEATURES[name] for name in settings.inputs],
        "hidden": list(v["networkShape"]),
        "activation": _ACTIVATION_TO_SPEC[v["activation"]],
        "output_activation": "tanh" if problem == "classification" else "identity",
        "init": "zero" if v["initZero"] else "playground",
        "loss": "half_mse",
        "optimizer": "sgd",
        "optimizer_args": {},
        "weight_decay": 0.0,
        "lr": v["learningRate"],
        "l1": rate if effective and reg == "L1" else 0.0,
        "l2": rate if effective and reg == "L2" else 0.0,
        "batch_size": v["batchSize"],
        "shuffle": False,
        "training_loop": "tf-playground",
        "tf_playground_seed": v["seed"],
        "dtype": "float64",
    }
    view: dict[str, str] = {}
    for name in ("showTestData", "discretize", "collectStats", "hideText", "cosX", "cosY", "tutorial"):
        if v[name] != DEFAULTS[name]:
            view[name] = _text(name, v[name])
    other = "regDataset" if problem == "classification" else "dataset"
    if v[other] != DEFAULTS[other]:
        view[other] = v[other]
    if not effective:
        if reg != "none":
            view["regularization"] = reg
        if rate != 0:
            view["regularizationRate"] = js_number(rate)
    for name in INPUTS:
        if settings.hidden(name) and v[name] != DEFAULTS[name]:
            view[name] = _text(name, v[name])
    for name, hidden in settings.hides.items():
        view[name] = "true" if hidden else "false"
    fields["tf_playground_view"] = view
    notes: list[Text] = []
    cos = [n for n in ("cosX", "cosY") if v[n]]
    if cos:
        notes.append(Text("tfpg.note.cos", names=", ".join(cos)))
    hidden_inputs = [n for n in INPUTS if v[n] and settings.hidden(n)]
    if hidden_inputs:
        notes.append(Text("tfpg.note.hidden_inputs", names=", ".join(hidden_inputs)))
    return fields, notes


def _number_ok(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def link_settings(fields: Mapping[str, Any], n_train: int) -> tuple[LinkSettings | None, list[Text]]:
    """The link settings of a spec (its fields as a plain dict), or the reasons there are none.

    Args:
        fields: the spec's fields (``Spec.to_dict()``).
        n_train: the spec's number of training points (a "full" batch is that many).

    Returns:
        ``(settings, [])``, or ``(None, reasons)`` with one message per setting
        TensorFlow Playground cannot show.
    """
    f = fields
    why: list[Text] = []

    def refuse(field: str, value: Any, reason: str, **params: Any) -> None:
        why.append(Text("tfpg.cannot.item", field=field, value=value, reason=Text(f"tfpg.cannot.{reason}", **params)))

    if f.get("training_loop") != "tf-playground":
        refuse("training_loop", f.get("training_loop"), "loop")
    if f.get("tf_playground_seed") is None:
        refuse("tf_playground_seed", None, "seed", seed=f.get("seed"))
    if f["activation"] not in _ACTIVATION_TO_LINK:
        refuse("activation", f["activation"], "activation")
    expected_out = "tanh" if f["problem"] == "classification" else "identity"
    if f["output_activation"] != expected_out:
        refuse("output_activation", f["output_activation"], "output", problem=f["problem"], expected=expected_out)
    if f["loss"] != "half_mse":
        refuse("loss", f["loss"], "loss")
    if f["optimizer"] != "sgd" or f.get("optimizer_args"):
        refuse("optimizer", f["optimizer"], "optimizer")
    if f.get("weight_decay"):
        refuse("weight_decay", f["weight_decay"], "weight_decay")
    if f["l1"] and f["l2"]:
        refuse("l1, l2", f"{f['l1']}, {f['l2']}", "both_penalties")
    if f["init"] not in ("playground", "zero"):
        refuse("init", f["init"], "init")
    features = list(f["features"])
    unknown = [name for name in features if name not in _FEATURE_TO_INPUT]
    if unknown:
        refuse("features", ", ".join(unknown), "features")
    elif features != [INPUT_FEATURES[i] for i in INPUTS if INPUT_FEATURES[i] in features]:
        refuse("features", ", ".join(features), "feature_order")
    view = dict(f.get("tf_playground_view") or {})
    hidden = [i for i in INPUTS if view.get(i + HIDE_SUFFIX) == "true" and INPUT_FEATURES[i] in features]
    if hidden:
        refuse("features", ", ".join(INPUT_FEATURES[i] for i in hidden), "hidden_input", names=", ".join(i + HIDE_SUFFIX for i in hidden))
    if f["val_pct"]:
        refuse("val_pct", f["val_pct"], "validation")
    default_n = 500 if f["problem"] == "classification" else 1200
    if f["n_samples"] != default_n:
        refuse("n_samples", f["n_samples"], "n_samples", n=default_n)
    if f.get("shuffle"):
        refuse("shuffle", True, "shuffle")
    if why:
        return None, why

    hides = {name: text == "true" for name, text in view.items() if _HIDE_NAME.match(name)}
    values: dict[str, Any] = dict(DEFAULTS)
    for name in VIEW_PARAMS:
        if name in view:
            values[name] = _value(name, view[name])
    problem = f["problem"]
    values["problem"] = problem
    values["dataset" if problem == "classification" else "regDataset"] = f["dataset"]
    values["noise"] = _plain(f["noise"])
    values["percTrainData"] = f["train_pct"]
    values["seed"] = f["tf_playground_seed"]
    for name in INPUTS:  # a hidden input keeps the view's value (or the default): it is not in the network
        if not hides.get(name + HIDE_SUFFIX):
            values[name] = INPUT_FEATURES[name] in features
    values["networkShape"] = tuple(f["hidden"])
    values["activation"] = _ACTIVATION_TO_LINK[f["activation"]]
    values["learningRate"] = _plain(f["lr"])
    if f["l1"] or f["l2"]:
        values["regularization"] = "L1" if f["l1"] else "L2"
        values["regularizationRate"] = _plain(f["l1"] or f["l2"])
    values["batchSize"] = n_train if f["batch_size"] == "full" else f["batch_size"]
    values["initZero"] = f["init"] == "zero"
    assert set(values) == set(PARAMS)
    return LinkSettings(values, hides, frozenset(PARAMS)), []


def _plain(value: Any) -> int | float:
    """A number as a link holds it: whole numbers as ints (so 10.0 prints as 10)."""
    return int(value) if _number_ok(value) and float(value).is_integer() and abs(value) < 2**53 else value
