"""Hand-derived forward and backward of the engine's activations and losses.

The stacked engine does not use autograd: each step's backward is written out. To agree
with the eager trainer (which does use autograd), every derivative here is the one
autograd itself applies — the ``aten.*_backward`` kernel that ``derivatives.yaml`` names
for the function, called directly, or for the few composite functions (softsign,
tanhshrink, the losses) the same formula, term by term. Results then match autograd up
to float rounding in the last place.

Activations are element-wise and stateless; ``prelu`` (a learnable slope) and ``rrelu``
(random slopes while training) are not, and are refused by the engine.

Example:
    >>> z = torch.tensor([[-1.0, 0.5]])
    >>> a, saved = ACTIVATION_OPS["tanh"].forward(z)
    >>> torch.allclose(ACTIVATION_OPS["tanh"].backward(torch.ones_like(a), saved), 1 - a * a)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

__all__ = ["ActivationOps", "LossOps", "ACTIVATION_OPS", "LOSS_OPS", "activation_ops"]

aten = torch.ops.aten
Tensor = torch.Tensor


@dataclass(frozen=True)
class ActivationOps:
    """Forward ``a, saved = forward(z)`` and ``grad_z = backward(grad_a, saved)``.

    Shape: any; element-wise.
    """

    forward: Callable[[Tensor], tuple[Tensor, Any]]
    backward: Callable[[Tensor, Any], Tensor]


def _on_input(fn: Callable[[Tensor], Tensor], bwd: Callable[[Tensor, Tensor], Tensor]) -> ActivationOps:
    """An activation whose derivative is computed from its input ``z``."""
    return ActivationOps(lambda z: (fn(z), z), bwd)


def _on_output(fn: Callable[[Tensor], Tensor], bwd: Callable[[Tensor, Tensor], Tensor]) -> ActivationOps:
    """An activation whose derivative is computed from its output (tanh, sigmoid, relu)."""

    def forward(z: Tensor) -> tuple[Tensor, Tensor]:
        a = fn(z)
        return a, a

    return ActivationOps(forward, bwd)


def _log_sigmoid_forward(z: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    out, buffer = aten.log_sigmoid_forward(z)  # the CPU backward reuses the forward's buffer
    return out, (z, buffer)


def _softsign_forward(z: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    denom = 1 + z.abs()
    return z / denom, (z, denom)


def _softsign_backward(g: Tensor, saved: tuple[Tensor, Tensor]) -> Tensor:
    z, denom = saved  # autograd of z / (1 + |z|): DivBackward's two terms, the second through abs
    return g / denom + (-g * z / (denom * denom)) * z.sgn()


def _tanhshrink_forward(z: Tensor) -> tuple[Tensor, Tensor]:
    t = torch.tanh(z)
    return z - t, t


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

#: Name (as in :data:`~torchground.registry.ACTIVATIONS`) → forward/backward, with the
#: registry's default constructor arguments.
ACTIVATION_OPS: dict[str, ActivationOps] = {
    "identity": ActivationOps(lambda z: (z, None), lambda g, _: g),
    "tanh": _on_output(torch.tanh, lambda g, a: aten.tanh_backward(g, a)),
    "sigmoid": _on_output(torch.sigmoid, lambda g, a: aten.sigmoid_backward(g, a)),
    "relu": _on_output(torch.relu, lambda g, a: aten.threshold_backward(g, a, 0)),
    "relu6": _on_input(F.relu6, lambda g, z: aten.hardtanh_backward(g, z, 0.0, 6.0)),
    "hardtanh": _on_input(F.hardtanh, lambda g, z: aten.hardtanh_backward(g, z, -1.0, 1.0)),
    "elu": _on_input(F.elu, lambda g, z: aten.elu_backward(g, 1.0, 1, 1, False, z)),
    "selu": _on_input(F.selu, lambda g, z: aten.elu_backward(g, _SELU_ALPHA, _SELU_SCALE, 1, False, z)),
    "celu": _on_input(F.celu, lambda g, z: aten.elu_backward(g, 1.0, 1, 1.0, False, z)),
    "leakyrelu": _on_input(F.leaky_relu, lambda g, z: aten.leaky_relu_backward(g, z, 0.01, False)),
    "gelu": _on_input(F.gelu, lambda g, z: aten.gelu_backward(g, z, approximate="none")),
    "softplus": _on_input(F.softplus, lambda g, z: aten.softplus_backward(g, z, 1, 20)),
    "softshrink": _on_input(F.softshrink, lambda g, z: aten.softshrink_backward(g, z, 0.5)),
    "hardshrink": _on_input(F.hardshrink, lambda g, z: aten.hardshrink_backward(g, z, 0.5)),
    "silu": _on_input(F.silu, lambda g, z: aten.silu_backward(g, z)),
    "mish": _on_input(F.mish, lambda g, z: aten.mish_backward(g, z)),
    "hardsigmoid": _on_input(F.hardsigmoid, lambda g, z: aten.hardsigmoid_backward(g, z)),
    "hardswish": _on_input(F.hardswish, lambda g, z: aten.hardswish_backward(g, z)),
    "threshold": _on_input(lambda z: F.threshold(z, 0.0, 0.0), lambda g, z: aten.threshold_backward(g, z, 0.0)),
    "logsigmoid": ActivationOps(_log_sigmoid_forward, lambda g, s: aten.log_sigmoid_backward(g, s[0], s[1])),
    "softsign": ActivationOps(_softsign_forward, _softsign_backward),
    "tanhshrink": ActivationOps(_tanhshrink_forward, lambda g, t: g + aten.tanh_backward(-g, t)),
}


def _tanh_by_expm1(z: Tensor) -> Tensor:
    """tanh(z) = e / (e + 2) with e = expm1(2z); |z| clamped to 20, where tanh is ±1 in float64."""
    e = torch.expm1(2 * z.clamp(-20.0, 20.0))
    return e / (e + 2)


#: Forms for compiled code (see :func:`activation_ops`).
_COMPILED_OPS: dict[str, ActivationOps] = {
    "tanh": _on_output(_tanh_by_expm1, lambda g, a: aten.tanh_backward(g, a)),
}


def activation_ops(name: str, compiled: bool = False) -> ActivationOps:
    """The activation ``name``; ``compiled=True`` gives the form for ``torch.compile``.

    Inductor's vectorised ``tanh`` costs several times its ``expm1`` on CPU, and a network of
    tanh units spends much of a compiled step there: compiled code computes tanh as
    ``expm1(2z) / (expm1(2z) + 2)``, within 2e-7 (float32) and 4e-16 (float64) of
    ``torch.tanh``. Eager code keeps ``torch.tanh``, one kernel and the trainer's bits.
    """
    return _COMPILED_OPS.get(name, ACTIVATION_OPS[name]) if compiled else ACTIVATION_OPS[name]


@dataclass(frozen=True)
class LossOps:
    """A loss as the engine needs it, per model and batch.

    ``elements(out, y)`` gives each sample's loss; a batch's loss is their mean times
    ``scale`` (0.5 for the half squared error, else 1). ``grad(out, y, n)`` gives the
    gradient of that mean over ``n`` samples with respect to ``out``, computed as
    autograd computes it for the trainer's loss module (label mapping included).

    Shape:
        out, y: (M, B, 1) → (M, B, 1).
    """

    elements: Callable[[Tensor, Tensor], Tensor]
    grad: Callable[[Tensor, Tensor, int], Tensor]
    scale: float = 1.0


def _unit(v: Tensor) -> Tensor:
    return (v + 1) / 2  # ±1 → 0/1 and tanh range → probability, as LossFunction maps them


def _soft_margin_grad(o: Tensor, y: Tensor, n: int) -> Tensor:
    z = torch.exp(-y * o)  # soft_margin_loss_backward: -norm·y·z / (1 + z)
    return (y * (-1.0 / n)) * z / (1 + z)


def _bce_grad(o: Tensor, y: Tensor, n: int) -> Tensor:
    p, t = _unit(o), _unit(y)  # binary_cross_entropy_backward, then d((o + 1) / 2)/do = 1/2
    return ((p - t) / torch.clamp((1 - p) * p, min=1e-12)).div_(n) / 2


def _ce_elements(o: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of K outputs per sample: −log softmax(o)[y]. Shape: o (…, K), y (…) → (…)."""
    return -torch.log_softmax(o, dim=-1).gather(-1, y.long().unsqueeze(-1)).squeeze(-1)


def _ce_grad(o: Tensor, y: Tensor, n: int) -> Tensor:
    """d(mean cross-entropy)/d(o) = (softmax(o) − one-hot(y)) / n. Shape: o (…, K), y (…, 1) → (…, K)."""
    g = torch.softmax(o, dim=-1)
    return g.scatter_add_(-1, y.long(), torch.full_like(y, -1.0)).div_(n)


#: Name (as in :data:`~torchground.registry.LOSSES`) → values and gradient. ``crossentropy``
#: works on K outputs (K classes, targets the class index): its ``elements`` take (…, K)
#: outputs and (…) targets, its ``grad`` (…, K) outputs and (…, 1) targets.
LOSS_OPS: dict[str, LossOps] = {
    "mse": LossOps(lambda o, y: (o - y) ** 2, lambda o, y, n: (o - y).mul_(2.0 / n)),
    "half_mse": LossOps(lambda o, y: (o - y) ** 2, lambda o, y, n: (o - y).mul_(2.0).mul_(0.5 / n), scale=0.5),
    "l1": LossOps(lambda o, y: (o - y).abs(), lambda o, y, n: (o - y).sgn_().mul_(1.0 / n)),
    "smooth_l1": LossOps(
        lambda o, y: F.smooth_l1_loss(o, y, reduction="none"), lambda o, y, n: (o - y).clamp_(-1.0, 1.0).mul_(1.0 / n)
    ),
    "huber": LossOps(lambda o, y: F.huber_loss(o, y, reduction="none"), lambda o, y, n: (o - y).clamp_(-1.0, 1.0).mul_(1.0 / n)),
    "soft_margin": LossOps(lambda o, y: F.soft_margin_loss(o, y, reduction="none"), _soft_margin_grad),
    "bce_with_logits": LossOps(
        lambda o, y: F.binary_cross_entropy_with_logits(o, _unit(y), reduction="none"),
        lambda o, y, n: (torch.sigmoid(o) - _unit(y)).div_(n),
    ),
    "bce": LossOps(lambda o, y: F.binary_cross_entropy(_unit(o), _unit(y), reduction="none"), _bce_grad),
    "crossentropy": LossOps(_ce_elements, _ce_grad),
}
