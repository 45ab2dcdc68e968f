"""The kernels' tanh (rules.py's rational fit, tanh_fit.py): the pinned coefficients are the
fit's, and the function is close to tanh everywhere, odd, within ±1, and passes NaN on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchground.engine.kernels.rule_text import TORCH as RULE
from torchground.engine.kernels.rules import ACTS, TANH_LIMIT, TANH_P, TANH_Q
from torchground.engine.kernels.tanh_fit import LIMIT, fit
from torchground.spec import Spec

TANH = ACTS["tanh"]


def test_the_pinned_coefficients_are_the_fits():
    p, q = fit()
    assert TANH_LIMIT == LIMIT
    # the same float32 numbers, give or take one rounding of the float64 fit
    np.testing.assert_allclose(p, TANH_P, rtol=2.5e-7, atol=0)
    np.testing.assert_allclose(q, TANH_Q, rtol=2.5e-7, atol=0)
    assert all(float(np.float32(c)) == c for c in TANH_P + TANH_Q)


def test_in_exact_arithmetic_the_fit_is_within_a_tenth_of_a_float32_rounding():
    x = np.geomspace(1e-8, LIMIT, 400_001)
    s = x * x
    approx = x * np.polyval(TANH_P[::-1], s) / np.polyval(TANH_Q[::-1], s)
    assert (np.abs(approx - np.tanh(x)) / np.tanh(x)).max() < 0.6 * 2.0**-24


def _every_kth_float(lo: float, hi: float, k: int) -> torch.Tensor:
    start, stop = (torch.tensor(v, dtype=torch.float32).view(torch.int32).item() for v in (lo, hi))
    return torch.arange(start, stop, k, dtype=torch.int32).view(torch.float32)


def test_in_float32_it_is_within_three_ulp_of_tanh():
    z = _every_kth_float(2.0**-30, 12.0, 11)  # 9.6 million values, every binade
    a = RULE.act(z, KIND=TANH)
    exact = torch.tanh(z.double())
    assert ((a.double() - exact).abs() / exact).max() < 3 * 2.0**-23
    assert (a <= 1).all() and (a[z >= 9.1] == 1).all()


def test_it_is_odd_bounded_and_passes_nan_on():
    z = torch.cat([_every_kth_float(2.0**-20, 20.0, 9973), torch.tensor([0.0, 1e-30, 9.0, 50.0, float("inf")])])
    assert torch.equal(RULE.act(-z, KIND=TANH), -RULE.act(z, KIND=TANH))
    special = RULE.act(torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-30, float("nan")]), KIND=TANH)
    assert special[:5].tolist() == [0.0, 0.0, 1.0, -1.0, torch.tensor(1e-30).item()] and torch.signbit(special[1])
    assert special[5].isnan()


def test_the_c_kernels_tanh_is_within_three_ulp_too(tmp_path, monkeypatch):
    """The C rendering (native.c with the rules written in; fused multiply-adds where the CPU
    has them), applied to every 7th float32 from 2⁻²⁰ to 12 through a small function appended
    to the kernel's source and built as the kernel is."""
    import ctypes

    from torchground.engine import StackedGroup
    from torchground.engine.kernels import build_cache, native
    from torchground.engine.kernels.prebuild import kernel_defines

    try:
        build_cache.compiler()
    except build_cache.BuildError:
        pytest.skip("no C compiler")
    monkeypatch.setenv("TORCHGROUND_CACHE", str(tmp_path / "cache"))
    group = StackedGroup([Spec(hidden=(8, 8), init_seed=i) for i in range(16)])
    defines = kernel_defines(group.net, 250, 10, True, 1, True)
    assert defines is not None
    src = tmp_path / "tanh.c"
    src.write_text(native.source() + """
void tg_tanh(const float *x, float *y, long n) {
    for (long i = 0; i + VB <= n; i += VB) {
        vf v;
        memcpy(&v, x + i, sizeof v);
        v = act(v, 1);
        memcpy(y + i, &v, sizeof v);
    }
}
""")
    lib = build_cache.build(src, defines, "tanh-test", "the test library")
    z = _every_kth_float(2.0**-20, 12.0, 7)
    z = torch.cat([z, -z])[: (2 * len(z)) // 64 * 64].contiguous()
    a = torch.empty_like(z)
    lib.tg_tanh(ctypes.c_void_p(z.data_ptr()), ctypes.c_void_p(a.data_ptr()), ctypes.c_long(len(z)))
    exact = torch.tanh(z.double())
    assert ((a.double() - exact).abs() / exact.abs()).max() < 3 * 2.0**-23
    assert (a.abs() <= 1).all() and torch.equal(a[z >= 9.1], torch.ones_like(a[z >= 9.1]))
