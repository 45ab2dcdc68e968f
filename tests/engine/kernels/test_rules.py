"""One description per rule (engine/kernels/rules.py): its torch form agrees with the eager
engine's own in-place forms (ops.py, optim.py, net.py), with the eager trainer and with the
exported script; the C and Triton texts are made from it. The fused kernels' agreement
with the eager engine (test_fused_native.py, test_fused.py) runs the generated C and Triton.
"""

from __future__ import annotations

import ast

import pytest
import torch

from torchground.codegen import to_script
from torchground.engine.kernels import rule_text
from torchground.engine.kernels.rule_text import TORCH as RULE
from torchground.engine.kernels.rules import ACTIVATIONS, ACTS, HYPER, RULES
from torchground.engine.ops import ACTIVATION_OPS, LOSS_OPS
from torchground.engine.optim import StackedOptimizer
from torchground.spec import Spec
from torchground.train import Trainer


def values(n: int = 4000, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Random values with the awkward ones: ±0, large, tiny, ±inf, NaN."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64) * torch.logspace(-6, 2, n, dtype=torch.float64)
    special = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 50.0, -50.0, 100.0, -100.0, float("inf"), -float("inf"), float("nan")],
                           dtype=torch.float64)
    return torch.cat([x, special]).to(dtype)


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS])
def test_activations_agree_with_the_eager_engine(name):
    z = values()
    z = z[z.isfinite()]
    a, saved = ACTIVATION_OPS[name].forward(z)
    mine = RULE.act(z, KIND=ACTS[name])
    torch.testing.assert_close(mine, a, rtol=0, atol=3e-7)  # tanh by its fit (test_tanh_fit.py), sigmoid by exp: within 2 ulp of 1
    g = values(seed=1)[: len(z)]
    g = torch.where(g.isfinite(), g, 1.0)
    back = ACTIVATION_OPS[name].backward(g, saved)
    assert ((RULE.act_back(g, a, KIND=ACTS[name]) - back).abs() <= 2.5e-7 * g.abs()).all()  # aten may fuse a multiply-add


def test_sign_is_torch_sign():
    x = values()
    rule = rule_text._torch_functions()  # the generated sign, not the torch form's shortcut
    assert torch.equal(rule.sign(x).to(x.dtype).nan_to_num(7.0), torch.sign(x).nan_to_num(7.0))
    assert torch.equal(RULE.sign(x), torch.sign(x).nan_to_num(0.0)) or torch.equal(RULE.sign(x).isnan(), x.isnan())


@pytest.mark.parametrize("loss", ["mse", "half_mse"])
def test_the_loss_gradient_and_batch_loss_agree_with_the_eager_engine(loss):
    out, y = values(seed=2)[:1000].reshape(1, 1000, 1), torch.sign(values(seed=3)[:1000]).reshape(1, 1000, 1)
    half = int(loss == "half_mse")
    assert torch.equal(RULE.loss_grad(out, y, 1000, HALF=half), LOSS_OPS[loss].grad(out, y, 1000))
    sq = ((out - y) ** 2).sum()
    torch.testing.assert_close(RULE.batch_loss(sq, 1000, HALF=half), LOSS_OPS[loss].elements(out, y).sum() / 1000 * LOSS_OPS[loss].scale)


OPTIMISERS = [
    Spec(optimizer="sgd", lr=0.1, weight_decay=0.01),
    Spec(optimizer="sgd", lr=0.1, weight_decay=0.01, optimizer_args={"momentum": 0.9, "dampening": 0.2}),
    Spec(optimizer="sgd", lr=0.1, optimizer_args={"momentum": 0.9, "nesterov": True}),
    Spec(optimizer="adam", lr=0.01, weight_decay=0.01),
    Spec(optimizer="adam", lr=0.01, optimizer_args={"betas": (0.3, 0.99)}),  # the other form of torch.lerp
    Spec(optimizer="adamw", lr=0.01, weight_decay=0.1),
]


@pytest.mark.parametrize("spec", OPTIMISERS, ids=lambda s: f"{s.optimizer}-{sorted(s.optimizer_args)}-{s.weight_decay}")
def test_the_update_agrees_with_the_stacked_optimiser(spec):
    P = 500
    opt = StackedOptimizer.build([spec, spec.replace(lr=spec.lr / 3)], P, torch.float32, "cpu")
    g = torch.Generator().manual_seed(4)
    p = torch.randn(2, P, generator=g)
    for _ in range(3):  # past SGD's first step; Adam's moments filled
        opt.step(p, torch.randn(2, P, generator=g))
    grad = torch.randn(2, P, generator=g)
    state = {k: v.clone() for k, v in opt.state.items()}
    hp = opt.hp
    kind, flags = opt.kind, opt.flags
    adam = kind != "sgd"
    if adam:
        step_size, bc2 = RULE.adam_bias(hp["lr64"], hp["beta1_64"], hp["beta2_64"], opt.t + 1)
        step_size, bc2 = step_size.float(), bc2.float()
    else:
        step_size = bc2 = torch.zeros(2, 1)
    zero = torch.zeros(2, 1)
    h = {k: hp.get(k, zero) for k in ("neg_lr", "wd", "momentum", "one_minus_damp", "one_minus_beta1", "beta2", "one_minus_beta2", "eps", "decay")}
    s1 = state.get("buf", state.get("exp_avg", torch.zeros(2, P)))
    s2 = state.get("exp_avg_sq", torch.zeros(2, P))
    new_p, new_s1, new_s2 = RULE.update(
        p.clone(), grad.clone(), s1, s2, *h.values(), step_size, bc2,
        OPT=int(adam), MOMENTUM=int(not adam and flags[1]), NESTEROV=int(not adam and flags[2]), DECOUPLED=int(adam and flags[3]),
    )
    opt.update(p, grad)
    # The same operations; torch's kernels may fuse a multiply and an add (one rounding
    # fewer), which shows where terms cancel: to a few ulp of the terms' size.
    torch.testing.assert_close(new_p, p, rtol=1e-6, atol=2e-7)
    if adam:
        torch.testing.assert_close(new_s1, opt.state["exp_avg"], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(new_s2, opt.state["exp_avg_sq"], rtol=1e-6, atol=1e-9)
    elif flags[1]:
        torch.testing.assert_close(new_s1, opt.state["buf"], rtol=1e-6, atol=2e-7)


def test_adam_bias_corrections_are_torch_optims():
    lr, b1, b2 = (torch.tensor([[v]], dtype=torch.float64) for v in (0.01, 0.9, 0.999))
    t = torch.arange(1, 50, dtype=torch.float64).unsqueeze(1)
    step_size, bc2 = RULE.adam_bias(lr, b1, b2, t)
    for i, step in enumerate(range(1, 50)):  # torch.optim.Adam's Python scalars, to float64's last bit or two
        assert float(step_size[i, 0]) == pytest.approx(-(0.01 / (1 - 0.9**step)), rel=1e-15)
        assert float(bc2[i, 0]) == pytest.approx((1 - 0.999**step) ** 0.5, rel=1e-15)


def test_penalties_are_autograd_of_the_playground_penalties():
    w = values(seed=5)[:1000].double()
    w = w[w.isfinite()].requires_grad_(True)
    l1, l2 = 0.003, 0.02
    (l1 * w.abs().sum() + l2 * 0.5 * (w * w).sum()).backward()
    g0 = torch.zeros_like(w)
    torch.testing.assert_close(RULE.penalize(g0, w.detach(), l1, l2, L1=1, L2=1), w.grad, rtol=1e-15, atol=0)
    assert torch.equal(RULE.penalize(g0, w.detach(), l1, l2), g0)  # no flags, no penalty


def _crossing(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    before = torch.randn(6, 5, generator=g)
    before[0, 0] = 0.0
    after = before - 0.7 * torch.randn(6, 5, generator=g).abs() * torch.sign(before)  # some cross 0
    dead = torch.rand(6, 5, generator=g) < 0.2
    return before, after, dead


def test_the_engine_trainer_and_exported_script_apply_the_l1_rule():
    before, after, dead = _crossing(6)
    expected_w, expected_dead = RULE.l1_dead(after, before, dead, torch.tensor(0.01))
    assert expected_dead.any() and (expected_dead & ~dead).any() and (expected_w == 0).sum() >= expected_dead.sum()

    # the eager trainer: its optimiser step, then its rule
    trainer = Trainer(Spec(hidden=(5,), l1=0.01))
    w = trainer._weights[0]
    rows, cols = w.shape
    b0, a0, d0 = before[:rows, :cols], after[:rows, :cols], dead[:rows, :cols]
    with torch.no_grad():
        w.copy_(b0)
    trainer._dead[0].copy_(d0)
    trainer.optimizer.step = lambda closure=None: w.data.copy_(a0)
    trainer._optimizer_step()
    ew, ed = RULE.l1_dead(a0, b0, d0, torch.tensor(0.01))
    assert torch.equal(w.detach(), ew) and torch.equal(trainer._dead[0], ed)

    # the exported script's optimizer_step, run as written
    text = to_script(Spec(l1=0.01), lang="en")
    fn = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "optimizer_step")
    weight = before.clone()
    ns = {"torch": torch, "weights": [weight], "dead": [dead.clone()],
          "optimizer": type("Opt", (), {"step": staticmethod(lambda *a: weight.copy_(after))})()}
    exec(compile(ast.Module([fn], []), "<export>", "exec"), ns)
    ns["optimizer_step"]()
    assert torch.equal(weight, expected_w) and torch.equal(ns["dead"][0], expected_dead)


def test_the_stacked_net_applies_the_l1_rule_to_weights_of_models_with_l1_only():
    from torchground.engine.net import StackedNet, param_count

    specs = [Spec(hidden=(3,), l1=0.0, lr=1.0), Spec(hidden=(3,), l1=0.01, lr=1.0)]
    params = torch.randn(2, param_count((2, 3, 1)), generator=torch.Generator().manual_seed(7))
    net = StackedNet.build(specs, params, torch.float32, "cpu")
    before = net.params.clone()
    g = torch.Generator().manual_seed(8)
    net.step(torch.randn(2, 10, 2, generator=g) * 20, torch.randn(2, 10, 1, generator=g) * 20)
    dead = net.dead
    assert dead[1].any() and not dead[0].any()  # l1 = 0: nothing dies
    assert ((torch.sign(before) * torch.sign(net.params) < 0)[0]).any()  # though model 0's weights crossed 0 too
    assert not dead[1, 6:9].any() and not dead[1, 12]  # biases never die (2-3-1: weights 0-5 and 9-11)
    assert torch.equal(net.params[dead], torch.zeros(int(dead.sum())))


def test_every_kernel_rule_is_in_the_c_and_triton_texts():
    c, tri = rule_text.c_source(), rule_text.triton_source()
    names = {n.name for n in ast.parse(tri).body if isinstance(n, ast.FunctionDef)}
    assert names == {r.name for r in RULES.values() if not r.host}
    for r in RULES.values():
        assert (f" {r.name}(" in c) != r.host
    assert f"vf {', '.join(HYPER)};" in c and c.count("INLINE") == len(names)


def test_native_c_writes_no_rule_by_hand():
    from torchground.engine.kernels import native

    template = native.SOURCE.read_text()
    assert template.count("/* @RULES@ */") == 1
    for r in RULES.values():
        assert f" {r.name}(vf" not in template and f"INLINE vf {r.name}(" not in template, r.name
    full = native.source()
    assert "/* @RULES@ */" not in full and rule_text.c_source() in full
