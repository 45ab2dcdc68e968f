"""Tests for torchground.engine: the stacked engine agrees with the eager trainer.

Agreement: every history value of every epoch within 1e-5 (float32) / 1e-9 (float64) of
the eager Trainer's, for every supported optimiser, every activation, every loss, full
and mini batches, M = 1 and M > 1 with distinct seeds, hyper-parameters and data.
"""

from __future__ import annotations

import math
import os
import pickle
import warnings
from typing import Any, Sequence

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from torchground.engine import SUPPORTED, StackedGroup, check_supported, group_key, group_specs, train_fast
from torchground.engine.batch_orders import BatchOrders
from torchground.engine.data import initial_params
from torchground.engine.ops import ACTIVATION_OPS, LOSS_OPS
from torchground.engine.optim import OPTIMIZER_KINDS, StackedOptimizer
from torchground.errors import TorchgroundError
from torchground.train.history import History
from torchground.model import build_model
from torchground.registry import INITS, OPTIMIZERS
from torchground.spec import Spec
from torchground.train import Trainer, train

TOL = {"float32": 1e-5, "float64": 1e-9}
SMALL = {"n_samples": 120, "epochs": 4}  # 60 training points, 60 validation points

# Per optimiser: non-default hyper-parameters for three models of one group.
OPT_ARGS: dict[str, list[dict[str, Any]]] = {
    "sgd": [{"momentum": 0.8}, {"momentum": 0.9, "dampening": 0.1}, {"momentum": 0.5, "dampening": 0.3}],
    "adam": [{}, {"betas": (0.8, 0.99), "eps": 1e-6}, {"betas": (0.95, 0.9)}],
    "adamw": [{}, {"betas": (0.85, 0.995)}, {"eps": 1e-4}],
    "rmsprop": [{}, {"alpha": 0.9, "eps": 1e-6}, {"alpha": 0.95}],
    "adagrad": [{}, {"lr_decay": 0.01, "initial_accumulator_value": 0.1}, {"eps": 1e-6}],
}
LRS = {"sgd": (0.03, 0.1, 0.01), "adam": (0.01, 0.003, 0.03), "adamw": (0.01, 0.02, 0.005),
       "rmsprop": (0.003, 0.001, 0.01), "adagrad": (0.05, 0.1, 0.02)}


@pytest.fixture(autouse=True)
def fixed_seed():
    torch.manual_seed(0)


def eager(spec: Spec) -> Trainer:
    trainer = Trainer(spec)
    trainer.fit()
    return trainer


def worst_difference(a: History, b: History) -> float:
    """Largest |a − b| over every value of every row; fails on structural differences."""
    assert (a.epochs, a.status, a.steps, a.best_epoch) == (b.epochs, b.status, b.steps, b.best_epoch)
    worst = 0.0
    for ra, rb in zip(a.rows, b.rows):
        assert ra.keys() == rb.keys()
        for key, va in ra.items():
            vb = rb[key]
            if va is None or vb is None:
                assert va is vb, key
            elif isinstance(va, float) and math.isnan(va):
                assert math.isnan(vb), key
            else:
                worst = max(worst, abs(va - vb))
    return worst


def agree(specs: Sequence[Spec]) -> list[float]:
    """Train ``specs`` as one group and each alone with the eager trainer; check every row."""
    results = StackedGroup(specs).run()
    diffs = []
    for spec, result in zip(specs, results):
        reference = eager(spec)
        diff = worst_difference(reference.history, result.history())
        assert diff <= TOL[spec.dtype], (spec.optimizer, spec.dtype, diff)
        assert result.message == reference.history.message
        reference_params = torch.cat([p.detach().flatten() for p in reference.model.parameters()])
        torch.testing.assert_close(result.params, reference_params, rtol=0, atol=TOL[spec.dtype] * 10)
        diffs.append(diff)
    return diffs


#: Whether the engine and the trainer do the same arithmetic: MKL's conditional numerical
#: reproducibility pinned to one code path. Elsewhere (MKL's AVX2 / AVX-512 paths, other
#: BLAS) a batched matmul and a single one may round differently in the last bit.
SAME_ARITHMETIC = os.environ.get("MKL_CBWR", "").upper().startswith("COMPATIBLE")


def agree_chaotic(specs: Sequence[Spec], chaotic: Sequence[int]) -> None:
    """The promise for chaotic models (divergence, early stopping decided near its threshold).

    Where the arithmetic is the same (:data:`SAME_ARITHMETIC`): :func:`agree`, exactly as
    for every other model. On any CPU: the engine reproduces itself bit for bit; every model
    ends with the trainer's status, its stop epoch and best epoch within one epoch of the
    trainer's, finite weights; the models not in ``chaotic`` agree as :func:`agree` says.
    """
    if SAME_ARITHMETIC:
        agree(specs)
        return
    results, again = StackedGroup(specs).run(), StackedGroup(specs).run()
    for result, repeat in zip(results, again):
        assert result.history().rows == repeat.history().rows and torch.equal(result.params, repeat.params)
    for i, (spec, result) in enumerate(zip(specs, results)):
        if i not in chaotic:
            agree([spec])
            continue
        reference, history = eager(spec).history, result.history()
        assert history.status == reference.status and result.message[0] == reference.message[0]
        assert abs(history.epochs - reference.epochs) <= 1
        assert (history.best_epoch is None) == (reference.best_epoch is None)
        assert history.best_epoch is None or abs(history.best_epoch - reference.best_epoch) <= 1
        assert torch.isfinite(result.params).all()


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZER_KINDS))
def test_every_optimizer_agrees_alone(optimizer, dtype):
    agree([Spec(optimizer=optimizer, lr=LRS[optimizer][0], dtype=dtype, **SMALL)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZER_KINDS))
def test_every_optimizer_agrees_stacked_with_distinct_seeds_and_hyperparameters(optimizer, dtype):
    specs = [
        Spec(optimizer=optimizer, lr=lr, optimizer_args=args, dtype=dtype, seed=i, init_seed=10 + i, shuffle_seed=20 + i,
             weight_decay=0.0 if optimizer != "sgd" or i else 0.01, **SMALL)
        for i, (lr, args) in enumerate(zip(LRS[optimizer], OPT_ARGS[optimizer]))
    ]
    assert len(group_specs(specs)) == 1
    agree(specs)


@pytest.mark.parametrize(
    "optimizer, args",
    [("sgd", {"momentum": 0.9, "nesterov": True}), ("sgd", {"maximize": True}), ("adam", {"amsgrad": True}),
     ("adam", {"decoupled_weight_decay": True}), ("adamw", {"amsgrad": True}), ("rmsprop", {"centered": True}),
     ("rmsprop", {"momentum": 0.5}), ("rmsprop", {"momentum": 0.5, "centered": True}), ("adagrad", {"maximize": True})],
)
def test_optimizer_variants_agree(optimizer, args):
    lr = 0.001 if args.get("maximize") else LRS[optimizer][0]
    agree([Spec(optimizer=optimizer, optimizer_args=args, lr=lr, init_seed=s, **SMALL) for s in (1, 2)])


@pytest.mark.parametrize("activation", list(ACTIVATION_OPS))
def test_every_activation_agrees(activation):
    agree([Spec(activation=activation, hidden=(4, 3), lr=0.05, **SMALL)])


# crossentropy (K classes) agrees in tests/engine/test_engine_own_data.py
@pytest.mark.parametrize("loss", [name for name in LOSS_OPS if name != "crossentropy"])
def test_every_loss_agrees(loss):
    agree([Spec(loss=loss, lr=lr, init_seed=i, **SMALL) for i, lr in enumerate((0.03, 0.1))])


@pytest.mark.parametrize("loss", ["mse", "half_mse", "l1", "smooth_l1", "huber"])
def test_regression_losses_and_metrics_agree(loss):
    agree([Spec(dataset=d, loss=loss, n_samples=100, epochs=3, val_pct=30, test_pct=20, lr=0.01) for d in ("reg-plane", "reg-gauss")][:1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", ["full", 1, 7, 60])
def test_full_and_mini_batches_agree(batch_size, dtype):
    agree([Spec(batch_size=batch_size, dtype=dtype, n_samples=120, epochs=3, init_seed=s) for s in (0, 1)])


def test_distinct_data_seeds_datasets_and_features_stack():
    specs = [
        Spec(seed=0, **SMALL), Spec(seed=1, noise=20, **SMALL), Spec(dataset="xor", seed=2, **SMALL),
        Spec(dataset="spiral", features=("x1sq", "x2sq"), **SMALL), Spec(shuffle=False, shuffle_seed=4, **SMALL),
    ]
    assert len(group_specs(specs)) == 1
    agree(specs)


def test_playground_recipe_with_l1_l2_and_test_split_agrees():
    base = Spec.preset("playground", n_samples=100, epochs=5, training_loop="pytorch")
    agree([base.replace(l1=0.003), base.replace(l2=0.01, init_seed=3), base.replace(l1=0.01, l2=0.003, lr=0.1), base])


def test_tf_playground_loop_is_refused_by_name():
    with pytest.raises(TorchgroundError, match="training_loop = tf-playground"):
        check_supported(Spec.preset("playground"))


def test_early_stopping_per_model_agrees():
    specs = [Spec(patience=p, lr=0.3, epochs=40, n_samples=120, restore_best=r, min_delta=d, init_seed=i)
             for i, (p, r, d) in enumerate([(2, True, 0.0), (4, False, 0.0), (3, True, 0.01)])]
    results = StackedGroup(specs + [Spec(lr=0.3, epochs=40, n_samples=120)]).run()
    assert [r.status for r in results][:3] == ["early_stopped"] * 3
    assert results[3].status == "completed"
    agree_chaotic(specs, chaotic=range(3))  # lr 0.3 for up to 40 epochs: last-bit differences grow


# ----------------------------------------------------------------------------- divergence
def test_divergence_stops_only_that_model():
    base = Spec(activation="relu", output_activation="identity", epochs=8, n_samples=120)
    specs = [base, base.replace(lr=50.0), base.replace(lr=0.01, init_seed=3), base.replace(optimizer="sgd", lr=80.0, init_seed=2)]
    results = StackedGroup(specs).run()
    assert [r.status for r in results] == ["completed", "diverged", "completed", "diverged"]
    assert results[1].message[0] == "train.diverged" and results[1].message[1]["optimizer"] == "sgd"
    assert all(torch.isfinite(r.params).all() for r in results)
    agree_chaotic(specs, chaotic=(1, 3))  # every model (diverged ones included) as the eager trainer has it


def test_divergence_in_the_first_step_keeps_the_initial_weights():
    specs = [Spec(activation="relu", output_activation="identity", lr=lr, epochs=3, n_samples=120, batch_size="full") for lr in (0.01, 100.0)]
    results = StackedGroup(specs).run()
    assert results[1].status == "diverged" and results[1].history().epochs in (0, 1, 2)
    agree_chaotic(specs, chaotic=(1,))


# ----------------------------------------------------------------------------- train_fast
def test_train_fast_equals_train():
    spec = Spec(epochs=5, n_samples=200)
    a, b = train(spec), train_fast(spec)
    assert worst_difference(a.history, b.history) <= 1e-5
    assert a.spec == b.spec and a.data.train.n == b.data.train.n
    # the engine's summary also says which code trained it (the fused kernel, by default)
    assert set(a.summary) | {"path"} == set(b.summary) and a.summary["status"] == b.summary["status"] == "completed"
    assert b.summary["path"] == "fused"
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb
        torch.testing.assert_close(va, vb, rtol=0, atol=1e-5)
    assert np.array_equal(a.data.train.points, b.data.train.points)


def test_train_fast_default_recipe_is_bit_close():
    a, b = train(Spec(epochs=3)), train_fast(Spec(epochs=3))
    assert worst_difference(a.history, b.history) <= 1e-6


@pytest.mark.parametrize(
    "changes, field",
    [({"optimizer": "lbfgs"}, "optimizer"), ({"optimizer": "rprop", "weight_decay": 0.0}, "optimizer"),
     ({"activation": "prelu"}, "activation"), ({"activation": "rrelu"}, "activation")],
)
def test_unsupported_specs_are_refused_naming_what_is_supported(changes, field):
    spec = Spec(**changes)
    with pytest.raises(TorchgroundError) as info:
        train_fast(spec)
    assert info.value.key == "engine.unsupported"
    assert info.value.params["field"] == field
    message = info.value.message()
    assert "sgd" in message if field == "optimizer" else "tanh" in message


def test_supported_table_matches_the_registries():
    assert set(SUPPORTED["optimizer"]) <= set(OPTIMIZERS.names())
    for name in SUPPORTED["activation"]:
        check_supported(Spec(activation=name))


def _compiler_available() -> bool:
    import shutil

    return any(shutil.which(c) for c in ("c++", "g++", "clang++"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "specs",
    [
        pytest.param([Spec(hidden=(3,), n_samples=40, batch_size=10, epochs=4, optimizer="sgd", optimizer_args={"momentum": 0.9})], id="one-sgd"),
        pytest.param(  # Adam's step count, L1's dead weights, a short last batch, models last with M = 3
            [Spec(hidden=(3,), n_samples=46, batch_size=10, epochs=4, optimizer="adam", lr=lr, l1=l1, init_seed=i)
             for i, (lr, l1) in enumerate([(0.01, 0.0), (0.03, 0.001), (0.1, 0.01)])],
            id="three-adam-l1",
        ),
        pytest.param(
            [Spec(dataset="reg-plane", n_samples=40, hidden=(4, 2), batch_size=8, epochs=3, optimizer="rmsprop", lr=0.01, l2=0.01,
                  seed=i, shuffle_seed=i) for i in range(2)],
            id="two-rmsprop-own-data",
        ),
        pytest.param(
            [Spec(hidden=(3,), n_samples=40, batch_size=10, epochs=4, dtype="float64", optimizer="adam", lr=lr) for lr in (0.01, 0.03)],
            id="two-adam-float64",
        ),
    ],
)
def test_compiled_epochs_agree_with_the_trainer(specs):
    """torch.compile path (CPU): the first epoch eager, the rest compiled on the models-last twin; same numbers to rounding."""
    group = StackedGroup(specs, compile=True)
    results = group.run()
    assert group._compiled is not None
    if _compiler_available():
        assert group._compiled.ok, group._compiled.failed
    for spec, result in zip(specs, results):
        assert worst_difference(eager(spec).history, result.history()) <= TOL[spec.dtype]
        assert result.steps == eager(spec).history.steps


@pytest.mark.slow
@pytest.mark.parametrize("orders", [3, 1])
def test_compiled_many_models_agree_with_the_eager_engine_and_trainer(orders):
    """16 models or more: batches gathered eagerly (once for all models when they share one
    order and the data), steps and metrics as two compiled calls."""
    specs = [Spec(hidden=(3,), n_samples=46, batch_size=10, epochs=3, lr=0.01 * (1 + i % 5), init_seed=i, shuffle_seed=i % orders,
                  l1=0.001 * (i % 2)) for i in range(17)]
    group = StackedGroup(specs, compile=True)
    compiled = group.run()
    if _compiler_available():
        assert group._compiled.ok, group._compiled.failed
        assert group._compiled.shared == (orders == 1)
    for spec, plain, fast in zip(specs, StackedGroup(specs).run(), compiled):
        assert worst_difference(plain.history(), fast.history()) <= 1e-5
    for i in (0, 7, 16):
        assert worst_difference(eager(specs[i]).history, compiled[i].history()) <= 1e-5


def test_many_shapes_compile_in_one_process():
    """Each shape compiles as its own static graph, and trains compiled (not eagerly)."""
    if not _compiler_available():
        pytest.skip("no C++ compiler")
    for n_samples, batch in ((20, 10), (24, 4), (30, 5), (36, 6)):
        spec = Spec(hidden=(2,), n_samples=n_samples, batch_size=batch, epochs=2)
        group = StackedGroup([spec], compile=True)
        result = group.run()[0]
        assert group._compiled.ok and group._compiled.failed is None, (n_samples, group._compiled.failed)
        assert worst_difference(eager(spec).history, result.history()) <= 1e-5


def test_models_last_twin_shares_memory_for_one_model_and_syncs_back():
    specs = [Spec(hidden=(3,), lr=lr) for lr in (0.01, 0.1)]
    net = StackedGroup(specs).net
    twin = net.models_last()
    assert twin.params.shape == net.params.shape[::-1] and twin.params.is_contiguous()
    twin.params.add_(1.0)
    net.load_from(twin)
    assert torch.equal(net.params, twin.params.t())
    one = StackedGroup(specs[:1]).net
    assert one.models_last().params.data_ptr() == one.params.data_ptr()
    x = torch.randn(1, 7, 2)
    assert torch.allclose(twin.forward(x), net.forward(x), atol=1e-6)


# ----------------------------------------------------------------------------- building blocks
@pytest.mark.parametrize("init", INITS.names())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_initial_params_equal_build_model(init, dtype):
    for seed in (0, 7):
        spec = Spec(init=init, init_seed=seed, hidden=(5, 2, 3), features=("x1", "x2", "x1x2"), dtype=dtype)
        flat = torch.cat([p.detach().flatten() for p in build_model(spec).parameters()])
        assert torch.equal(initial_params(spec), flat)


def test_batch_orders_are_the_dataloaders():
    n = 23
    specs = [Spec(shuffle_seed=s) for s in (0, 5, 5)] + [Spec(shuffle=False)]
    orders = BatchOrders(specs, n)
    loaders = [DataLoader(TensorDataset(torch.arange(n)), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(s))
               for s in (0, 5)]
    for _ in range(3):
        got = orders.orders()
        expected = [torch.cat([b[0] for b in loader]) for loader in loaders]
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1]) and torch.equal(got[2], expected[1])
        assert torch.equal(got[3], torch.arange(n))
    orders.select([2, 3])  # the models of seed 0 leave: the others' orders go on where they were
    for _ in range(3):
        got = orders.orders()
        assert torch.equal(got[0], torch.cat([b[0] for b in loaders[1]])) and torch.equal(got[1], torch.arange(n))


@pytest.mark.parametrize("optimizer", list(OPTIMIZER_KINDS))
def test_stacked_optimizer_steps_match_torch_optim_per_model(optimizer):
    """Ten steps on random gradients, each model's row against its own torch.optim."""
    specs = [Spec(optimizer=optimizer, lr=lr, optimizer_args=args) for lr, args in zip(LRS[optimizer], OPT_ARGS[optimizer])]
    gen = torch.Generator().manual_seed(1)
    params = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    grads = [torch.randn(3, 6, generator=gen, dtype=torch.float64) for _ in range(10)]
    stacked = StackedOptimizer.build(specs, 6, torch.float64, "cpu")
    p = params.clone()
    for g in grads:
        stacked.step(p, g.clone())
    for m, spec in enumerate(specs):
        ref = params[m].clone().requires_grad_(True)
        kwargs = dict(spec.optimizer_args, weight_decay=spec.weight_decay)
        opt = OPTIMIZERS.get(optimizer).build([ref], lr=spec.lr, foreach=True, **kwargs)
        for g in grads:
            ref.grad = g[m].clone()
            opt.step()
        torch.testing.assert_close(p[m], ref.detach(), rtol=0, atol=1e-12)


def test_grouping_rules():
    base = Spec(epochs=2)
    same = [base, base.replace(lr=0.1), base.replace(seed=3, init_seed=4, shuffle_seed=5), base.replace(l1=0.01),
            base.replace(dataset="xor"), base.replace(weight_decay=0.0), base.replace(optimizer_args={"dampening": 0.5}), base.replace(patience=3, epochs=2)]
    assert len({group_key(s) for s in same}) == 1
    apart = [base, base.replace(hidden=(4,)), base.replace(activation="relu"), base.replace(loss="l1"), base.replace(optimizer="adam"),
             base.replace(batch_size=10), base.replace(n_samples=400), base.replace(dtype="float64"), base.replace(optimizer_args={"momentum": 0.9}),
             base.replace(dataset="reg-plane")]
    assert len({group_key(s) for s in apart}) == len(apart)
    assert group_specs([base, base.replace(hidden=(4,)), base.replace(lr=0.5)]) == [[0, 2], [1]]


def test_a_result_pickles_alone():
    results = StackedGroup([Spec(epochs=2, n_samples=60, init_seed=i) for i in range(3)]).run()
    assert not torch.equal(results[0].params, results[1].params)  # each its own row of the group's array
    again = pickle.loads(pickle.dumps(results[1]))
    torch.testing.assert_close(again.params, results[1].params, rtol=0, atol=0)
    assert again.params.untyped_storage().nbytes() == again.params.numel() * again.params.element_size()  # not the group's
    assert again.history().rows == results[1].history().rows


def test_group_refuses_mixed_specs():
    with pytest.raises(ValueError):
        StackedGroup([Spec(), Spec(hidden=(2,))])


# ----------------------------------------------------------------------------- CUDA
def cuda(test):
    """Marked ``gpu`` (``make test-fast`` leaves it out) and skipped without a CUDA GPU."""
    return pytest.mark.gpu(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")(test))


@cuda
@pytest.mark.parametrize("optimizer", list(OPTIMIZER_KINDS))
def test_cuda_graph_engine_agrees_with_cpu(optimizer):
    specs = [Spec(optimizer=optimizer, lr=lr, init_seed=i, epochs=5, n_samples=120, device="cuda") for i, lr in enumerate(LRS[optimizer])]
    group = StackedGroup(specs)
    assert group.use_graph
    on_gpu = group.run()
    on_cpu = StackedGroup([s.replace(device="cpu") for s in specs]).run()
    for a, b in zip(on_gpu, on_cpu):
        assert worst_difference(a.history(), b.history()) <= 1e-4


@cuda
def test_cuda_divergence_and_compaction():
    base = Spec(activation="relu", output_activation="identity", epochs=6, n_samples=120, device="cuda")
    results = StackedGroup([base, base.replace(lr=50.0), base.replace(lr=0.01)]).run()
    assert [r.status for r in results] == ["completed", "diverged", "completed"]


@cuda
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_cuda_compiled_engine_agrees_with_cpu(optimizer):
    specs = [Spec(optimizer=optimizer, lr=lr, init_seed=i, epochs=4, n_samples=120, device="cuda") for i, lr in enumerate(LRS[optimizer])]
    group = StackedGroup(specs, compile=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        on_gpu = group.run()
    assert group._compiled is not None and group._compiled.ok, group._compiled and group._compiled.failed
    assert group._compiled.fused_epochs == 4, [str(w.message) for w in caught]  # the fused Triton kernels, every epoch
    on_cpu = StackedGroup([s.replace(device="cpu") for s in specs]).run()
    for a, b in zip(on_gpu, on_cpu):
        assert worst_difference(a.history(), b.history()) <= 1e-4
