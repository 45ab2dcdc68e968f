"""Stacked optimisers: ``torch.optim``'s update rules for M models at once.

Parameters and gradients of a group are two (M, P) tensors; each model's scalar
hyper-parameters (lr, weight decay, momentum, betas, eps, …) are (M, 1) columns, so one
element-wise op updates every model. The same code updates the models-last layout
((P, M) tensors, (1, M) rows: :meth:`StackedOptimizer.models_last`). The formulas are those of ``torch.optim``'s
multi-tensor ("foreach") implementations — the ones the eager trainer runs — op for op:
the same lerp, the same order of multiply and divide, scalar expressions such as
``1 - beta1 ** step`` computed in float64 as Python computes them, then cast. Where
``torch.optim`` passes a Python scalar, a per-model column takes its place
(``add_(g, alpha=-lr)`` becomes ``addcmul_(g, -lr)``), which can differ in the last bit.

Which branches run (momentum or not, nesterov, amsgrad, centered, maximize, decoupled
weight decay) is fixed per group: :func:`structure` gives the part of a spec that
decides it, and models whose structure differs train in separate groups.

The step count lives in a float64 tensor on the group's device, so a step can be
captured in a CUDA graph (see :mod:`torchground.engine.kernels.cuda_graph`).

Example:
    >>> from torchground.spec import Spec
    >>> opt = StackedOptimizer.build([Spec(optimizer="adam", lr=0.01), Spec(optimizer="adam", lr=0.1)], 3, torch.float32, "cpu")
    >>> p, g = torch.zeros(2, 3), torch.ones(2, 3)
    >>> opt.step(p, g)
    >>> [round(v, 6) for v in p[:, 0].tolist()]  # Adam's first step moves each parameter by about -lr
    [-0.01, -0.1]
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch

from torchground.engine.kernels.rule_text import TORCH as RULE
from torchground.errors import TorchgroundError
from torchground.registry import optimizer_params
from torchground.spec import Spec

__all__ = ["OPTIMIZER_KINDS", "StackedOptimizer", "structure", "check_optimizer"]

Tensor = torch.Tensor

#: Optimisers the engine implements, with the hyper-parameters it reads for each.
OPTIMIZER_KINDS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "dampening", "nesterov", "maximize"),
    "adam": ("betas", "eps", "amsgrad", "maximize", "decoupled_weight_decay"),
    "adamw": ("betas", "eps", "amsgrad", "maximize"),
    "rmsprop": ("alpha", "eps", "momentum", "centered", "maximize"),
    "adagrad": ("lr_decay", "initial_accumulator_value", "eps", "maximize"),
}


def _args(spec: Spec) -> dict[str, Any]:
    """The spec's optimiser arguments with the registry's defaults filled in."""
    return {**optimizer_params(spec.optimizer), **spec.optimizer_args}


def check_optimizer(spec: Spec) -> None:
    """Refuse optimisers (and arguments) the engine does not implement."""
    if spec.optimizer not in OPTIMIZER_KINDS:
        raise TorchgroundError("engine.unsupported", field="optimizer", value=spec.optimizer, allowed=", ".join(OPTIMIZER_KINDS))


def structure(spec: Spec) -> tuple[Any, ...]:
    """What decides the update's branches: models with equal structure can share a group."""
    a = _args(spec)
    kind = spec.optimizer
    if kind == "sgd":
        return (kind, a["momentum"] != 0, bool(a["nesterov"]), bool(a["maximize"]))
    if kind in ("adam", "adamw"):
        return (kind, bool(a["amsgrad"]), bool(a["maximize"]), kind == "adamw" or bool(a.get("decoupled_weight_decay")))
    if kind == "rmsprop":
        return (kind, a["momentum"] > 0, bool(a["centered"]), bool(a["maximize"]))
    return (kind, bool(a["maximize"]))


class StackedOptimizer:
    """One optimiser kind for M models: hyper-parameter columns, state tensors, a step.

    Build with :meth:`build`. ``hp`` holds (M, 1) columns: in the model dtype where they
    enter element-wise ops, float64 where a step-dependent scalar is derived from them.
    ``state`` holds (M, P) tensors (momentum buffers, moment estimates, sums).
    """

    def __init__(self, kind: str, flags: tuple[Any, ...], hp: dict[str, Tensor], state: dict[str, Tensor], t: Tensor, steps: int):
        self.kind, self.flags, self.hp, self.state, self.t, self.steps = kind, flags, hp, state, t, steps
        self.started = steps > 0  # a bool, not the count: compiled code specialises on what it reads
        self.decay_any = bool((hp["wd"] != 0).any())

    @classmethod
    def build(cls, specs: Sequence[Spec], n_params: int, dtype: torch.dtype, device: torch.device | str) -> "StackedOptimizer":
        """The optimiser of ``specs`` (one structure) over (M, ``n_params``) parameters."""
        for spec in specs:
            check_optimizer(spec)
        kind, flags = specs[0].optimizer, structure(specs[0])
        assert all(structure(s) == flags for s in specs), "one group, one optimiser structure"
        args = [_args(s) for s in specs]
        M = len(specs)

        def col(values: Sequence[float], dt: torch.dtype = dtype) -> Tensor:
            # Computed in float64 (as Python computes torch.optim's scalars), then cast.
            return torch.tensor(values, dtype=torch.float64).reshape(M, 1).to(device=device, dtype=dt)

        lr = [s.lr for s in specs]
        wd = [float(s.weight_decay or 0.0) for s in specs]
        hp: dict[str, Tensor] = {"neg_lr": col([-v for v in lr]), "wd": col(wd), "lr64": col(lr, torch.float64)}
        zeros = lambda: torch.zeros(M, n_params, dtype=dtype, device=device)  # noqa: E731
        state: dict[str, Tensor] = {}
        if kind == "sgd":
            hp["momentum"] = col([a["momentum"] for a in args])
            hp["one_minus_damp"] = col([1 - a["dampening"] for a in args])
            if flags[1]:
                state["buf"] = zeros()
        elif kind in ("adam", "adamw"):
            b1, b2 = [a["betas"][0] for a in args], [a["betas"][1] for a in args]
            hp.update(
                one_minus_beta1=col([1 - v for v in b1]), beta2=col(b2), one_minus_beta2=col([1 - v for v in b2]),
                beta1_64=col(b1, torch.float64), beta2_64=col(b2, torch.float64), eps=col([a["eps"] for a in args]),
                decay=col([1 - r * w for r, w in zip(lr, wd)]),
            )
            state.update(exp_avg=zeros(), exp_avg_sq=zeros())
            if flags[1]:
                state["max_exp_avg_sq"] = zeros()
        elif kind == "rmsprop":
            alpha = [a["alpha"] for a in args]
            hp.update(alpha=col(alpha), one_minus_alpha=col([1 - v for v in alpha]), eps=col([a["eps"] for a in args]),
                      momentum=col([a["momentum"] for a in args]))
            state["square_avg"] = zeros()
            if flags[1]:
                state["buf"] = zeros()
            if flags[2]:
                state["grad_avg"] = zeros()
        else:  # adagrad
            hp.update(lr_decay64=col([a["lr_decay"] for a in args], torch.float64), eps=col([a["eps"] for a in args]))
            state["sum"] = col([a["initial_accumulator_value"] for a in args]).expand(M, n_params).contiguous()
        t = torch.zeros(1, dtype=torch.float64, device=device)  # (1,), not 0-d: torch.compile 2.13 lost in-place updates of it as 0-d
        return cls(kind, flags, hp, state, t, 0)

    # -- copies ---------------------------------------------------------------------------
    def select(self, idx: Tensor) -> "StackedOptimizer":
        """The optimiser of the models ``idx`` (state copied)."""
        hp = {k: v.index_select(0, idx) for k, v in self.hp.items()}
        state = {k: v.index_select(0, idx) for k, v in self.state.items()}
        return StackedOptimizer(self.kind, self.flags, hp, state, self.t.clone(), self.steps)

    def clone(self) -> "StackedOptimizer":
        """A copy whose state can change without touching this one's."""
        new = copy.copy(self)
        new.state = {k: v.clone() for k, v in self.state.items()}
        new.t = self.t.clone()
        return new

    def models_last(self) -> "StackedOptimizer":
        """A twin for the models-last layout: state (P, M) contiguous copies, hyper-parameters (1, M)
        views, the same step-count tensor (see :meth:`~torchground.engine.net.StackedNet.models_last`)."""
        hp = {k: v.t() for k, v in self.hp.items()}
        state = {k: v.t().contiguous() for k, v in self.state.items()}
        return StackedOptimizer(self.kind, self.flags, hp, state, self.t, self.steps)

    def load_from(self, other: "StackedOptimizer") -> None:
        """Copy the state of ``other`` (the other layout's twin) into this one's tensors, in place
        (the Python step counters stay: the models-first net counts)."""
        for k, v in self.state.items():
            if v.data_ptr() != other.state[k].data_ptr():
                v.copy_(other.state[k].t())
        if self.t is not other.t:
            self.t.copy_(other.t)

    def set_lr(self, lr: Sequence[float], wd: Sequence[float]) -> None:
        """New per-model learning rates (a schedule's), written into the columns in place (CUDA
        graphs and the models-last twin keep their pointers); ``wd``: the models' weight decays."""
        M = len(lr)

        def col(values: Sequence[float], like: Tensor) -> Tensor:
            return torch.tensor(values, dtype=torch.float64).reshape(M, 1).to(device=like.device, dtype=like.dtype)

        self.hp["neg_lr"].copy_(col([-v for v in lr], self.hp["neg_lr"]))
        self.hp["lr64"].copy_(col(lr, self.hp["lr64"]))
        if "decay" in self.hp:  # param.mul_(1 - lr * weight_decay), with the new lr
            self.hp["decay"].copy_(col([1 - r * w for r, w in zip(lr, wd)], self.hp["decay"]))

    def load(self, other: "StackedOptimizer") -> None:
        """Copy ``other``'s state into this one's tensors in place (CUDA graphs keep pointers)."""
        for k, v in self.state.items():
            v.copy_(other.state[k])
        self.t.copy_(other.t)
        self.steps, self.started = other.steps, other.started

    @property
    def steady(self) -> bool:
        """Whether every further step runs the same tensor code (what compiled and captured code need).

        Only SGD with momentum has a first step of its own (the buffer starts as a copy of
        the gradient); every other update keeps its step count in a tensor.
        """
        return self.started or not (self.kind == "sgd" and self.flags[1])

    # -- the update -----------------------------------------------------------------------
    def step(self, params: Tensor, grads: Tensor) -> None:
        """Update ``params`` (M, P) in place from ``grads`` (M, P); ``grads`` is used as scratch."""
        self.update(params, grads)
        self.advance(1)

    def update(self, params: Tensor, grads: Tensor) -> None:
        """:meth:`step` without counting it (for captured or compiled code: call :meth:`advance` after)."""
        getattr(self, f"_{self.kind if self.kind != 'adamw' else 'adam'}")(params, grads)

    def advance(self, n: int) -> None:
        """Count ``n`` steps taken by :meth:`update`."""
        self.steps += n
        self.started = True

    def _sgd(self, p: Tensor, g: Tensor) -> None:
        hp, (_, momentum_on, nesterov, maximize) = self.hp, self.flags
        if maximize:
            g.neg_()
        if self.decay_any:
            g.addcmul_(p, hp["wd"])  # grad.add(param, alpha=weight_decay)
        if momentum_on:
            buf = self.state["buf"]
            if not self.started:
                buf.copy_(g)  # torch.clone(grad) on the first step
            else:
                buf.mul_(hp["momentum"]).addcmul_(g, hp["one_minus_damp"])
            if nesterov:
                g.addcmul_(buf, hp["momentum"])
            else:
                g = buf
        p.addcmul_(g, hp["neg_lr"])  # param.add_(grad, alpha=-lr)

    def _adam(self, p: Tensor, g: Tensor) -> None:
        hp, st, (_, amsgrad, maximize, decoupled) = self.hp, self.state, self.flags
        if maximize:
            g.neg_()
        self.t.add_(1)
        if self.decay_any:
            if decoupled:
                p.mul_(hp["decay"])  # param.mul_(1 - lr * weight_decay)
            else:
                g.addcmul_(p, hp["wd"])
        st["exp_avg"].lerp_(g, hp["one_minus_beta1"])
        st["exp_avg_sq"].mul_(hp["beta2"]).addcmul_(g * hp["one_minus_beta2"], g)
        step_size, bias_correction2_sqrt = RULE.adam_bias(hp["lr64"], hp["beta1_64"], hp["beta2_64"], self.t)  # float64
        step_size, bias_correction2_sqrt = step_size.to(p.dtype), bias_correction2_sqrt.to(p.dtype)
        if amsgrad:
            torch.maximum(st["max_exp_avg_sq"], st["exp_avg_sq"], out=st["max_exp_avg_sq"])
            denom = st["max_exp_avg_sq"].sqrt()
        else:
            denom = st["exp_avg_sq"].sqrt()
        denom.div_(bias_correction2_sqrt).add_(hp["eps"])
        p.addcmul_(st["exp_avg"] / denom, step_size)  # param.addcdiv_(exp_avg, denom, value=step_size)

    def _rmsprop(self, p: Tensor, g: Tensor) -> None:
        hp, st, (_, momentum_on, centered, maximize) = self.hp, self.state, self.flags
        if maximize:
            g.neg_()
        self.t.add_(1)
        if self.decay_any:
            g.addcmul_(p, hp["wd"])
        square_avg = st["square_avg"]
        square_avg.mul_(hp["alpha"]).addcmul_(g * hp["one_minus_alpha"], g)
        if centered:
            grad_avg = st["grad_avg"]
            grad_avg.lerp_(g, hp["one_minus_alpha"])
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg.add_(hp["eps"])
        if momentum_on:
            buf = st["buf"]
            buf.mul_(hp["momentum"]).addcdiv_(g, avg)
            p.addcmul_(buf, hp["neg_lr"])
        else:
            p.addcmul_(g / avg, hp["neg_lr"])  # param.addcdiv_(grad, avg, value=-lr)

    def _adagrad(self, p: Tensor, g: Tensor) -> None:
        hp, st, (_, maximize) = self.hp, self.state, self.flags
        if maximize:
            g.neg_()
        self.t.add_(1)
        if self.decay_any:
            g.addcmul_(p, hp["wd"])
        minus_clr = (-hp["lr64"] / (1 + (self.t - 1) * hp["lr_decay64"])).to(p.dtype)
        st["sum"].addcmul_(g, g, value=1)
        std = st["sum"].sqrt().add_(hp["eps"])
        p.addcdiv_(g.mul_(minus_clr), std)
