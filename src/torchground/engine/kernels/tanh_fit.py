"""Where the fused kernels' tanh comes from: a rational function fitted to tanh.

The kernels compute ``tanh(z)`` as ``x·P(x²) / Q(x²)`` with ``x = z`` clamped to ±:data:`LIMIT`
(:mod:`~torchground.engine.kernels.rules` writes it; the result is then kept within ±1).
P has 7 coefficients and Q 4 (Q's first is 1): 14 vector operations with one division,
against about 22 for ``(1 − e) / (1 + e)`` with ``e = exp(−2|z|)``, which also lost the
relative precision of small values (``1 − e`` cancels). The activations of the playground's
networks are most of the kernels' arithmetic, so this sets their pace.

Why our own: the fit is a few lines of NumPy, and its coefficients are ours to pin, test and
render into C and Triton (no library ships a float32 tanh as coefficients).

The fit is Lawson's iteratively reweighted least squares on the linearised relative error
``(x·P − tanh·Q) / (tanh·Q)`` over [0, LIMIT] (more points near 0, where the relative error
is hardest), converging to the minimax fit; the coefficients are then rounded to float32.
With those coefficients in exact arithmetic the relative error is below 0.6·2⁻²⁴; evaluated in
float32 it is within 3 ulp of the true tanh (``tests/engine/kernels/test_tanh_fit.py``).

Example:
    >>> p, q = fit(iterations=50)
    >>> len(p), len(q), q[0]
    (7, 4, 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["LIMIT", "fit"]

#: |z| beyond which tanh(z) rounds to ±1 in float32 (1 − tanh(9) ≈ 3.0e-8, under half an ulp).
LIMIT = 9.0


def fit(n_p: int = 7, n_q: int = 4, iterations: int = 400) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The coefficients ``(P, Q)`` in powers of ``s = x²``, lowest first, rounded to float32."""
    x = np.sort(np.concatenate([np.linspace(0.0, LIMIT, 20001)[1:], np.geomspace(1e-6, 1e-1, 2000)]))
    t = np.tanh(x)
    u = (x / LIMIT) ** 2  # s scaled to [0, 1]: a well-conditioned system
    weights, q_prev = np.ones_like(x), np.ones_like(x)
    for _ in range(iterations):
        cols = [x * u**k for k in range(n_p)] + [-t * u**k for k in range(1, n_q)]
        scale = 1.0 / (t * q_prev)
        a = np.stack(cols, 1) * scale[:, None]
        root = np.sqrt(weights)
        c = np.linalg.lstsq(a * root[:, None], t * scale * root, rcond=None)[0]
        p, q = c[:n_p], np.concatenate([[1.0], c[n_p:]])
        q_prev = np.polyval(q[::-1], u)
        error = np.abs(x * np.polyval(p[::-1], u) / q_prev - t) / t
        weights = weights * error
        weights /= weights.sum()
    p = p / LIMIT ** (2 * np.arange(n_p))  # back to powers of s = x²
    q = q / LIMIT ** (2 * np.arange(n_q))
    return tuple(float(v) for v in p.astype(np.float32)), tuple(float(v) for v in q.astype(np.float32))
