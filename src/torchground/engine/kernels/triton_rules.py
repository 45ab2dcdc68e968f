"""The element-wise arithmetic of the fused Triton kernels (both layouts: the tiled kernels
of :mod:`~torchground.engine.kernels.triton_tiled` and the unrolled ones of
:mod:`~torchground.engine.kernels.triton_unrolled`): the ``@triton.jit`` helpers
generated from :mod:`~torchground.engine.kernels.rules` (activations and their gradients,
the loss gradient, the optimiser updates, the penalties and L1's dead-weight rule; see
:func:`~torchground.engine.kernels.rule_text.triton_source`), and :func:`param_update`,
which loads a parameter and its state, applies them and stores the results. Triton inlines
these helpers into the kernels that call them.
"""

from __future__ import annotations

import triton
import triton.language as tl

from torchground.engine.kernels.generated import load_module
from torchground.engine.kernels.rule_text import triton_source

__all__ = ["sign", "act", "act_back", "loss_grad", "batch_loss", "hit", "penalize", "update", "l1_dead", "param_update"]

_rules = load_module(triton_source(), "triton_rules")
sign, act, act_back, update = _rules.sign, _rules.act, _rules.act_back, _rules.update
loss_grad, batch_loss, hit, penalize, l1_dead = _rules.loss_grad, _rules.batch_loss, _rules.hit, _rules.penalize, _rules.l1_dead


@triton.jit
def param_update(j, p_at, g_at, is_weight, s1_ptr, s2_ptr, dead_ptr, M, m, mm, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, l2, l1,
                  step_size, bc2_sqrt, OPT: tl.constexpr, MOMENTUM: tl.constexpr, NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr,
                  L2: tl.constexpr, L1: tl.constexpr):
    """Parameter ``j`` of one model per lane (its value at ``p_at``, its gradient at ``g_at``)
    updated in place: the penalties (``is_weight`` 1.0 for a weight, 0.0 for a bias:
    :func:`penalize`), the optimiser (:func:`update`; its state, row j of
    the (P, M) tensors, read and written back) and L1's dead-weight rule (weights only:
    :func:`l1_dead`).
    For the unrolled kernels (:mod:`~torchground.engine.kernels.triton_unrolled`)."""
    p = tl.load(p_at, mask=mm, other=0.0)
    g = tl.load(g_at, mask=mm, other=0.0)
    off = j * M + m
    before = p
    g = penalize(g, p, l1 * is_weight, l2 * is_weight, L1, L2)
    s1 = tl.zeros_like(p)
    s2 = tl.zeros_like(p)
    if OPT == 1:
        s1 = tl.load(s1_ptr + off, mask=mm, other=0.0)
        s2 = tl.load(s2_ptr + off, mask=mm, other=0.0)
    if MOMENTUM:
        s1 = tl.load(s1_ptr + off, mask=mm, other=0.0)
    p, s1, s2 = update(p, g, s1, s2, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, step_size, bc2_sqrt, OPT, MOMENTUM, NESTEROV, DECOUPLED)
    if OPT == 1:
        tl.store(s1_ptr + off, s1, mask=mm)
        tl.store(s2_ptr + off, s2, mask=mm)
    if MOMENTUM:
        tl.store(s1_ptr + off, s1, mask=mm)
    if L1:  # the dead-weight rule, on the weights of models with l1 > 0 (others have none dead)
        weights = mm & (l1 * is_weight > 0.0)
        dead = tl.load(dead_ptr + off, mask=weights, other=0) != 0
        p, dead = l1_dead(p, before, dead, l1 * is_weight)
        tl.store(dead_ptr + off, dead.to(tl.uint8), mask=weights)
    tl.store(p_at, p, mask=mm)
