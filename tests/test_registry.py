"""Tests for torchground.registry: every curriculum name is present, refused with a reason,
computes what it says, and trains through torchground.train.trainer.train."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from torchground.errors import RegistryError, SpecError
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, ClassIndexLoss, LossFunction, optimizer_params
from torchground.spec import Spec
from torchground.train import build_optimizer, train

REGISTRIES = {"activation": ACTIVATIONS, "loss": LOSSES, "optimizer": OPTIMIZERS, "init": INITS}

# ----------------------------------------------------------------------------- activations

# The curriculum's element-wise activations (plus later torch ones) → the torch.nn class built.
ACTIVATION_CLASSES = {
    "ELU": nn.ELU, "Hardshrink": nn.Hardshrink, "Hardtanh": nn.Hardtanh, "LeakyReLU": nn.LeakyReLU,
    "LogSigmoid": nn.LogSigmoid, "PReLU": nn.PReLU, "ReLU": nn.ReLU, "ReLU6": nn.ReLU6, "RReLU": nn.RReLU,
    "SELU": nn.SELU, "CELU": nn.CELU, "GELU": nn.GELU, "Sigmoid": nn.Sigmoid, "Softplus": nn.Softplus,
    "Softshrink": nn.Softshrink, "Softsign": nn.Softsign, "Tanh": nn.Tanh, "Tanhshrink": nn.Tanhshrink,
    "Threshold": nn.Threshold, "SiLU": nn.SiLU, "Mish": nn.Mish, "Hardsigmoid": nn.Hardsigmoid,
    "Hardswish": nn.Hardswish, "identity": nn.Identity, "linear": nn.Identity,
}

REFUSED_ACTIVATIONS = ["Softmax", "Softmin", "LogSoftmax", "Softmax2d", "MultiheadAttention", "AdaptiveLogSoftmaxWithLoss"]


@pytest.mark.parametrize(("name", "cls"), ACTIVATION_CLASSES.items())
def test_activation_present_and_builds_its_torch_class(name: str, cls: type) -> None:
    assert name in ACTIVATIONS
    module = ACTIVATIONS.get(name).build()
    assert type(module) is cls


def test_activation_names_are_case_and_alias_tolerant() -> None:
    assert ACTIVATIONS.get("leaky_relu").name == "leakyrelu"
    assert ACTIVATIONS.get("swish").name == "silu"
    assert ACTIVATIONS.get("none").name == "identity"
    assert ACTIVATIONS.get("TANH").name == "tanh"


def test_threshold_is_a_step_at_zero() -> None:
    module = ACTIVATIONS.get("threshold").build()
    x = torch.tensor([-1.0, 0.0, 0.5, 2.0])
    assert module(x).tolist() == [0.0, 0.0, 0.5, 2.0]


def test_built_activations_compute_their_function() -> None:
    x = torch.tensor([-2.0, -0.25, 0.0, 0.25, 2.0])
    assert torch.equal(ACTIVATIONS.get("relu").build()(x), torch.relu(x))
    assert torch.equal(ACTIVATIONS.get("tanh").build()(x), torch.tanh(x))
    assert torch.equal(ACTIVATIONS.get("identity").build()(x), x)
    assert torch.allclose(ACTIVATIONS.get("softsign").build()(x), x / (1 + x.abs()))


def test_each_build_gives_a_new_module() -> None:
    a, b = ACTIVATIONS.get("prelu").build(), ACTIVATIONS.get("prelu").build()
    assert a is not b
    assert a.weight is not b.weight


@pytest.mark.parametrize("name", REFUSED_ACTIVATIONS)
def test_dimension_wise_activations_are_refused_with_a_reason(name: str) -> None:
    assert name not in ACTIVATIONS
    assert ACTIVATIONS.canonical(name) in ACTIVATIONS.refused()
    with pytest.raises(RegistryError) as info:
        ACTIVATIONS.get(name)
    assert info.value.key == "registry.refused"
    reason = ACTIVATIONS.entry(name).reason()
    assert reason and reason in info.value.message()


def test_softmax_reason_explains_the_dimension() -> None:
    assert "dimension" in ACTIVATIONS.entry("softmax").reason("en")
    assert "attention" in ACTIVATIONS.entry("multiheadattention").reason("en").lower()


def test_unknown_names_are_not_refusals() -> None:
    with pytest.raises(RegistryError) as info:
        ACTIVATIONS.get("wobble")
    assert info.value.key == "registry.unknown"
    msg = info.value.message()
    assert "wobble" in msg and "tanh" in msg
    assert "wobble" not in ACTIVATIONS
    assert 3 not in ACTIVATIONS  # type: ignore[operator]


# ----------------------------------------------------------------------------- losses

OUT = torch.tensor([[0.5], [-1.0], [3.0]])
TARGET = torch.tensor([[1.0], [-1.0], [-1.0]])


def loss(name: str, out: torch.Tensor = OUT, target: torch.Tensor = TARGET) -> float:
    return float(LOSSES.get(name).build()(out, target))


def test_losses_present() -> None:
    assert LOSSES.names() == (
        "mse", "half_mse", "l1", "smooth_l1", "huber", "soft_margin", "bce_with_logits", "bce", "crossentropy", "multimargin",
    )


def test_mse_and_half_mse() -> None:
    # differences -0.5, 0, 4
    assert loss("mse") == pytest.approx((0.25 + 0 + 16) / 3)
    assert loss("half_mse") == pytest.approx(0.5 * (0.25 + 0 + 16) / 3)
    assert loss("mseloss") == loss("mse")


def test_l1_smooth_l1_and_huber() -> None:
    assert loss("l1") == pytest.approx((0.5 + 0 + 4) / 3)
    # beta = delta = 1: 0.5·d² inside, |d| − 0.5 outside
    expected = (0.5 * 0.25 + 0 + (4 - 0.5)) / 3
    assert loss("smooth_l1") == pytest.approx(expected)
    assert loss("huber") == pytest.approx(expected)


def test_soft_margin_uses_the_labels_directly() -> None:
    expected = (math.log1p(math.exp(-0.5)) + math.log1p(math.exp(-1.0)) + math.log1p(math.exp(3.0))) / 3
    assert loss("soft_margin") == pytest.approx(expected, rel=1e-6)


def test_bce_with_logits_maps_labels_plus_minus_one_to_one_zero() -> None:
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    # targets ±1 → 1, 0, 0
    expected = -(math.log(sig(0.5)) + math.log(1 - sig(-1.0)) + math.log(1 - sig(3.0))) / 3
    assert loss("bce_with_logits") == pytest.approx(expected, rel=1e-6)
    direct = nn.BCEWithLogitsLoss()(OUT, (TARGET + 1) / 2)
    assert loss("bce_with_logits") == pytest.approx(float(direct))
    entry = LOSSES.get("bce_with_logits")
    assert entry.info["unit_target"] is True and entry.info["unit_output"] is False


def test_bce_maps_output_and_labels_to_probabilities() -> None:
    out = torch.tensor([[0.5], [-0.5], [0.0]])
    target = torch.tensor([[1.0], [-1.0], [1.0]])
    # p = (o + 1) / 2 = 0.75, 0.25, 0.5; t = 1, 0, 1
    expected = -(math.log(0.75) + math.log(0.75) + math.log(0.5)) / 3
    assert loss("bce", out, target) == pytest.approx(expected, rel=1e-6)
    entry = LOSSES.get("bce")
    assert entry.info["unit_target"] and entry.info["unit_output"]
    assert entry.info["output_range"] == (-1.0, 1.0)


def criterion_of(module: nn.Module) -> nn.Module:
    """The torch.nn loss inside a built loss (wrapped in LossFunction where labels are mapped)."""
    return module.criterion if isinstance(module, (LossFunction, ClassIndexLoss)) else module


def test_loss_function_repr_states_the_mapping() -> None:
    text = repr(LOSSES.get("bce").build())
    assert "(output + 1) / 2" in text and "(target + 1) / 2" in text
    text = repr(LOSSES.get("bce_with_logits").build())
    assert "(target + 1) / 2" in text and "(output + 1) / 2" not in text
    assert isinstance(criterion_of(LOSSES.get("mse").build()), nn.MSELoss)
    assert LOSSES.get("mse").build() is not LOSSES.get("mse").build()


def test_classification_only_losses() -> None:
    for name in ("soft_margin", "bce_with_logits", "bce"):
        assert LOSSES.get(name).info["problems"] == ("classification",)
    for name in ("mse", "half_mse", "l1", "smooth_l1", "huber"):
        assert set(LOSSES.get(name).info["problems"]) == {"classification", "regression"}


def _torch_loss_classes() -> list[str]:
    return sorted(
        n for n in dir(nn)
        if n.endswith("Loss") and not n.startswith("_") and isinstance(getattr(nn, n), type)
        and issubclass(getattr(nn, n), nn.Module)
    )


USABLE_TORCH_LOSSES = {"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "SoftMarginLoss", "BCEWithLogitsLoss", "BCELoss",
                       "CrossEntropyLoss", "MultiMarginLoss"}


def _registry_key(cls_name: str) -> str | None:
    """The registry entry a torch.nn loss class is known under (name with or without 'Loss')."""
    low = cls_name.lower()
    for candidate in (low, low.removesuffix("loss")):
        key = LOSSES.canonical(candidate)
        try:
            LOSSES.entry(key)
            return key
        except KeyError:
            continue
    return None


@pytest.mark.parametrize("cls_name", sorted(set(_torch_loss_classes()) - USABLE_TORCH_LOSSES))
def test_every_other_torch_loss_is_refused_with_a_reason(cls_name: str) -> None:
    key = _registry_key(cls_name)
    assert key is not None, f"{cls_name} is neither usable nor refused"
    assert key in LOSSES.refused()
    reason_en, reason_ja = LOSSES.entry(key).reason("en"), LOSSES.entry(key).reason("ja")
    assert reason_en and reason_ja and reason_en != reason_ja
    with pytest.raises(SpecError) as info:
        Spec(loss=key)
    assert info.value.key == "spec.refused" and reason_en in info.value.message()


@pytest.mark.parametrize("cls_name", sorted(USABLE_TORCH_LOSSES))
def test_usable_torch_losses_wrap_their_class(cls_name: str) -> None:
    key = _registry_key(cls_name)
    assert key in LOSSES
    assert type(criterion_of(LOSSES.get(key).build())) is getattr(nn, cls_name)


# ----------------------------------------------------------------------------- optimisers

OPTIMIZER_CLASSES = {
    "sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam",
    "adadelta": "Adadelta", "adagrad": "Adagrad", "asgd": "ASGD", "rmsprop": "RMSprop", "rprop": "Rprop",
    "lbfgs": "LBFGS",
}


@pytest.mark.parametrize(("name", "cls_name"), OPTIMIZER_CLASSES.items())
def test_curriculum_optimizers_present(name: str, cls_name: str) -> None:
    assert name in OPTIMIZERS
    param = torch.zeros(2, requires_grad=True)
    opt = OPTIMIZERS.get(name).build([param], lr=0.1)
    assert type(opt) is getattr(torch.optim, cls_name)


def test_sgd_with_momentum_and_nesterov_through_a_spec() -> None:
    spec = Spec(optimizer_args={"momentum": 0.9, "nesterov": True})
    opt = build_optimizer(spec, [torch.zeros(2, requires_grad=True)])
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (0.03, 0.9, True, 0.03)


def test_adam_betas_through_a_spec() -> None:
    spec = Spec(optimizer="adam", optimizer_args={"betas": (0.8, 0.95)}, lr=0.01)
    group = build_optimizer(spec, [torch.zeros(2, requires_grad=True)]).param_groups[0]
    assert group["betas"] == (0.8, 0.95) and group["lr"] == 0.01


def test_optimizer_params_lists_hyper_parameters_only() -> None:
    assert optimizer_params("sgd") == {"momentum": 0, "dampening": 0, "nesterov": False, "maximize": False}
    for name in OPTIMIZERS.names():
        params = optimizer_params(name)
        assert not {"params", "lr", "weight_decay", "foreach", "fused", "capturable", "differentiable"} & set(params)
    assert "betas" in optimizer_params("adam")
    assert OPTIMIZERS.get("lbfgs").info["needs_closure"] is True
    assert OPTIMIZERS.get("lbfgs").info["weight_decay"] is False


@pytest.mark.parametrize("name", ["SparseAdam", "sparse_adam"])
def test_sparseadam_refused(name: str) -> None:
    assert name not in OPTIMIZERS
    with pytest.raises(RegistryError) as info:
        OPTIMIZERS.get(name)
    assert "sparse" in info.value.message().lower()


# ----------------------------------------------------------------------------- inits


def test_inits_present() -> None:
    assert set(INITS.names()) == {"xavier", "playground", "zero", "kaiming", "torch"}
    assert INITS.get("glorot").name == "xavier"
    assert INITS.get("he").name == "kaiming"


# ----------------------------------------------------------------------------- one-line help


def _all_entries() -> list[tuple[str, str]]:
    return [(kind, name) for kind, reg in REGISTRIES.items() for name in (*reg.names(), *reg.refused())]


@pytest.mark.parametrize(("kind", "name"), _all_entries())
def test_every_entry_has_one_line_text_in_en_and_ja(kind: str, name: str) -> None:
    entry = REGISTRIES[kind].entry(name)
    texts = [entry.reason(lang) for lang in ("en", "ja")] if entry.refused else [entry.summary(lang) for lang in ("en", "ja")]
    en, ja = texts
    assert en.strip() and ja.strip()
    assert "\n" not in en and "\n" not in ja
    assert en != ja


# ----------------------------------------------------------------------------- every entry trains

SMALL = Spec(n_samples=100, epochs=3)
SMALL_REG = SMALL.replace(dataset="reg-plane", n_samples=100)
SMALL_MULTI = SMALL.replace(dataset="blobs", classes=4, n_samples=100)


def _opt_fields(name: str) -> dict:
    return {"optimizer": name} if OPTIMIZERS.get(name).info["weight_decay"] else {"optimizer": name, "weight_decay": 0.0}


TRAIN_CASES = (
    [pytest.param(SMALL, {"activation": a}, id=f"activation-{a}") for a in ACTIVATIONS.names()]
    + [pytest.param(SMALL_REG, {"output_activation": a}, id=f"output-{a}") for a in ACTIVATIONS.names()]
    + [pytest.param(SMALL, {"loss": name}, id=f"loss-{name}") for name in LOSSES.names()
       if "classification" in LOSSES.get(name).info["problems"]]
    + [pytest.param(SMALL_MULTI, {"loss": name}, id=f"loss-multi-{name}") for name in LOSSES.names()
       if "multiclass" in LOSSES.get(name).info["problems"]]
    + [pytest.param(SMALL_REG, {"loss": name}, id=f"loss-reg-{name}") for name in LOSSES.names()
       if "regression" in LOSSES.get(name).info["problems"]]
    + [pytest.param(SMALL, _opt_fields(name), id=f"optimizer-{name}") for name in OPTIMIZERS.names()]
    + [pytest.param(SMALL, {"init": name}, id=f"init-{name}") for name in INITS.names()]
)


@pytest.mark.parametrize(("base", "fields"), TRAIN_CASES)
def test_every_usable_entry_trains_three_epochs(base: Spec, fields: dict) -> None:
    run = train(base.replace(**fields))
    history = run.history
    assert history.status in ("completed", "diverged")
    if history.status == "diverged":
        assert history.message is not None and history.message[0] == "train.diverged"
    else:
        assert history.epochs == 3
        assert history.steps == 3 * math.ceil(base.n_train / base.batch_size)
    for row in history.rows:
        for column in ("train_loss", "val_loss"):
            assert math.isfinite(row[column]), (column, row)
    assert all(bool(torch.isfinite(p).all()) for p in run.model.parameters())


def test_playground_set_of_activations_all_train_on_the_same_data() -> None:
    # The Playground's four and the Deep Insider fork's additions are all usable.
    for name in ("relu", "tanh", "sigmoid", "linear", "elu", "selu", "softplus", "softsign"):
        assert name in ACTIVATIONS


REFUSED_VIA_SPEC = (
    [pytest.param("activation", n, id=f"activation-{n}") for n in ACTIVATIONS.refused()]
    + [pytest.param("output_activation", n, id=f"output-{n}") for n in ACTIVATIONS.refused()]
    + [pytest.param("loss", n, id=f"loss-{n}") for n in LOSSES.refused()]
    + [pytest.param("optimizer", n, id=f"optimizer-{n}") for n in OPTIMIZERS.refused()]
)


@pytest.mark.parametrize(("field", "name"), REFUSED_VIA_SPEC)
def test_every_refused_entry_is_refused_by_spec_with_its_message(field: str, name: str) -> None:
    registry = {"activation": ACTIVATIONS, "output_activation": ACTIVATIONS, "loss": LOSSES, "optimizer": OPTIMIZERS}[field]
    with pytest.raises(SpecError) as info:
        Spec(**{field: name})
    err = info.value
    assert err.key == "spec.refused"
    msg = err.message()
    assert name in msg
    assert registry.entry(name).reason() in msg
