"""Each initialiser is one set of calls (registry.INIT_STEPS): the trainer's model (through
the registry), the engine's initial weights (a generator) and the exported script's text
all come from it and give the same numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchground.codegen.sources import INIT_CODE
from torchground.engine.data import initial_params
from torchground.model import build_model
from torchground.registry import INIT_STEPS, INITS, init_code, init_layer
from torchground.spec import Spec


@pytest.mark.parametrize("name", sorted(INIT_STEPS))
def test_the_exported_text_draws_what_the_function_draws(name):
    assert INIT_CODE[name] == init_code(name)
    torch.manual_seed(11)
    m = nn.Linear(4, 3)
    w0, b0 = m.weight.detach().clone(), m.bias.detach().clone()
    lines = init_code(name)
    torch.manual_seed(5)
    for line in lines or ():
        exec(line, {"nn": nn, "m": m})  # the script's init_weights body, line by line
    w, b = w0.clone(), b0.clone()
    init_layer(name, w, b, torch.Generator().manual_seed(5))
    assert torch.equal(m.weight.detach(), w) and torch.equal(m.bias.detach(), b)
    assert (lines is None) == (name == "torch")


@pytest.mark.parametrize("name", sorted(INIT_STEPS))
def test_the_registry_entry_is_the_function_on_the_global_generator(name):
    torch.manual_seed(3)
    m = nn.Linear(2, 5)
    w, b = m.weight.detach().clone(), m.bias.detach().clone()
    torch.manual_seed(9)
    m.apply(INITS.get(name).build())
    torch.manual_seed(9)
    init_layer(name, w, b)
    assert torch.equal(m.weight.detach(), w) and torch.equal(m.bias.detach(), b)


@pytest.mark.parametrize("alias", ["glorot", "he", "zeros", "default", "xavier_uniform"])
def test_the_engine_takes_aliases_from_the_same_calls(alias):
    spec = Spec(init=alias, init_seed=4, hidden=(3, 2))
    flat = torch.cat([p.detach().flatten() for p in build_model(spec).parameters()])
    assert torch.equal(initial_params(spec), flat)


def test_the_exported_lines_are_the_ones_scripts_always_had():
    # Exported scripts stay byte-identical: the lines written before the calls became data.
    assert INIT_CODE == {
        "xavier": ("nn.init.xavier_uniform_(m.weight)", "nn.init.zeros_(m.bias)"),
        "playground": ("nn.init.uniform_(m.weight, -0.5, 0.5)", "nn.init.constant_(m.bias, 0.1)"),
        "zero": ("nn.init.zeros_(m.weight)", "nn.init.zeros_(m.bias)"),
        "kaiming": ('nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")', "nn.init.zeros_(m.bias)"),
        "torch": None,
    }


@pytest.mark.parametrize("name", sorted(INIT_STEPS))
@pytest.mark.parametrize("hidden", [(), (3,), (8, 8), (5, 1, 7)])
def test_the_direct_draws_are_the_nn_init_calls(name, hidden):
    """The engine draws straight on the generator (engine/data.py's _drawn): the same numbers
    as nn.init's calls, for every initialiser and shape, on several seeds."""
    from torchground.engine import data

    sizes = (2, *hidden, 1)
    assert data._draws_agree(sizes, name)
    for seed in (3, 77, 2**31 - 1):
        assert torch.equal(data._drawn(seed, sizes, name), data._replayed(seed, sizes, name))


def test_draws_that_disagree_with_nn_init_fall_back_to_its_calls(monkeypatch):
    """A torch whose nn.init computed other bounds would fail the once-per-shape probe: the
    engine then replays nn.init's calls, and the weights stay the model's."""
    from torchground.engine import data

    monkeypatch.setattr(data, "_SQRT3", 1.7)  # every direct uniform bound off
    data._draws_agree.cache_clear()
    try:
        spec = Spec(init="xavier", init_seed=8, hidden=(4, 3))
        assert not data._draws_agree((2, 4, 3, 1), "xavier")
        flat = torch.cat([p.detach().flatten() for p in build_model(spec).parameters()])
        assert torch.equal(initial_params(spec), flat)
    finally:
        data._draws_agree.cache_clear()
