"""The element-wise training rules of the fused kernels, each written once, as data.

A :class:`Rule` is a small function: element-wise inputs, compile-time switches
(``flags``), statements (:class:`Let`, :class:`When`) whose expressions are Python
expression text over the inputs, and its outputs. :mod:`~torchground.engine.kernels.rule_text`
renders every rule as C for ``native.c`` (:func:`~torchground.engine.kernels.rule_text.c_source`),
as ``@triton.jit`` helpers (:mod:`~torchground.engine.kernels.triton_rules`) and as torch
functions (:data:`~torchground.engine.kernels.rule_text.TORCH`), which the eager engine
calls where its own form is the same (L1's dead-weight rule, Adam's bias corrections) and
which the tests compare with the eager engine's in-place forms (:mod:`~torchground.engine.ops`,
:mod:`~torchground.engine.optim`), the eager trainer and the exported script.

Expressions may use ``+ - * / **``, comparisons, ``&`` and ``|`` on masks, literals, and
the calls ``where(mask, a, b)``, ``clamp(x, lo, hi)`` (NaN stays NaN), ``exp``, ``sqrt``,
``abs`` and the other rules by name.
The order of operations is the engine's (:mod:`~torchground.engine.ops`,
:mod:`~torchground.engine.optim`), operation for operation: the renderers keep it.

Example:
    >>> [a.name for a in ACTIVATIONS]
    ['identity', 'tanh', 'sigmoid', 'relu']
    >>> RULES["l1_dead"].outputs
    ('after', 'dead')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Let", "When", "Rule", "Activation", "ACTIVATIONS", "ACTS", "HYPER", "RULES"]


@dataclass(frozen=True)
class Let:
    """``name = expr``."""

    name: str
    expr: str


@dataclass(frozen=True)
class When:
    """``if cond: then else: otherwise``; ``cond`` is over compile-time flags only."""

    cond: str
    then: tuple["Let | When", ...]
    otherwise: tuple["Let | When", ...] = ()


Stmt = Let | When


@dataclass(frozen=True)
class Rule:
    """One element-wise rule.

    Attributes:
        name: its name (the helper's, in every target).
        doc: one line saying what it computes.
        inputs: element-wise values, in the helpers' argument order.
        body: the statements.
        outputs: the values returned (outputs that are also inputs are updated in place in C).
        flags: compile-time switches (macros or constant arguments in C, ``tl.constexpr``
            in Triton, keyword arguments in torch).
        masks: inputs and locals that are masks (lanes all ones or all zeros in C).
        host: computed on the host only (float64 tensors), not in the kernels.
    """

    name: str
    doc: str
    inputs: tuple[str, ...]
    body: tuple[Stmt, ...]
    outputs: tuple[str, ...]
    flags: tuple[str, ...] = ()
    masks: tuple[str, ...] = ()
    host: bool = False


@dataclass(frozen=True)
class Activation:
    """An activation the kernels implement: its id, forward from ``z`` into ``a`` and the
    gradient at its input from the output ``a`` and the gradient ``g`` (aten's backward)."""

    name: str
    forward: tuple[Stmt, ...]
    backward: str


#: tanh's rational approximation x·P(x²)/Q(x²), coefficients lowest power first: made by
#: :func:`~torchground.engine.kernels.tanh_fit.fit` (which says why), pinned here.
TANH_P = (1.0, 0.13084006309509277, 0.0031039526220411062, 1.1154270396218635e-05, -2.0225066066359432e-08,
          5.277868767028515e-11, -8.48850070095386e-14)
TANH_Q = (1.0, 0.4641733467578888, 0.024495163932442665, 0.0002546139876358211)
TANH_LIMIT = 9.0  # tanh_fit.LIMIT: tanh rounds to ±1 beyond


def _horner(coefficients: tuple[float, ...], var: str) -> str:
    """The polynomial with ``coefficients`` (lowest power first) in ``var``, as Horner's nested products."""
    text = repr(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        text = f"({text}) * {var} + {c!r}"
    return text


#: The kernels' activations, in id order (the id is the index).
ACTIVATIONS: tuple[Activation, ...] = (
    Activation("identity", (Let("a", "z"),), "g"),
    Activation(
        "tanh",  # the fit on z clamped to ±TANH_LIMIT (NaN stays NaN), kept within ±1 as tanh is
        (
            Let("x", f"clamp(z, {-TANH_LIMIT!r}, {TANH_LIMIT!r})"), Let("s", "x * x"),
            Let("a", f"clamp(x * ({_horner(TANH_P, 's')}) / ({_horner(TANH_Q, 's')}), -1.0, 1.0)"),
        ),
        "g * (1.0 - a * a)",
    ),
    Activation("sigmoid", (Let("a", "1.0 / (1.0 + exp(-z))"),), "g * (1.0 - a) * a"),
    Activation("relu", (Let("a", "where(z < 0.0, 0.0, z)"),), "where(a <= 0.0, 0.0, g)"),  # NaN passes, as torch.relu's
)
#: Activation name → the kernels' id.
ACTS = {a.name: i for i, a in enumerate(ACTIVATIONS)}

#: The per-model hyper-parameters the kernels read, in the order of their table's rows
#: (:data:`~torchground.engine.kernels.fused_steps.HP_ROWS` names them as the optimiser does).
HYPER = ("neg_lr", "wd", "mom", "omd", "omb1", "b2", "omb2", "eps", "decay", "l2", "l1")


def _by_kind(value: str, out: str, stmts_of: list[tuple[Stmt, ...]]) -> tuple[Stmt, ...]:
    """``out = value``, then for each kind k ≥ 1 its statements under ``KIND == k``."""
    return (Let(out, value), *(When(f"KIND == {k}", stmts) for k, stmts in enumerate(stmts_of) if k))


_RULES: tuple[Rule, ...] = (
    Rule("sign", "torch.sign: −1, 0 or 1 (0 for NaN).", ("x",),
         (Let("s", "where(x > 0.0, 1.0, where(x < 0.0, -1.0, 0.0))"),), ("s",)),
    Rule("act", "The activation of id KIND.", ("z",),
         _by_kind("z", "a", [a.forward for a in ACTIVATIONS]), ("a",), flags=("KIND",)),
    Rule("act_back", "The gradient at the activation's input from its output a: aten's tanh/sigmoid/threshold backward.",
         ("g", "a"), _by_kind("g", "d", [(Let("d", a.backward),) for a in ACTIVATIONS]), ("d",), flags=("KIND",)),
    Rule("loss_grad", "The gradient of the batch's mean loss (MSE, or half of it) at an output, n points.",
         ("out", "y", "n"),
         (When("HALF", (Let("g", "(out - y) * 2.0 * (0.5 / n)"),), (Let("g", "(out - y) * (2.0 / n)"),)),),
         ("g",), flags=("HALF",)),
    Rule("batch_loss", "The batch's loss from its sum of squared errors sq over n points.", ("sq", "n"),
         (Let("loss", "sq / n"), When("HALF", (Let("loss", "loss * 0.5"),))), ("loss",), flags=("HALF",)),
    Rule("hit", "1 where the output's class (+1 where out ≥ 0, else −1) is the label y, else 0.", ("out", "y"),
         (Let("h", "where(where(out >= 0.0, 1.0, -1.0) == y, 1.0, 0.0)"),), ("h",)),
    Rule("penalize", "The Playground's penalties on a weight's gradient: g += l1·sign(p), then g += l2·p.",
         ("g", "p", "l1", "l2"),
         (When("L1", (Let("g", "g + sign(p) * l1"),)), When("L2", (Let("g", "g + p * l2"),))), ("g",), flags=("L1", "L2")),
    Rule("update", "One optimiser update of p from its gradient g, as torch.optim's foreach step (SGD's buffer exists).",
         ("p", "g", "s1", "s2", "neg_lr", "wd", "mom", "omd", "omb1", "b2", "omb2", "eps", "decay", "step_size", "bc2_sqrt"),
         (
             When(
                 "OPT == 0",  # SGD: g += wd·p; buf = momentum·buf + (1 − dampening)·g; p += −lr·g
                 (
                     Let("g", "g + p * wd"),
                     When("MOMENTUM", (
                         Let("s1", "s1 * mom + g * omd"),
                         When("NESTEROV", (Let("g", "g + s1 * mom"),), (Let("g", "s1"),)),
                     )),
                     Let("p", "p + g * neg_lr"),
                 ),
                 (  # Adam, AdamW
                     When("DECOUPLED", (Let("p", "p * decay"),), (Let("g", "g + p * wd"),)),
                     Let("dg", "g - s1"),  # torch.lerp's two forms, by weight
                     Let("s1", "where(omb1 < 0.5, s1 + omb1 * dg, g - dg * (1.0 - omb1))"),
                     Let("s2", "s2 * b2 + (g * omb2) * g"),
                     Let("p", "p + (s1 / (sqrt(s2) / bc2_sqrt + eps)) * step_size"),
                 ),
             ),
         ),
         ("p", "s1", "s2"), flags=("OPT", "MOMENTUM", "NESTEROV", "DECOUPLED")),
    Rule("l1_dead", "The Playground's L1 rule: a weight of a model with l1 > 0 that crosses 0 is set to 0 and stays dead.",
         ("after", "before", "dead", "l1"),
         (Let("dead", "dead | ((sign(after) * sign(before) < 0.0) & (l1 > 0.0))"), Let("after", "where(dead, 0.0, after)")),
         ("after", "dead"), masks=("dead",)),
    Rule("adam_bias", "Adam's step size −lr / (1 − β1ᵗ) and √(1 − β2ᵗ) at step t (float64, as Python computes torch.optim's scalars).",
         ("lr", "beta1", "beta2", "t"),
         (Let("step_size", "-(lr / (1.0 - beta1 ** t))"), Let("bc2_sqrt", "(1.0 - beta2 ** t) ** 0.5")),
         ("step_size", "bc2_sqrt"), host=True),
)
#: Every rule by name.
RULES: dict[str, Rule] = {r.name: r for r in _RULES}
