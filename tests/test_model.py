"""Tests for torchground.model: the curriculum's layer names, initialisers, seeds, discretize."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchground.model import Discretize, PlaygroundNet, build_model, discretize, weight_parameters
from torchground.spec import Spec


def test_layer_names_follow_the_curriculum() -> None:
    model = build_model(Spec(hidden=(4, 3, 2)))
    names = [n for n, _ in model.named_children()]
    assert names == ["layer1", "act1", "layer2", "act2", "layer3", "act3", "layer_out", "act_out"]
    assert list(model.state_dict()) == [
        "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias",
        "layer3.weight", "layer3.bias", "layer_out.weight", "layer_out.bias",
    ]
    shapes = [tuple(layer.weight.shape) for layer in model.linear_layers()]
    assert shapes == [(4, 2), (3, 4), (2, 3), (1, 2)]


def test_print_shows_the_structure() -> None:
    text = repr(build_model(Spec()))
    assert text == (
        "PlaygroundNet(\n"
        "  (layer1): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (act1): Tanh()\n"
        "  (layer2): Linear(in_features=3, out_features=3, bias=True)\n"
        "  (act2): Tanh()\n"
        "  (layer_out): Linear(in_features=3, out_features=1, bias=True)\n"
        "  (act_out): Tanh()\n"
        ")"
    )


def test_activation_choice_and_identity_output() -> None:
    model = build_model(Spec(dataset="reg-plane", activation="relu", hidden=(2,)))
    assert isinstance(model.act1, nn.ReLU)
    assert isinstance(model.act_out, nn.Identity)


def test_one_activation_module_per_layer() -> None:
    model = build_model(Spec(activation="prelu"))
    assert model.act1 is not model.act2
    assert model.act1.weight is not model.act2.weight


def test_no_hidden_layers_is_a_single_neuron() -> None:
    model = build_model(Spec(hidden=()))
    assert [n for n, _ in model.named_children()] == ["layer_out", "act_out"]
    assert tuple(model.layer_out.weight.shape) == (1, 2)
    # curriculum step 1-3: tanh(0.6·1 − 0.2·2 + 0.8) = tanh(1.0)
    with torch.no_grad():
        model.layer_out.weight.copy_(torch.tensor([[0.6, -0.2]]))
        model.layer_out.bias.copy_(torch.tensor([0.8]))
    out = model(torch.tensor([[1.0, 2.0]]))
    assert out.item() == pytest.approx(0.7616, abs=1e-4)
    assert "Tanh" in type(out.grad_fn).__name__


def test_forward_shape_and_layer_outputs() -> None:
    model = build_model(Spec(hidden=(4, 2), features=("x1", "x2", "x1x2")))
    x = torch.randn(7, 3)
    assert model(x).shape == (7, 1)
    outs = model.layer_outputs(x)
    assert [tuple(o.shape) for o in outs] == [(7, 4), (7, 2), (7, 1)]
    assert torch.equal(outs[-1], model(x))


def test_xavier_init_zero_biases_and_bounded_weights() -> None:
    model = build_model(Spec(hidden=(8, 4)))
    for layer in model.linear_layers():
        assert torch.count_nonzero(layer.bias) == 0
        fan_out, fan_in = layer.weight.shape
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert layer.weight.abs().max() <= bound
        assert torch.count_nonzero(layer.weight) == layer.weight.numel()


def test_playground_init_biases_point_one_and_weights_within_half() -> None:
    model = build_model(Spec(init="playground", hidden=(8, 8)))
    for layer in model.linear_layers():
        assert torch.allclose(layer.bias, torch.full_like(layer.bias, 0.1))
        assert layer.weight.abs().max() <= 0.5
    all_weights = torch.cat([w.flatten() for w in weight_parameters(model)])
    assert all_weights.min() < -0.3 and all_weights.max() > 0.3  # spread over U(-0.5, 0.5)


def test_zero_init_is_all_zero() -> None:
    model = build_model(Spec(init="zero"))
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())


def test_kaiming_init_zero_biases() -> None:
    model = build_model(Spec(init="kaiming", activation="relu"))
    assert all(torch.count_nonzero(layer.bias) == 0 for layer in model.linear_layers())


def test_same_init_seed_same_weights_different_seed_different() -> None:
    a = build_model(Spec(init_seed=3)).state_dict()
    b = build_model(Spec(init_seed=3)).state_dict()
    c = build_model(Spec(init_seed=4)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["layer1.weight"], c["layer1.weight"])


@pytest.mark.parametrize("init", ["playground", "torch", "kaiming"])
def test_init_seed_reproduces_every_initialiser(init: str) -> None:
    a = build_model(Spec(init=init, init_seed=11)).state_dict()
    b = build_model(Spec(init=init, init_seed=11)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_init_seed_is_what_a_plain_script_gets_with_manual_seed() -> None:
    def xavier(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        plain = PlaygroundNet(2, (3, 3))
        plain.apply(xavier)
    ours = build_model(Spec(init_seed=5))
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), ours.state_dict().values()))


def test_build_model_does_not_disturb_the_global_rng() -> None:
    torch.manual_seed(123)
    expected = torch.rand(5)
    torch.manual_seed(123)
    build_model(Spec(hidden=(16, 16), init="playground"))
    assert torch.equal(torch.rand(5), expected)


def test_float64_model() -> None:
    model = build_model(Spec(dtype="float64"))
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert model(torch.zeros(3, 2, dtype=torch.float64)).dtype == torch.float64


def test_float64_and_float32_start_from_the_same_values() -> None:
    a = build_model(Spec(dtype="float64")).state_dict()
    b = build_model(Spec()).state_dict()
    assert all(torch.equal(a[k].float(), b[k]) for k in a)


def test_discretize_zero_is_positive() -> None:
    out = torch.tensor([[-0.7], [-1e-9], [0.0], [-0.0], [1e-9], [0.3]])
    assert discretize(out).flatten().tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]


def test_discretize_keeps_shape_and_dtype() -> None:
    out = torch.tensor([[-2.0], [2.0]], dtype=torch.float64)
    res = discretize(out)
    assert res.dtype == torch.float64 and res.shape == (2, 1)


def test_discretize_module_matches_function_and_appends_to_a_model() -> None:
    x = torch.linspace(-1, 1, 9).reshape(-1, 1)
    assert torch.equal(Discretize()(x), discretize(x))
    model = build_model(Spec())
    classifier = nn.Sequential(model, Discretize())
    values = set(classifier(torch.randn(20, 2)).flatten().tolist())
    assert values <= {-1.0, 1.0}


def test_weight_parameters_are_the_weights_without_biases() -> None:
    model = build_model(Spec(hidden=(4,)))
    weights = weight_parameters(model)
    assert [tuple(w.shape) for w in weights] == [(4, 2), (1, 4)]
    assert all(w is layer.weight for w, layer in zip(weights, model.linear_layers()))
