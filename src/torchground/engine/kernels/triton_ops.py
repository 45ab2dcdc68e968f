"""The element-wise arithmetic of the fused Triton kernels (both layouts: the tiled kernels
of :mod:`~torchground.engine.kernels.triton_tiled` and the unrolled ones of
:mod:`~torchground.engine.kernels.triton_unrolled`), as the engine computes it
(:mod:`~torchground.engine.ops`, :mod:`~torchground.engine.optim`), operation for
operation: activations and their gradients, the optimiser updates, the penalties and L1's
dead-weight rule. Triton inlines these ``@triton.jit`` helpers into the kernels that call them.
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["tanh", "sign", "act", "act_back", "update", "param_update"]


@triton.jit
def tanh(z):
    e = tl.exp(-2.0 * tl.abs(z))  # tanh(|z|) = (1 - e) / (1 + e), no overflow
    t = (1.0 - e) / (1.0 + e)
    return tl.where(z < 0, -t, t)


@triton.jit
def sign(x):
    """torch.sign: −1, 0 or 1 (0 for NaN)."""
    return tl.where(x > 0.0, 1.0, tl.where(x < 0.0, -1.0, 0.0))


@triton.jit
def act(z, KIND: tl.constexpr):
    a = z  # identity
    if KIND == 1:
        a = tanh(z)
    if KIND == 2:
        a = 1.0 / (1.0 + tl.exp(-z))
    if KIND == 3:
        a = tl.maximum(z, 0.0)
    return a


@triton.jit
def act_back(g, a, KIND: tl.constexpr):
    """The gradient at the input from the output ``a``: aten's tanh/sigmoid/threshold backward."""
    d = g
    if KIND == 1:
        d = g * (1.0 - a * a)
    if KIND == 2:
        d = g * (1.0 - a) * a
    if KIND == 3:
        d = tl.where(a <= 0.0, 0.0, g)
    return d


@triton.jit
def update(p, g, s1, s2, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, step_size, bc2_sqrt,
            OPT: tl.constexpr, MOMENTUM: tl.constexpr, NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr):
    """One optimiser update, op for op as :class:`~torchground.engine.optim.StackedOptimizer`
    (steady state: SGD's momentum buffer exists). → (p, s1, s2)."""
    if OPT == 0:  # SGD: g += wd·p; buf = momentum·buf + (1 − dampening)·g; p += −lr·g
        g = g + p * wd
        if MOMENTUM:
            s1 = s1 * mom + g * omd
            if NESTEROV:
                g = g + s1 * mom
            else:
                g = s1
        p = p + g * neg_lr
    else:  # Adam, AdamW
        if DECOUPLED:
            p = p * decay
        else:
            g = g + p * wd
        s1 = tl.where(omb1 < 0.5, s1 + omb1 * (g - s1), g - (g - s1) * (1.0 - omb1))  # torch.lerp's two forms
        s2 = s2 * b2 + (g * omb2) * g
        p = p + (s1 / (tl.sqrt(s2) / bc2_sqrt + eps)) * step_size
    return p, s1, s2


@triton.jit
def param_update(j, p_at, g_at, is_weight, s1_ptr, s2_ptr, dead_ptr, M, m, mm, neg_lr, wd, mom, omd, omb1, b2, omb2, eps, decay, l2, l1,
                  step_size, bc2_sqrt, OPT: tl.constexpr, MOMENTUM: tl.constexpr, NESTEROV: tl.constexpr, DECOUPLED: tl.constexpr,
                  L2: tl.constexpr, L1: tl.constexpr):
    """Parameter ``j`` of one model per lane (its value at ``p_at``, its gradient at ``g_at``)
    updated in place: the penalties (``is_weight`` 1.0 for a weight, 0.0 for a bias:
    g += l1·sign(p), then g += l2·p), the optimiser (:func:`update`; its state, row j of
    the (P, M) tensors, read and written back) and L1's dead-weight rule (weights only).
    For the unrolled kernels (:mod:`~torchground.engine.kernels.triton_unrolled`)."""
    p = tl.load(p_at, mask=mm, other=0.0)
    g = tl.load(g_at, mask=mm, other=0.0)
    off = j * M + m
    before = p
    if L1:
        g = g + sign(p) * (l1 * is_weight)
    if L2:
        g = g + p * (l2 * is_weight)
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
    if L1:  # a weight of a model with l1 > 0 that crosses 0 is set to 0 and stays dead
        weights = mm & (l1 * is_weight > 0.0)  # the weights of models with l1 > 0 (others have none dead)
        crossed = (sign(p) * sign(before) < 0.0) & weights
        dead = (tl.load(dead_ptr + off, mask=weights, other=0) != 0) | crossed
        tl.store(dead_ptr + off, dead.to(tl.uint8), mask=weights)
        p = tl.where(dead, 0.0, p)
    tl.store(p_at, p, mask=mm)
