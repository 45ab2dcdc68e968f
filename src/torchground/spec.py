"""The experiment spec: one validated, immutable object holding everything a user can set.

CLI flags, TOML/JSON files, presets, the page's URLs (:mod:`torchground.server.urlstate`)
and sweep grids (:mod:`torchground.engine.sweep.grid`) are all views of a :class:`Spec`.
Validation lives here and only here: a wrong value is refused with a
:class:`~torchground.errors.SpecError` whose message names the field, the value and what
is allowed. Serialisation is pure (text in, text out; no files, no seeding).

A few fields default to ``None`` and are *resolved* from others when the spec is made, so
a stored spec is always complete: ``problem`` and ``n_samples`` from the data set,
``output_activation`` from the problem, ``weight_decay`` from the optimiser (the recipe's
0.03 where the optimiser takes one, else 0).

Example:
    >>> spec = Spec()
    >>> spec.dataset, spec.hidden, spec.n_samples, spec.output_activation
    ('circle', (3, 3), 500, 'tanh')
    >>> Spec.from_json(spec.to_json()) == spec
    True
    >>> Spec(hidden=(3, 300))
    Traceback (most recent call last):
    ...
    torchground.errors.SpecError: hidden = (3, 300): not allowed. Allowed: 0 to 16 layers, each of 1 to 256 neurons
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any, Literal, Mapping

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from torchground.data.datasets import DATASETS
from torchground.errors import SpecError
from torchground.data.tfpg_link import LinkError
from torchground.data.tfpg_datasets import MAX_RESETS
from torchground.data.tfpg_spec import TRAINING_LOOPS, check_seed, check_view
from torchground.data.features import FEATURES
from torchground.data.spec_data import CSV, carry_over, is_dataset, resolve_data, split_text
from torchground.i18n import Text
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, optimizer_params
from torchground.spec_rules import (PRESETS, dummy_step, fmt, form_reason, in_range, optimizer_refusal, parse_optimizer_args,
                                     refuse_surrogates, registry_name, strict_int, to_spec_error, torch_refusal, validate_form,
                                     written_args)
from torchground.schedules import check_scheduler, parse_name as _scheduler_name

__all__ = ["Spec", "PRESETS", "SPEC_FIELDS", "MAX_LAYERS", "MAX_WIDTH", "MAX_EPOCHS", "parse_optimizer_args"]

MAX_LAYERS = 16
MAX_WIDTH = 256
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1
MAX_SAMPLES = 100_000

# Output activations whose range lies in [-1, 1], so that BCE's (output + 1) / 2 is a probability.
_UNIT_RANGE_OUTPUTS = {"tanh", "softsign", "hardtanh", "sigmoid", "hardsigmoid"}

OptimizerArg = bool | int | float | str | tuple[float, float] | None


class Spec(BaseModel):
    """Everything that defines one experiment. Immutable; build changed copies with :meth:`replace`.

    Args:
        problem: "classification" or "regression"; resolved from ``dataset``.
        dataset: circle (default), xor, gauss, spiral, reg-plane, reg-gauss.
        n_samples: points generated (default 500 for classification, 1200 for regression).
        noise: Playground noise in percent, 0–50 (default 0).
        train_pct, val_pct, test_pct: split in percent (default 50/50/0; each 0–90,
            train ≥ 10, sum 100).
        seed, init_seed, shuffle_seed: seeds of the data, the initial weights and the
            batch order (default 0 each).
        features: input features (default x1, x2).
        hidden: hidden-layer widths, 0–16 layers of 1–256 (default (3, 3)).
        activation: hidden activation (default tanh).
        output_activation: default tanh for classification, identity for regression.
        init: xavier (default), playground, zero, kaiming, torch.
        loss: default mse. optimizer: default sgd.
        lr: learning rate (default 0.03). weight_decay: the optimiser's own weight decay
            (default 0.03 where the optimiser takes one, else 0).
        optimizer_args: the optimiser's other hyper-parameters (momentum, betas, …).
        scheduler, scheduler_args: a learning-rate schedule stepped after each epoch (step,
            multistep, exponential, cosine, onecycle, plateau; default None) and its
            settings; see :mod:`torchground.schedules`.
        l1, l2: Playground-style penalties on weights only (not biases), default 0.
        batch_size: 1…N or "full" (default 15). shuffle: reshuffle each epoch (default on).
        epochs: default 100. patience, min_delta, restore_best: early stopping on the
            validation loss (off while ``patience`` is None).
        device: auto, cpu or cuda. dtype: float32 or float64.
        data_file, data_sha256, classes, class_names, standardize, input_mean, input_scale:
            a CSV data file (dataset "csv") and its SHA-256, the number of classes (2, or
            3 to 10 with K outputs and cross-entropy), their names, and the inputs'
            standardisation; see :mod:`torchground.data.spec_data`.
        training_loop: "pytorch" (default: the curriculum's loop, a ``torch.optim`` step per
            batch) or "tf-playground" (TensorFlow Playground's loop: derivatives summed point
            by point, a step with their mean every ``batch_size`` points, a partial batch
            carried into the next epoch, its L1 dead-weight rule, losses of the whole sets
            after each epoch; see :mod:`torchground.train.playground_loop`).
        tf_playground_seed: a TensorFlow Playground seed text (default None); when set, the
            data and the initial weights (init playground or zero) are TensorFlow
            Playground's, drawn from its random stream seeded with it (``init_seed`` then
            counts its reset button's presses, 0 to 1000).
        tf_playground_view: the settings of a TensorFlow Playground link that change only
            what it shows (``showTestData``, ``_hide`` keys, …), kept as link text so that
            the link comes back unchanged (default empty).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    problem: Literal["classification", "regression"] | None = None
    dataset: str = "circle"
    n_samples: int | None = None
    noise: float = 0.0
    train_pct: int = 50
    val_pct: int = 50
    test_pct: int = 0
    seed: int = 0
    init_seed: int = 0
    shuffle_seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (3, 3)
    activation: str = "tanh"
    output_activation: str | None = None
    init: str = "xavier"
    loss: str | None = None
    optimizer: str = "sgd"
    lr: float = 0.03
    weight_decay: float | None = None
    optimizer_args: dict[str, OptimizerArg] = {}
    scheduler: str | None = None
    scheduler_args: dict[str, bool | int | float | str | tuple[int | float, ...] | None] = {}  # milestones stay whole
    l1: float = 0.0
    l2: float = 0.0
    batch_size: int | Literal["full"] = 15
    shuffle: bool = True
    epochs: int = 100
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    training_loop: Literal["pytorch", "tf-playground"] = "pytorch"
    tf_playground_seed: str | None = None
    tf_playground_view: dict[str, str] = {}
    data_file: str | None = None
    data_sha256: str | None = None
    classes: int | None = None
    class_names: tuple[str, ...] | None = None
    standardize: bool | None = None
    input_mean: tuple[float, float] | None = None
    input_scale: tuple[float, float] | None = None

    def __hash__(self) -> int:  # optimizer_args is a dict: hash the canonical JSON instead
        return hash(self.to_json(indent=None))

    # -- construction with our own error type -------------------------------------------------
    def __init__(self, **data: Any) -> None:
        refuse_surrogates(data)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise to_spec_error(exc, data, type(self).model_fields) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> "Spec":  # type: ignore[override]
        if not isinstance(obj, Mapping):
            raise SpecError("spec.not_a_table", value=type(obj).__name__)
        return cls(**dict(obj))

    # -- field checks -------------------------------------------------------------------------
    @field_validator("dataset", mode="before")
    @classmethod
    def _dataset(cls, v: Any) -> str:
        name = v.strip().lower().replace("_", "-") if isinstance(v, str) else None
        if not is_dataset(name):
            raise SpecError("spec.invalid", field="dataset", value=v, allowed=", ".join([*DATASETS, CSV]))
        return name

    @field_validator("class_names", "input_mean", "input_scale", mode="before")
    @classmethod
    def _data_texts(cls, v: Any, info: Any) -> Any:
        return split_text(info.field_name, v)  # the CLI's and URL's text forms ("a,b,c")

    @field_validator("features", mode="before")
    @classmethod
    def _features(cls, v: Any) -> tuple[str, ...]:
        if isinstance(v, str):
            names = tuple(s.strip().lower() for s in v.split(","))
        elif isinstance(v, (list, tuple)) and all(isinstance(n, str) for n in v):
            names = tuple(v)
        else:
            names = ()
        bad = [n for n in names if n not in FEATURES]
        if not names or bad or len(set(names)) != len(names):
            raise SpecError("spec.invalid", field="features", value=fmt(v), allowed=Text("spec.allowed.features", names=", ".join(FEATURES)))
        return names

    @field_validator("hidden", mode="before")
    @classmethod
    def _hidden(cls, raw: Any) -> tuple[int, ...]:
        v = raw
        if isinstance(v, str):
            v = [] if v.strip() in ("", "none", "0") else v.split(",")
        elif not isinstance(v, (list, tuple)):
            v = None
        try:
            widths = tuple(strict_int(w) for w in v)
        except (TypeError, ValueError):
            widths = None
        if widths is None or len(widths) > MAX_LAYERS or any(not 1 <= w <= MAX_WIDTH for w in widths):
            raise SpecError("spec.invalid", field="hidden", value=fmt(raw), allowed=Text("spec.allowed.hidden", layers=MAX_LAYERS, width=MAX_WIDTH))
        return widths

    @field_validator("activation", "output_activation", mode="before")
    @classmethod
    def _activation(cls, v: Any) -> str | None:
        return None if v is None else registry_name(ACTIVATIONS, v)

    @field_validator("init", mode="before")
    @classmethod
    def _init(cls, v: Any) -> str:
        return registry_name(INITS, v)

    @field_validator("loss", mode="before")
    @classmethod
    def _loss(cls, v: Any) -> str | None:
        return None if v is None else registry_name(LOSSES, v)

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer(cls, v: Any) -> str:
        return registry_name(OPTIMIZERS, v)

    @field_validator(
        "n_samples", "noise", "train_pct", "val_pct", "test_pct", "seed", "init_seed", "shuffle_seed", "lr",
        "weight_decay", "l1", "l2", "epochs", "patience", "min_delta", mode="before",
    )
    @classmethod
    def _not_bool(cls, v: Any, info: Any) -> Any:
        if isinstance(v, bool):  # pydantic would read true as 1
            raise SpecError("spec.invalid", field=info.field_name, value=v, allowed=Text(f"spec.allowed.{info.field_name}"))
        return v

    @field_validator("scheduler", mode="before")
    @classmethod
    def _scheduler(cls, v: Any) -> str | None:
        return _scheduler_name(v)

    @field_validator("training_loop", mode="before")
    @classmethod
    def _training_loop(cls, v: Any) -> str:
        name = v.strip().lower() if isinstance(v, str) else None
        if name not in TRAINING_LOOPS:
            raise SpecError("spec.invalid", field="training_loop", value=v, allowed=", ".join(TRAINING_LOOPS))
        return name

    @field_validator("tf_playground_seed", mode="before")
    @classmethod
    def _tf_seed(cls, v: Any) -> str | None:
        if v is None:
            return None
        try:
            return check_seed(v)
        except LinkError as exc:
            raise SpecError("spec.invalid", field="tf_playground_seed", value=v, allowed=exc.params["allowed"]) from None

    @field_validator("tf_playground_view", mode="before")
    @classmethod
    def _tf_view(cls, v: Any) -> dict[str, str]:
        try:
            return check_view(v)
        except LinkError as exc:
            raise SpecError("spec.refused", field="tf_playground_view", value=fmt(v), reason=Text(exc.key, **exc.params)) from None

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() == "full":
            return "full"
        try:
            if isinstance(v, bool):
                raise TypeError("bool")
            return strict_int(v)
        except (TypeError, ValueError):
            raise SpecError("spec.invalid", field="batch_size", value=v, allowed=Text("spec.allowed.batch_size")) from None

    # -- resolution and cross-field checks ------------------------------------------------------
    @model_validator(mode="after")
    def _resolve(self) -> "Spec":
        info = resolve_data(self, _set)
        if self.problem is not None and self.problem != info.problem:
            raise SpecError("spec.problem_mismatch", value=self.problem, dataset=self.dataset, problem=info.problem)
        _set(self, "problem", info.problem)
        if self.n_samples is None:
            _set(self, "n_samples", info.default_n)
        if self.output_activation is None:
            _set(self, "output_activation", "tanh" if info.problem == "classification" else "identity")
        opt = OPTIMIZERS.get(self.optimizer)
        if self.weight_decay is None:  # TensorFlow Playground's loop has no weight decay
            _set(self, "weight_decay", 0.03 if opt.info["weight_decay"] and self.training_loop == "pytorch" else 0.0)
        self._check_ranges()
        self._check_split()
        self._check_loss()
        self._check_optimizer(opt.info)
        self._check_training_loop()
        self._check_scheduler(opt.info)
        return self

    def _check_ranges(self) -> None:
        in_range("n_samples", self.n_samples, 2, MAX_SAMPLES)
        in_range("noise", self.noise, 0, 50)
        for name in ("seed", "init_seed", "shuffle_seed"):
            in_range(name, getattr(self, name), 0, MAX_SEED)
        in_range("lr", self.lr, 0, 100, low_open=True)
        in_range("weight_decay", self.weight_decay, 0, 100)
        in_range("l1", self.l1, 0, 100)
        in_range("l2", self.l2, 0, 100)
        in_range("epochs", self.epochs, 1, MAX_EPOCHS)
        if self.patience is not None:
            in_range("patience", self.patience, 1, MAX_EPOCHS)
        in_range("min_delta", self.min_delta, 0, 1e6)

    def _check_split(self) -> None:
        for name in ("train_pct", "val_pct", "test_pct"):
            in_range(name, getattr(self, name), 0, 90)
        if self.train_pct < 10:
            raise SpecError("spec.invalid", field="train_pct", value=self.train_pct, allowed=Text("spec.allowed.train_pct"))
        total = self.train_pct + self.val_pct + self.test_pct
        if total != 100:
            raise SpecError("spec.split_sum", train=self.train_pct, val=self.val_pct, test=self.test_pct, total=total)
        n_train = self.n_train
        if self.batch_size != "full" and not 1 <= self.batch_size <= n_train:
            raise SpecError("spec.invalid", field="batch_size", value=self.batch_size, allowed=Text("spec.allowed.batch_size_n", n=n_train))
        if self.patience is not None and self.val_pct == 0:
            raise SpecError("spec.patience_needs_val")

    def _check_loss(self) -> None:
        entry = LOSSES.get(self.loss)
        if (self.classes or 2) > 2 or "multiclass" in entry.info["problems"]:  # checked in data.spec_data
            return
        if self.problem not in entry.info["problems"]:
            raise SpecError("spec.loss_problem", loss=self.loss, problem=self.problem)
        if entry.info["output_range"] and self.output_activation not in _UNIT_RANGE_OUTPUTS:
            raise SpecError(
                "spec.loss_output", loss=self.loss, value=self.output_activation, allowed=", ".join(sorted(_UNIT_RANGE_OUTPUTS))
            )

    def _check_optimizer(self, info: Mapping[str, Any]) -> None:
        if self.weight_decay and not info["weight_decay"]:
            raise SpecError("spec.no_weight_decay", optimizer=self.optimizer, value=self.weight_decay)
        allowed = optimizer_params(self.optimizer)
        for key, value in self.optimizer_args.items():
            if key not in allowed:
                raise SpecError(
                    "spec.optimizer_arg_unknown", optimizer=self.optimizer, name=key, allowed=", ".join(sorted(allowed)) or "-"
                )
        kwargs = dict(self.optimizer_args)
        if info["weight_decay"]:
            kwargs["weight_decay"] = self.weight_decay
        # Ranges, forms and combinations said in the user's language (shared with schedules:
        # spec_rules.setting_refusal), then one step on a dummy parameter: some arguments are
        # only read there (LBFGS's line_search_fn, SGD's dampening, Rprop's step_sizes, ASGD's alpha)
        reason = optimizer_refusal(self.optimizer, self.optimizer_args, allowed)
        if reason is None:
            try:
                dummy_step(OPTIMIZERS.get(self.optimizer).build, self.lr, kwargs)
            except (ValueError, TypeError, RuntimeError, OverflowError, ZeroDivisionError, KeyError, IndexError, AttributeError) as exc:
                reason = torch_refusal(exc)
        if reason is not None:
            raise SpecError("spec.optimizer_arg_bad", optimizer=self.optimizer, args=written_args(self.optimizer_args), reason=reason)

    def _check_training_loop(self) -> None:
        """TensorFlow Playground's loop has no optimiser (so no schedule), one loss and no reshuffling."""
        if self.training_loop == "tf-playground":
            scheduler = getattr(self, "scheduler", None)
            for field, value, needed, wrong in (
                ("scheduler", scheduler, "-", scheduler is not None),
                ("optimizer", self.optimizer, "sgd", self.optimizer != "sgd"),
                ("optimizer_args", fmt(self.optimizer_args), "-", bool(self.optimizer_args)),
                ("weight_decay", self.weight_decay, 0, bool(self.weight_decay)),
                ("loss", self.loss, "half_mse", self.loss != "half_mse"),
                ("shuffle", self.shuffle, False, self.shuffle),
            ):
                if wrong:
                    raise SpecError("tfpg.loop_needs", field=field, value=value, needed=needed)
        if self.tf_playground_seed is not None and self.n_samples != DATASETS[self.dataset].default_n:
            raise SpecError("tfpg.seed_needs_n", value=self.n_samples, n=DATASETS[self.dataset].default_n)
        if self.tf_playground_seed is not None and self.init_seed > MAX_RESETS:  # init_seed counts its resets
            raise SpecError("spec.invalid", field="init_seed", value=self.init_seed, allowed=Text("tfpg.allowed.resets", limit=MAX_RESETS))

    def _check_scheduler(self, info: Mapping[str, Any]) -> None:
        """A schedule torch accepts with this optimiser (:mod:`torchground.schedules`), in the PyTorch loop."""
        if self.scheduler is not None and self.training_loop != "pytorch":
            raise SpecError("schedule.needs_pytorch_loop", value=self.training_loop)
        kwargs = {**self.optimizer_args, **({"weight_decay": self.weight_decay} if info["weight_decay"] else {})}
        check_scheduler(self.scheduler, self.scheduler_args, lambda p: OPTIMIZERS.get(self.optimizer).build(p, lr=self.lr, **kwargs), self.epochs)

    # -- derived values -------------------------------------------------------------------------
    @property
    def n_train(self) -> int:
        """Number of training points (the split rule of :func:`~torchground.data.datasets.split_dataset`)."""
        assert self.n_samples is not None
        return self.n_samples * self.train_pct // 100

    @property
    def n_inputs(self) -> int:
        """Width of the network's input: one column per feature."""
        return len(self.features)

    # -- copies, presets, serialisation ---------------------------------------------------------
    def replace(self, **changes: Any) -> "Spec":
        """A validated copy with ``changes`` applied; auto-resolved fields follow their sources.

        >>> Spec().replace(dataset="reg-plane").n_samples
        1200
        """
        data = self.to_dict()
        carry_over(data, changes)  # data files and K classes (data.spec_data)
        for name, source in _AUTO_FIELDS.items():
            if name not in changes and any(s in changes for s in source):
                try:  # a CSV spec is not made from its sources alone: its fields stay
                    default = getattr(Spec(**{k: data[k] for k in source if k in data}), name, None)
                except SpecError:
                    continue
                if data[name] == default:
                    data[name] = None
        data.update(changes)
        return Spec(**data)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "Spec":
        """The spec of preset ``name`` ("seed" or "playground") with ``overrides`` applied."""
        if name not in PRESETS:
            raise SpecError("spec.invalid", field="preset", value=name, allowed=", ".join(PRESETS))
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return json.loads(self.to_json())

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text; :meth:`from_json` gives back an equal spec."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "Spec":
        """Parse JSON text (refused with a :class:`SpecError` when malformed)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError("spec.bad_file", format="JSON", line=exc.lineno, reason=exc.msg) from None
        except (RecursionError, ValueError) as exc:  # nested too deeply; an integer of over 4300 digits
            raise SpecError("spec.bad_file", format="JSON", line="?", reason=form_reason(exc)) from None
        return validate_form(cls, data)

    def to_toml(self) -> str:
        """TOML text (``None`` fields are left out, as TOML has no null)."""
        data = {k: v for k, v in self.to_dict().items() if v is not None}
        data["optimizer_args"] = {k: v for k, v in data["optimizer_args"].items() if v is not None}
        return tomli_w.dumps(data)

    @classmethod
    def from_toml(cls, text: str) -> "Spec":
        """Parse TOML text (refused with a :class:`SpecError` when malformed)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else "?")
            raise SpecError("spec.bad_file", format="TOML", line=line, reason=str(exc)) from None
        except (RecursionError, ValueError) as exc:  # nested too deeply; an integer of over 4300 digits
            raise SpecError("spec.bad_file", format="TOML", line="?", reason=form_reason(exc)) from None
        return validate_form(cls, data)


# Fields resolved from others when left as None: field -> the fields it follows.
_AUTO_FIELDS: dict[str, tuple[str, ...]] = {
    "problem": ("dataset",),
    "n_samples": ("dataset",),
    "output_activation": ("dataset",),
    "weight_decay": ("optimizer",),
    "classes": ("dataset",),
    "loss": ("dataset", "classes"),
    "standardize": ("dataset",),
}

SPEC_FIELDS: tuple[str, ...] = tuple(Spec.model_fields)


def _set(spec: Spec, name: str, value: Any) -> None:
    object.__setattr__(spec, name, value)  # resolution inside validation of a frozen model
