"""One flag per spec field, shared by every command that takes a spec (train, export, …).

``@with_spec_options`` adds ``--config``, ``--preset`` and a flag for every field of
:class:`~torchground.spec.Spec` to a Typer command and hands the command a
:class:`SpecOptions` whose :meth:`~SpecOptions.build` makes the spec. Written here rather
than repeated per command because Typer reads options from a function's signature: the
decorator extends that signature once, so every command offers the same flags with the
same help, and a new spec field needs one line here.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from torchground.data.spec_data import csv_fields
from torchground.data.tfpg_spec import link_settings
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.cli.app import err_console
from torchground.train.rundir import load_spec
from torchground.train.tfpg_run import spec_from_link
from torchground.spec import Spec, parse_optimizer_args

__all__ = ["SpecOptions", "with_spec_options", "spec_from_options", "parse_opt_args"]

_H = "cli.help."

# Spec fields taken as text (validated by Spec) — field name → flag.
_TEXT_FIELDS = (
    "dataset", "n_samples", "noise", "train_pct", "val_pct", "test_pct", "seed", "init_seed", "shuffle_seed",
    "features", "hidden", "activation", "output_activation", "init", "loss", "optimizer", "lr", "weight_decay",
    "l1", "l2", "batch_size", "epochs", "patience", "min_delta", "device", "dtype", "training_loop", "tf_playground_seed",
    "classes",
)
_SWITCHES = {
    "shuffle": "--shuffle/--no-shuffle", "restore_best": "--restore-best/--no-restore-best",
    "standardize": "--standardize/--no-standardize",
}


# Placeholders shown in --help, by the type of value a flag takes (fields are validated by Spec).
_METAVARS = {
    **dict.fromkeys(("noise", "lr", "weight_decay", "l1", "l2", "min_delta"), "FLOAT"),
    **dict.fromkeys(("n_samples", "train_pct", "val_pct", "test_pct", "seed", "init_seed", "shuffle_seed", "epochs",
                     "patience", "classes"), "INTEGER"),
    "batch_size": "INTEGER|full", "hidden": "WIDTHS", "features": "NAMES", "optimizer_args": "NAME=VALUE",
}


def _option(field: str, *names: str) -> Any:
    return typer.Option(*(names or (f"--{field.replace('_', '-')}",)), help=t(_H + field), show_default=False,
                        metavar=_METAVARS.get(field, "TEXT"))


def _parameters() -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("config", kw, default=None, annotation=Annotated[Optional[Path], typer.Option("--config", help=t(_H + "config"))]),
        inspect.Parameter("preset", kw, default=None, annotation=Annotated[Optional[str], _option("preset")]),
        inspect.Parameter("url", kw, default=None, annotation=Annotated[Optional[str], _option("url")]),
        inspect.Parameter("data", kw, default=None, annotation=Annotated[Optional[Path], typer.Option("--data", help=t(_H + "data_csv"))]),
        inspect.Parameter("problem", kw, default=None, annotation=Annotated[Optional[str], _option("problem_csv", "--problem")]),
    ]
    params += [inspect.Parameter(f, kw, default=None, annotation=Annotated[Optional[str], _option(f)]) for f in _TEXT_FIELDS]
    params.append(inspect.Parameter("opt", kw, default=None, annotation=Annotated[Optional[list[str]], _option("optimizer_args", "--opt")]))
    params += [  # the learning-rate schedule (torchground.schedules)
        inspect.Parameter("scheduler", kw, default=None, annotation=Annotated[Optional[str], typer.Option(
            "--scheduler", metavar="NAME", help=t(_H + "scheduler"), show_default=False)]),
        inspect.Parameter("sched", kw, default=None, annotation=Annotated[Optional[list[str]], typer.Option(
            "--sched", metavar="NAME=VALUE", help=t(_H + "scheduler_args"), show_default=False)]),
    ]
    params += [
        inspect.Parameter(f, kw, default=None, annotation=Annotated[Optional[bool], typer.Option(flag, help=t(_H + f), show_default=False)])
        for f, flag in _SWITCHES.items()
    ]
    return params


_SPEC_PARAMETERS = _parameters()
_SPEC_NAMES = {p.name for p in _SPEC_PARAMETERS}


@dataclass(frozen=True)
class SpecOptions:
    """The spec flags a command was given; :meth:`build` validates them into a spec."""

    config: Path | None
    preset: str | None
    values: dict[str, Any]
    url: str | None = None

    def build(self) -> Spec:
        """Base spec (config file, else preset, else a TensorFlow Playground link, else the
        defaults) with the flags applied. A link's notes (a fresh seed, ignored parameters)
        are printed on stderr."""
        values = dict(self.values)
        values["optimizer_args"] = parse_opt_args(values.pop("opt", None))
        sched = values.pop("sched", None)
        values["scheduler_args"] = parse_optimizer_args(sched, error_key="schedule.bad_arg") if sched else None
        data, problem = values.pop("data", None), values.pop("problem", None)
        if data is not None:  # --data FILE.csv: read once, the data fields set from it (--problem overrides)
            standardize = values.pop("standardize", None)
            values.update(csv_fields(data, problem=problem, standardize=standardize is not False))
        elif problem is not None:
            values["problem"] = problem
        if self.url is not None:
            if self.config is not None or self.preset is not None:
                raise TorchgroundError("tfpg.cli_url_and_base", other="--config" if self.config is not None else "--preset")
            spec, notes = spec_from_link(self.url, **{k: v for k, v in values.items() if v is not None})
            for note in notes:
                err_console.print(note.render(), highlight=False)
            differs = link_differences(spec)
            if differs:  # flags took the run beyond what the link's page shows: say what will differ
                err_console.print(t("tfpg.note.differs", reasons="\n".join(differs)), highlight=False)
            return spec
        return spec_from_options(self.config, self.preset, values)


#: The most hidden layers and neurons per layer TensorFlow Playground's page adds.
PAGE_LAYERS, PAGE_WIDTH = 6, 8


def link_differences(spec: Spec) -> list[str]:
    """What of ``spec`` TensorFlow Playground cannot show (one line each, in the current
    language): the settings a link cannot carry, and a network larger than its page builds."""
    _, reasons = link_settings(spec.to_dict(), spec.n_train)
    lines = [r.render() for r in reasons]
    if len(spec.hidden) > PAGE_LAYERS or any(w > PAGE_WIDTH for w in spec.hidden):
        lines.append(t("tfpg.note.shape", value=",".join(map(str, spec.hidden)), layers=PAGE_LAYERS, width=PAGE_WIDTH))
    return lines


def with_spec_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a Typer command every spec flag; it receives them as ``spec_options``."""
    signature = inspect.signature(func, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "spec_options"]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _SPEC_NAMES}
        options = SpecOptions(given.pop("config"), given.pop("preset"), given, url=given.pop("url"))
        return func(spec_options=options, **kwargs)

    params = own + _SPEC_PARAMETERS
    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def spec_from_options(config: Path | None, preset: str | None, values: dict[str, Any]) -> Spec:
    """Base spec (config file, else preset, else defaults) with the given flag values applied."""
    changes = {k: v for k, v in values.items() if v is not None}
    if config is not None:
        if preset is not None:
            raise TorchgroundError("cli.config_and_preset")
        base = load_spec(config)
        return base.replace(**changes) if changes else base
    return Spec.preset(preset or "seed", **changes)


def parse_opt_args(items: list[str] | None) -> dict[str, Any] | None:
    """``--opt momentum=0.9 --opt betas=0.9,0.99`` → ``{"momentum": 0.9, "betas": (0.9, 0.99)}``."""
    return parse_optimizer_args(items, error_key="cli.bad_opt") if items else None
