"""Learning-rate schedules: the spec's ``scheduler`` and ``scheduler_args``, as ``torch.optim.lr_scheduler``.

Every schedule steps once per epoch, after the epoch (so the history's ``lr`` column is
the rate each epoch trained with):

============  =====================================  ==================================
name          torch class                            settings (defaults)
============  =====================================  ==================================
step          ``StepLR``                             step_size (10), gamma (0.1)
multistep     ``MultiStepLR``                        milestones (half and three
                                                     quarters of the epochs), gamma (0.1)
exponential   ``ExponentialLR``                      gamma (0.95)
cosine        ``CosineAnnealingLR``                  T_max (epochs), eta_min (0)
onecycle      ``OneCycleLR`` (total_steps = epochs)  max_lr (lr), pct_start, anneal_strategy,
                                                     div_factor, final_div_factor, three_phase,
                                                     cycle_momentum (false), base_momentum,
                                                     max_momentum
plateau       ``ReduceLROnPlateau`` (mode min, on    factor, patience, threshold,
              the validation loss, else training)    threshold_mode, cooldown, min_lr, eps
============  =====================================  ==================================

:func:`check_scheduler` validates a spec's choice (the spec calls it),
:func:`build_scheduler` makes the torch scheduler over an optimiser, :func:`step` steps it,
and :class:`LRBank` gives the stacked engine each model's rate per epoch with the same torch
classes (one small stand-in optimiser per distinct schedule), so its numbers are the
trainer's.

Example:
    >>> import torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = build_scheduler("step", {"step_size": 2}, opt, epochs=6)
    >>> rates = []
    >>> for _ in range(6):
    ...     rates.append(round(opt.param_groups[0]["lr"], 6)); step(sched, 0.0)
    >>> rates
    [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
"""

from __future__ import annotations

import collections
import inspect
from typing import Any, Mapping, Sequence

import torch
from torch.optim import lr_scheduler

from torchground.errors import SpecError
from torchground.i18n import Text
from torchground.spec_rules import Allowed, setting_refusal, torch_refusal, written_args

__all__ = [
    "SCHEDULERS", "allowed_args", "scheduler_kwargs", "build_scheduler", "check_scheduler", "parse_name", "step",
    "restore_state", "LRBank",
]

SCHEDULERS: dict[str, type] = {
    "step": lr_scheduler.StepLR,
    "multistep": lr_scheduler.MultiStepLR,
    "exponential": lr_scheduler.ExponentialLR,
    "cosine": lr_scheduler.CosineAnnealingLR,
    "onecycle": lr_scheduler.OneCycleLR,
    "plateau": lr_scheduler.ReduceLROnPlateau,
}
# Arguments set by torchground, not by the user (per-epoch stepping, minimising a loss).
_FIXED = {"optimizer", "last_epoch", "verbose", "total_steps", "epochs", "steps_per_epoch", "mode"}
_INTS = {"step_size", "T_max", "patience", "cooldown"}
#: What each schedule setting allows (refused in the user's language before torch is asked;
#: optimisers share the check: :func:`torchground.spec_rules.setting_refusal`).
RULES: dict[str, Allowed] = {
    "step_size": Allowed("whole", 1),
    "gamma": Allowed("number", 0, low_open=True),
    "milestones": Allowed("wholes", 1),
    "T_max": Allowed("whole", 1),
    "eta_min": Allowed("number", 0),
    "max_lr": Allowed("number", 0, low_open=True),
    "pct_start": Allowed("number", 0, 1, low_open=True, high_open=True),
    "anneal_strategy": Allowed("choice", choices=("cos", "linear")),
    "cycle_momentum": Allowed("bool"),
    "base_momentum": Allowed("number", 0),
    "max_momentum": Allowed("number", 0),
    "div_factor": Allowed("number", 0, low_open=True),
    "final_div_factor": Allowed("number", 0, low_open=True),
    "three_phase": Allowed("bool"),
    "factor": Allowed("number", 0, 1, high_open=True),
    "patience": Allowed("whole", 0),
    "threshold": Allowed("number", 0),
    "threshold_mode": Allowed("choice", choices=("rel", "abs")),
    "cooldown": Allowed("whole", 0),
    "min_lr": Allowed("number", 0),
    "eps": Allowed("number", 0),
}


def allowed_args(name: str) -> list[str]:
    """The settings a user may give ``name``."""
    return [p for p in inspect.signature(SCHEDULERS[name]).parameters if p not in _FIXED]


def scheduler_kwargs(name: str, args: Mapping[str, Any], lr: float, epochs: int) -> dict[str, Any]:
    """The keyword arguments of ``name``'s torch class: torchground's defaults, then ``args``."""
    kwargs: dict[str, Any] = {
        "step": {"step_size": 10},
        "multistep": {"milestones": (max(1, epochs // 2), max(1, epochs * 3 // 4))},
        "exponential": {"gamma": 0.95},
        "cosine": {"T_max": epochs},
        "onecycle": {"max_lr": lr, "total_steps": epochs, "cycle_momentum": False},
        "plateau": {"mode": "min"},
    }[name]
    kwargs.update(args)
    for key in _INTS & kwargs.keys():
        kwargs[key] = _as_int(kwargs[key])
    if "milestones" in kwargs:
        values = kwargs["milestones"]
        values = values if isinstance(values, (list, tuple)) else (values,)
        kwargs["milestones"] = [_as_int(v) for v in values]
    return kwargs


def build_scheduler(name: str, args: Mapping[str, Any], optimizer: torch.optim.Optimizer, epochs: int) -> Any:
    """``name``'s torch scheduler over ``optimizer`` (its initial rate is the optimiser's)."""
    lr = float(optimizer.param_groups[0]["lr"])
    return SCHEDULERS[name](optimizer, **scheduler_kwargs(name, args, lr, epochs))


def step(scheduler: Any, monitored: float) -> None:
    """One epoch's step; ``monitored`` (the loss early stopping watches) feeds plateau."""
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored)
    else:
        scheduler.step()


def restore_state(scheduler: Any, state: Mapping[str, Any]) -> None:
    """``scheduler.load_state_dict(state)`` for a state that went through JSON (milestones back to a Counter)."""
    scheduler.load_state_dict(dict(state))
    if isinstance(scheduler, lr_scheduler.MultiStepLR):
        scheduler.milestones = collections.Counter({int(k): int(v) for k, v in dict(scheduler.milestones).items()})


def check_scheduler(name: str | None, args: Mapping[str, Any], build_optimizer: Any, epochs: int) -> None:
    """Refuse (``SpecError``) a schedule torch would refuse, naming the setting and what is allowed.

    ``build_optimizer(params)`` makes the spec's optimiser over stand-in parameters, so
    settings that need one (``cycle_momentum`` needs momentum) are checked against it.
    """
    if name is None:
        if args:
            raise SpecError("schedule.args_without", args=", ".join(args))
        return
    allowed = allowed_args(name)
    for key in args:
        if key not in allowed:
            raise SpecError("schedule.arg_unknown", scheduler=name, name=key, allowed=", ".join(allowed))
    shown = written_args(args)
    reason = setting_refusal(args, {}, RULES)
    try:
        opt = build_optimizer([torch.zeros(1, requires_grad=True)])
        if reason is None and args.get("cycle_momentum") is True and not _has_momentum(opt):
            reason = Text("schedule.cycle_momentum")
        if reason is None:
            sched = build_scheduler(name, args, opt, epochs)
            _stepped(opt)
            for _ in range(min(epochs, 3)):  # some settings only fail when stepped
                step(sched, 1.0)
    except (ValueError, TypeError, RuntimeError, ZeroDivisionError, OverflowError) as exc:
        reason = torch_refusal(exc)  # a combination no rule foresaw: torch's words inside ours
    if reason is not None:
        raise SpecError("schedule.arg_bad", scheduler=name, args=shown, reason=reason)


def _has_momentum(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` has the momentum (or first beta) that onecycle's ``cycle_momentum`` cycles."""
    return "betas" in optimizer.defaults or "momentum" in optimizer.defaults


def parse_name(value: Any) -> str | None:
    """A scheduler name from user text (``none`` or empty: no schedule); refused if unknown."""
    if value is None:
        return None
    name = value.strip().lower().replace("-", "").replace("_", "") if isinstance(value, str) else None
    if name in ("", "none"):
        return None
    if name not in SCHEDULERS:
        raise SpecError("spec.invalid", field="scheduler", value=value, allowed=", ".join(["none", *SCHEDULERS]))
    return name


def _stepped(optimizer: torch.optim.Optimizer) -> None:
    """Step a stand-in optimiser once (its parameter has no gradient: nothing changes), as
    torch expects an optimiser step before the first scheduler step."""
    optimizer.step(None) if not isinstance(optimizer, torch.optim.LBFGS) else optimizer.step(lambda: torch.zeros(()))


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


class LRBank:
    """Each model's learning rate, epoch after epoch, for a group of specs (the stacked engine).

    Models with the same rate and the same schedule share one stand-in optimiser and torch
    scheduler; plateau schedules, which follow each model's own loss, get one each. Rates
    are exactly torch's (the same classes step the same Python floats).

    Args:
        specs: objects with ``lr``, ``epochs``, ``scheduler`` and ``scheduler_args``.
    """

    def __init__(self, specs: Sequence[Any]) -> None:
        self._scheds: list[Any] = []
        self._of: list[int | None] = []  # per model, its scheduler's index (None: a constant rate)
        shared: dict[tuple[Any, ...], int] = {}
        for j, spec in enumerate(specs):
            if spec.scheduler is None:
                self._of.append(None)
                continue
            key = (spec.lr, spec.epochs, spec.scheduler, tuple(sorted(spec.scheduler_args.items())))
            if spec.scheduler == "plateau" or key not in shared:
                opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=spec.lr)
                self._scheds.append(build_scheduler(spec.scheduler, spec.scheduler_args, opt, spec.epochs))
                _stepped(opt)
                if spec.scheduler != "plateau":
                    shared[key] = len(self._scheds) - 1
                self._of.append(len(self._scheds) - 1)
            else:
                self._of.append(shared[key])
        self._lrs = [float(s.lr) for s in specs]

    def step(self, ids: Sequence[int], monitored: Sequence[float]) -> list[float]:
        """Step the schedules of models ``ids`` (their monitored losses given) once; their new rates."""
        done: set[int] = set()
        for j, value in zip(ids, monitored):
            k = self._of[j]
            if k is not None and k not in done:
                step(self._scheds[k], float(value))
                done.add(k)
        return [self.lr(j) for j in ids]

    def lr(self, j: int) -> float:
        """Model ``j``'s current rate."""
        k = self._of[j]
        return self._lrs[j] if k is None else float(self._scheds[k].optimizer.param_groups[0]["lr"])
