"""Tests for torchground.train.tfpg_run and the spec's TensorFlow Playground settings:
a link's spec, data, initial weights and training curve against TensorFlow Playground's
own numbers, and link → spec → link."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchground.data.tfpg_link import LinkError, format_link, parse_link
from torchground.errors import SpecError, TorchgroundError
from torchground.spec import Spec
from torchground.train import Trainer, train
from torchground.train.tfpg_run import link_of, open_link, spec_from_link

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"
NAMES = ("default-circle", "reg-gauss-relu", "spiral-features-l1")
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def reference(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_open_link_gives_tf_playgrounds_data_and_initial_weights(name: str) -> None:
    ref = reference(name)
    opened = open_link(ref["url"])
    assert opened.spec.training_loop == "tf-playground" and opened.spec.dtype == "float64"
    for part in ("train", "test"):
        ds = getattr(opened.data, part)
        got = np.c_[ds.points, ds.labels]
        assert np.abs(got - np.array(ref[part])).max() <= 1e-12
    assert opened.data.val.n == 0
    for (w, b), layer in zip(opened.initial_weights(), ref["init"]):
        np.testing.assert_array_equal(w, np.array(layer["weight"]))
        np.testing.assert_array_equal(b, np.array(layer["bias"]))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_a_links_run_has_tf_playgrounds_losses_every_epoch(name: str, dtype: str) -> None:
    ref = reference(name)
    spec, _ = spec_from_link(ref["url"], epochs=ref["epochs"], dtype=dtype, device="cpu")
    run = train(spec)
    got = np.array([[row["train_loss"], row["test_loss"]] for row in run.history.rows])
    assert got.shape == (ref["epochs"], 2)
    assert np.abs(got - np.array(ref["losses"])).max() <= TOLERANCE[dtype]
    if dtype == "float64":
        for layer, want in zip(run.model.linear_layers(), ref["final"]):
            assert np.abs(layer.weight.detach().numpy() - np.array(want["weight"])).max() <= 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_link_spec_link_is_the_identity_on_tf_playgrounds_links(name: str) -> None:
    url = reference(name)["url"]
    spec, notes = spec_from_link(url)
    assert notes == []
    assert link_of(spec) == url
    assert link_of(Spec.from_json(spec.to_json())) == url
    assert link_of(Spec.from_toml(spec.to_toml())) == url


@st.composite
def links(draw: st.DrawFn) -> str:
    problem = draw(st.sampled_from(["classification", "regression"]))
    inputs = ["x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY"]
    on = draw(st.lists(st.sampled_from(inputs), min_size=1, unique=True))
    perc = draw(st.sampled_from(range(10, 100, 10)))
    n_train = (500 if problem == "classification" else 1200) * perc // 100
    params = {
        "activation": draw(st.sampled_from(["relu", "tanh", "sigmoid", "linear"])),
        "regularization": draw(st.sampled_from(["none", "L1", "L2"])),
        "batchSize": draw(st.integers(1, min(30, n_train))),
        "dataset": draw(st.sampled_from(["circle", "xor", "gauss", "spiral"])),
        "regDataset": draw(st.sampled_from(["reg-plane", "reg-gauss"])),
        "learningRate": draw(st.sampled_from(["0.00001", "0.0001", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"])),
        "regularizationRate": draw(st.sampled_from(["0", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1", "3", "10"])),
        "noise": str(draw(st.sampled_from(range(0, 55, 5)))),
        "networkShape": ",".join(str(w) for w in draw(st.lists(st.integers(1, 8), max_size=6))),
        "seed": draw(st.from_regex(r"0\.[0-9]{5}", fullmatch=True)),
        "showTestData": draw(st.sampled_from(["true", "false"])),
        "discretize": draw(st.sampled_from(["true", "false"])),
        "percTrainData": str(perc),
        **{name: "true" if name in on else "false" for name in ["x", "y", "xTimesY", "xSquared", "ySquared"]},
        "cosX": draw(st.sampled_from(["true", "false"])),
        "sinX": "true" if "sinX" in on else "false",
        "cosY": draw(st.sampled_from(["true", "false"])),
        "sinY": "true" if "sinY" in on else "false",
        "collectStats": draw(st.sampled_from(["true", "false"])),
        "problem": problem,
        "initZero": draw(st.sampled_from(["true", "false"])),
        "hideText": draw(st.sampled_from(["true", "false"])),
    }
    hides = draw(st.lists(st.sampled_from(["playButton_hide", "noise_hide", "dataset_hide"]), unique=True))
    text = "&".join(f"{k}={v}" for k, v in params.items())
    text += "".join(f"&{h}={draw(st.sampled_from(['true', 'false']))}" for h in hides)
    return "https://playground.tensorflow.org/#" + text


@pytest.mark.slow
@given(links())
@settings(max_examples=60, deadline=None)
def test_link_spec_link_is_the_identity(url: str) -> None:
    spec, _ = spec_from_link(url)
    assert link_of(spec) == url


def test_missing_parameters_come_back_in_tf_playgrounds_full_form() -> None:
    spec, notes = spec_from_link("#activation=relu&seed=abc")
    link = link_of(spec)
    assert parse_link(link).values == parse_link("#activation=relu&seed=abc").values
    assert link == format_link(parse_link("#activation=relu&seed=abc"))


def test_a_link_without_seed_gets_a_fresh_one_and_says_so() -> None:
    spec, notes = spec_from_link("#networkShape=3")
    seed = spec.tf_playground_seed
    assert seed is not None and len(seed) == 7
    assert notes and seed in notes[0].render("en") and seed in notes[0].render("ja")
    assert f"seed={seed}&" in link_of(spec)


def test_cos_inputs_are_ignored_with_a_note() -> None:
    spec, notes = spec_from_link("#cosX=true&seed=1")
    assert spec.features == ("x1", "x2")
    assert any("cosX" in n.render("en") for n in notes)
    assert "cosX=true" in link_of(spec)


def test_hidden_inputs_leave_the_network() -> None:
    spec, notes = spec_from_link("#x_hide=true&xSquared=true&seed=1")
    assert spec.features == ("x2", "x1sq")
    assert spec.tf_playground_view["x_hide"] == "true"
    assert [(n.key, n.params["names"]) for n in notes] == [("tfpg.note.hidden_inputs", "x")]
    assert link_of(spec).endswith("&x_hide=true")
    assert "&x=true&" in link_of(spec)


def test_display_settings_are_kept_for_the_link() -> None:
    url = "#showTestData=true&regularization=L2&regularizationRate=0&tutorial=dp-neuron&problem=regression&dataset=xor&seed=s"
    spec, _ = spec_from_link(url)
    assert spec.l2 == 0 and spec.dataset == "reg-plane"
    view = spec.tf_playground_view
    assert view == {"showTestData": "true", "tutorial": "dp-neuron", "dataset": "xor", "regularization": "L2"}
    link = link_of(spec)
    for part in ("showTestData=true", "regularization=L2", "regularizationRate=0", "tutorial=dp-neuron", "dataset=xor", "regDataset=reg-plane"):
        assert part in link


def test_a_value_the_spec_refuses_is_named_by_its_link_parameter() -> None:
    with pytest.raises(LinkError) as err:
        spec_from_link("#percTrainData=95&seed=1")
    message = err.value.message("en")
    assert "percTrainData" in message and "train_pct = 95" in message
    with pytest.raises(LinkError, match="batchSize"):
        spec_from_link("#batchSize=300&seed=1")
    with pytest.raises(LinkError, match="x, y, xSquared"):
        spec_from_link("#x=false&y=false&seed=1")


def test_overrides_apply_and_their_errors_stay_the_specs() -> None:
    spec, _ = spec_from_link("#seed=1", epochs=7, dtype="float32")
    assert spec.epochs == 7 and spec.dtype == "float32"
    with pytest.raises(SpecError, match="epochs"):
        spec_from_link("#seed=1", epochs=0)


def test_specs_tf_playground_cannot_show_are_refused_naming_each_setting() -> None:
    with pytest.raises(TorchgroundError) as err:
        link_of(Spec(activation="elu", features=("x2", "x1"), l1=0.1, l2=0.1))
    message = err.value.message("en")
    for part in ("training_loop = pytorch", "tf_playground_seed", "activation = elu", "features = x2, x1", "l1, l2", "val_pct = 50", "shuffle"):
        assert part in message
    assert err.value.message("ja") != message


def test_full_batch_is_shown_as_the_training_set_size() -> None:
    spec = Spec.preset("playground", tf_playground_seed="z", batch_size="full")
    assert "batchSize=250&" in link_of(spec)


def test_preset_playground_uses_tf_playgrounds_loop_and_the_recipe_keeps_its_own() -> None:
    assert Spec.preset("playground").training_loop == "tf-playground"
    assert Spec.preset("seed").training_loop == "pytorch" and Spec().training_loop == "pytorch"


@pytest.mark.parametrize(
    "changes, field",
    [({"optimizer": "adam"}, "optimizer"), ({"loss": "mse"}, "loss"), ({"shuffle": True}, "shuffle"),
     ({"weight_decay": 0.1}, "weight_decay"), ({"optimizer_args": {"momentum": 0.9}}, "optimizer_args")],
)
def test_tf_playground_loop_refuses_what_it_cannot_do(changes: dict, field: str) -> None:
    with pytest.raises(SpecError) as err:
        Spec.preset("playground", **changes)
    assert f"needs {field}" in err.value.message("en")


def test_spec_refuses_bad_tf_playground_settings() -> None:
    with pytest.raises(SpecError, match="training_loop"):
        Spec(training_loop="keras")
    with pytest.raises(SpecError, match="tf_playground_seed"):
        Spec(tf_playground_seed="a&b")
    with pytest.raises(SpecError, match="colour"):
        Spec(tf_playground_view={"colour": "red"})
    with pytest.raises(SpecError, match="n_samples"):
        Spec(tf_playground_seed="a", n_samples=100)


def test_preset_playground_with_a_tf_seed_trains_tf_playgrounds_way() -> None:
    """The preset plus a seed text is the default link: the same numbers as opening it."""
    ref = reference("default-circle")
    spec = Spec.preset("playground", tf_playground_seed="0.80000", epochs=3, dtype="float64", device="cpu")
    assert link_of(spec) == ref["url"]
    run = Trainer(spec)
    run.fit()
    got = np.array([[r["train_loss"], r["test_loss"]] for r in run.history.rows])
    assert np.abs(got - np.array(ref["losses"][:3])).max() <= 1e-12


def test_live_learning_rate_change_reaches_the_loop() -> None:
    spec, _ = spec_from_link("#seed=lr", epochs=2, device="cpu")
    trainer = Trainer(spec)
    trainer.run_epoch()
    trainer.update_hyperparameters(spec.replace(lr=0.3))
    assert trainer._tf_loop.lr == 0.3
    row = trainer.run_epoch()
    assert row is not None and row["lr"] == 0.3


def test_init_seed_counts_tf_playgrounds_reset_presses() -> None:
    """Its reset button builds a new network whose weights go on drawing from the stream:
    init_seed = k gives the network after k presses (the page's "new weights" button)."""
    from torchground.data.tfpg_datasets import initial_weights, playground_points
    from torchground.model import build_model

    sizes = (2, 4, 2, 1)
    _, rng = playground_points("circle", 0, "0.80000")
    networks = [initial_weights(rng, sizes) for _ in range(3)]
    np.testing.assert_array_equal(networks[0][0][0], np.array(reference("default-circle")["init"][0]["weight"]))
    for presses in range(3):
        model = build_model(Spec.preset("playground", tf_playground_seed="0.80000", init_seed=presses, dtype="float64"))
        for layer, (w, b) in zip(model.linear_layers(), networks[presses]):
            np.testing.assert_array_equal(layer.weight.detach().numpy(), w)
    with pytest.raises(SpecError, match="init_seed"):
        Spec.preset("playground", tf_playground_seed="0.8", init_seed=1001)
