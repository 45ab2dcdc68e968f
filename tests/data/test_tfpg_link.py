"""Tests for torchground.data.tfpg_link: reading and writing TensorFlow Playground links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchground.data.tfpg_link import (
    ACTIVATIONS,
    CLASSIFICATION_DATASETS,
    DEFAULTS,
    INPUTS,
    PARAMS,
    REGRESSION_DATASETS,
    REGULARIZATIONS,
    LinkError,
    LinkSettings,
    format_link,
    js_number,
    parse_link,
)
from torchground.i18n import t

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"
URLS = [json.loads(p.read_text())["url"] for p in sorted(FIXTURES.glob("*.json"))]


@pytest.mark.parametrize("url", URLS)
def test_links_tf_playground_wrote_come_back_unchanged(url: str) -> None:
    assert format_link(parse_link(url)) == url


def test_reference_link_values() -> None:
    s = parse_link(URLS[2])  # spiral-features-l1
    assert s.values["regularization"] == "L1" and s.values["regularizationRate"] == 0.001
    assert s.values["batchSize"] == 3 and s.values["networkShape"] == (6, 4)
    assert s.inputs == ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")
    assert s.data_set == "spiral" and s.values["seed"] == "0.42424"


def test_missing_parameters_take_tf_playgrounds_defaults() -> None:
    s = parse_link("https://playground.tensorflow.org/")
    assert dict(s.values) == dict(DEFAULTS) and s.given == frozenset()
    s = parse_link("#activation=relu&")
    assert s.values["activation"] == "relu" and s.values["networkShape"] == (4, 2)
    assert s.given == {"activation"}


def test_empty_value_keeps_default_but_empty_shape_means_no_hidden_layer() -> None:
    s = parse_link("#learningRate=&networkShape=")
    assert s.values["learningRate"] == 0.03 and s.values["networkShape"] == ()
    assert "networkShape=&" in format_link(s)


def test_unknown_parameters_are_all_named_with_the_known_ones() -> None:
    with pytest.raises(LinkError) as err:
        parse_link("#speed=3&activation=tanh&colour=red")
    message = err.value.message("en")
    assert "speed, colour" in message
    for name in PARAMS:
        assert name in message
    assert "NAME_hide" in message
    assert err.value.message("ja") != message


@pytest.mark.parametrize(
    "fragment, name",
    [
        ("activation=softmax", "activation"),
        ("regularization=l1", "regularization"),
        ("batchSize=ten", "batchSize"),
        ("learningRate=0x10", "learningRate"),
        ("noise=Infinity", "noise"),
        ("networkShape=4,,2", "networkShape"),
        ("networkShape=4,0", "networkShape"),
        ("networkShape=2.5", "networkShape"),
        ("x=yes", "x"),
        ("dataset=reg-plane", "dataset"),
        ("problem=clustering", "problem"),
        ("seed=a=b", "seed"),
        ("seed", "seed"),
        ("playButton_hide=1", "playButton_hide"),
    ],
)
def test_malformed_values_are_refused_naming_them(fragment: str, name: str) -> None:
    with pytest.raises(LinkError) as err:
        parse_link("#" + fragment)
    assert err.value.key == "tfpg.malformed" and err.value.params["name"] == name
    assert "Allowed" in err.value.message("en")


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(LinkError, match="learningRate"):
        parse_link("#learningRate=0.1&learningRate=0.3")


def test_not_text_is_refused() -> None:
    with pytest.raises(LinkError):
        parse_link(None)  # type: ignore[arg-type]


def test_seed_and_tutorial_stay_raw() -> None:
    s = parse_link("#seed=my%20seed&tutorial=dp-neuron")
    assert s.values["seed"] == "my%20seed" and s.values["tutorial"] == "dp-neuron"
    assert "seed=my%20seed" in format_link(s) and "tutorial=dp-neuron" in format_link(s)


def test_hide_keys_keep_their_order_and_hide_inputs() -> None:
    s = parse_link("#x_hide=true&playButton_hide=false&dataset_hide=true")
    assert list(s.hides) == ["x_hide", "playButton_hide", "dataset_hide"]
    assert s.inputs == ("y",)  # x is on but hidden: TensorFlow Playground drops the input
    assert format_link(s).endswith("&hideText=false&x_hide=true&playButton_hide=false&dataset_hide=true")


def test_cos_inputs_are_kept_but_not_used() -> None:
    s = parse_link("#cosX=true&cosY=true")
    assert s.values["cosX"] is True and "cosX" not in s.inputs
    assert "cosX=true" in format_link(s) and "cosY=true" in format_link(s)


def test_bare_fragment_is_accepted() -> None:
    assert parse_link("activation=sigmoid").values["activation"] == "sigmoid"


@pytest.mark.parametrize(
    "value, text",
    [(0.03, "0.03"), (3, "3"), (10.0, "10"), (1e-05, "0.00001"), (0.0001, "0.0001"), (1e-7, "1e-7"),
     (1.5e-7, "1.5e-7"), (123456789012345680000.0, "123456789012345680000"), (1e21, "1e+21"), (-2.5, "-2.5")],
)
def test_numbers_print_as_javascript_does(value: float, text: str) -> None:
    assert js_number(value) == text


numbers = st.one_of(
    st.integers(0, 100),
    st.sampled_from([0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]),
    st.floats(1e-9, 1e9, allow_nan=False, allow_infinity=False),
)


@st.composite
def link_settings(draw: st.DrawFn) -> LinkSettings:
    values = dict(DEFAULTS)
    values["activation"] = draw(st.sampled_from(ACTIVATIONS))
    values["regularization"] = draw(st.sampled_from(REGULARIZATIONS))
    values["dataset"] = draw(st.sampled_from(CLASSIFICATION_DATASETS))
    values["regDataset"] = draw(st.sampled_from(REGRESSION_DATASETS))
    values["problem"] = draw(st.sampled_from(("classification", "regression")))
    for name in ("batchSize", "learningRate", "regularizationRate", "noise", "percTrainData"):
        values[name] = draw(numbers)
    values["networkShape"] = tuple(draw(st.lists(st.integers(1, 8), max_size=6)))
    values["seed"] = draw(st.text(st.characters(blacklist_characters="&=#", blacklist_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=12))
    values["tutorial"] = draw(st.one_of(st.none(), st.sampled_from(["dp-neuron", "x"])))
    for name in [*INPUTS, "cosX", "cosY", "showTestData", "discretize", "collectStats", "initZero", "hideText"]:
        values[name] = draw(st.booleans())
    hides = draw(st.dictionaries(st.sampled_from(["x_hide", "noise_hide", "playButton_hide"]), st.booleans()))
    return LinkSettings(values, hides)


@pytest.mark.slow
@given(link_settings())
@settings(max_examples=200, deadline=None)
def test_format_then_parse_is_the_identity(s: LinkSettings) -> None:
    link = format_link(s)
    back = parse_link(link)
    for name in PARAMS:
        assert back.values[name] == s.values[name] or (
            isinstance(s.values[name], float) and float(back.values[name]) == s.values[name]
        ), name
    assert dict(back.hides) == dict(s.hides) and list(back.hides) == list(s.hides)
    assert format_link(back) == link


def test_messages_exist_in_both_languages() -> None:
    for key in ("tfpg.unknown", "tfpg.malformed", "tfpg.duplicate", "tfpg.allowed.shape"):
        assert t(key, "en") != t(key, "ja")
