"""Tests for torchground.spec: the curriculum's defaults, presets, round trips, validation."""

from __future__ import annotations

import json

import pytest

from torchground.errors import SpecError
from torchground.i18n import t
from torchground.spec import MAX_LAYERS, MAX_WIDTH, PRESETS, SPEC_FIELDS, Spec


def refused(**fields) -> SpecError:
    with pytest.raises(SpecError) as info:
        Spec(**fields)
    return info.value


# ----------------------------------------------------------------------------- defaults


def test_defaults_are_the_curriculum_part3_recipe() -> None:
    s = Spec()
    assert s.problem == "classification"
    assert s.dataset == "circle"
    assert s.n_samples == 500
    assert s.noise == 0.0
    assert (s.train_pct, s.val_pct, s.test_pct) == (50, 50, 0)
    assert (s.seed, s.init_seed, s.shuffle_seed) == (0, 0, 0)
    assert s.features == ("x1", "x2")
    assert s.hidden == (3, 3)
    assert (s.activation, s.output_activation) == ("tanh", "tanh")
    assert s.init == "xavier"
    assert s.loss == "mse"
    assert s.optimizer == "sgd"
    assert s.lr == 0.03
    assert s.weight_decay == 0.03
    assert s.optimizer_args == {}
    assert (s.l1, s.l2) == (0.0, 0.0)
    assert s.batch_size == 15
    assert s.shuffle is True
    assert s.epochs == 100
    assert s.patience is None  # early stopping off
    assert s.dtype == "float32"
    assert s.n_train == 250
    assert s.n_inputs == 2


def test_spec_fields_lists_every_setting_in_order() -> None:
    assert SPEC_FIELDS[0] == "problem"
    assert set(SPEC_FIELDS) == set(Spec().to_dict())


@pytest.mark.parametrize("dataset", ["reg-plane", "reg-gauss"])
def test_regression_datasets_resolve_1200_points_and_identity_output(dataset: str) -> None:
    s = Spec(dataset=dataset)
    assert s.problem == "regression"
    assert s.n_samples == 1200
    assert s.output_activation == "identity"
    assert s.n_train == 600


@pytest.mark.parametrize("dataset", ["circle", "xor", "gauss", "spiral"])
def test_classification_datasets_resolve_500_points_and_tanh_output(dataset: str) -> None:
    s = Spec(dataset=dataset)
    assert (s.problem, s.n_samples, s.output_activation) == ("classification", 500, "tanh")


def test_weight_decay_resolves_from_the_optimizer() -> None:
    assert Spec(optimizer="adam").weight_decay == 0.03
    assert Spec(optimizer="lbfgs").weight_decay == 0.0  # LBFGS takes none
    assert Spec(optimizer="rprop").weight_decay == 0.0


def test_names_are_normalised() -> None:
    s = Spec(dataset="Reg_Plane", activation="ReLU", output_activation="linear", features="x1, X2", hidden="4, 2")
    assert s.dataset == "reg-plane"
    assert s.activation == "relu"
    assert s.output_activation == "identity"
    assert s.features == ("x1", "x2")
    assert s.hidden == (4, 2)
    assert Spec(hidden="0").hidden == ()
    assert Spec(batch_size=" full ").batch_size == "full"
    assert Spec(epochs="7").epochs == 7  # CLI flags arrive as text


# ----------------------------------------------------------------------------- presets


def test_preset_seed_is_the_defaults() -> None:
    assert Spec.preset("seed") == Spec()


def test_preset_playground_matches_tensorflow_playground() -> None:
    s = Spec.preset("playground")
    assert s.hidden == (4, 2)
    assert s.batch_size == 10
    assert s.lr == 0.03
    assert s.weight_decay == 0.0
    assert s.init == "playground"
    assert s.loss == "half_mse"
    assert s.shuffle is False
    assert s.activation == "tanh"
    assert set(PRESETS) == {"seed", "playground"}


def test_preset_overrides_and_unknown_preset() -> None:
    s = Spec.preset("playground", epochs=3, lr=0.1)
    assert (s.epochs, s.lr, s.hidden) == (3, 0.1, (4, 2))
    err = pytest.raises(SpecError, Spec.preset, "nope").value
    assert "preset" in err.message() and "nope" in err.message() and "playground" in err.message()


# ----------------------------------------------------------------------------- round trips

ROUND_TRIP_SPECS = [
    {},
    {"optimizer": "adam", "optimizer_args": {"betas": (0.8, 0.99), "amsgrad": True}, "patience": 5,
     "min_delta": 0.001, "epochs": 7},
    {"dataset": "reg-gauss", "hidden": (), "activation": "relu", "batch_size": "full", "noise": 25,
     "features": ("x1", "x2", "x1x2", "sinx1"), "dtype": "float64", "l1": 0.001, "l2": 0.01,
     "train_pct": 60, "val_pct": 20, "test_pct": 20},
    {"optimizer_args": {"momentum": 0.9, "nesterov": True, "dampening": 0.0}, "shuffle": False, "seed": 7,
     "init_seed": 8, "shuffle_seed": 9, "restore_best": False},
    {"optimizer": "lbfgs", "optimizer_args": {"line_search_fn": "strong_wolfe", "history_size": 5}},
    {"optimizer": "rmsprop", "optimizer_args": {"alpha": 0.9, "centered": True}, "init": "playground",
     "loss": "bce", "dataset": "spiral", "noise": 10},
]


@pytest.mark.parametrize("fields", ROUND_TRIP_SPECS)
def test_json_round_trip_is_unchanged(fields: dict) -> None:
    s = Spec(**fields)
    back = Spec.from_json(s.to_json())
    assert back == s
    assert back.to_dict() == s.to_dict()
    assert Spec.from_json(s.to_json(indent=None)) == s


@pytest.mark.parametrize("fields", ROUND_TRIP_SPECS)
def test_toml_round_trip_is_unchanged(fields: dict) -> None:
    s = Spec(**fields)
    back = Spec.from_toml(s.to_toml())
    assert back == s
    assert back.optimizer_args == s.optimizer_args


def test_betas_come_back_as_a_pair() -> None:
    s = Spec(optimizer="adam", optimizer_args={"betas": [0.9, 0.999]})
    assert s.optimizer_args["betas"] == (0.9, 0.999)
    assert Spec.from_toml(s.to_toml()).optimizer_args["betas"] == (0.9, 0.999)
    assert json.loads(s.to_json())["optimizer_args"]["betas"] == [0.9, 0.999]


def test_to_dict_is_json_ready() -> None:
    d = Spec(patience=4).to_dict()
    assert d["hidden"] == [3, 3] and d["features"] == ["x1", "x2"] and d["patience"] == 4
    assert json.loads(json.dumps(d)) == d
    assert Spec.model_validate(d) == Spec(patience=4)


def test_toml_leaves_out_none_fields() -> None:
    text = Spec().to_toml()
    assert "patience" not in text  # TOML has no null
    assert "epochs = 100" in text


# ----------------------------------------------------------------------------- immutability and replace


def test_spec_is_immutable() -> None:
    s = Spec()
    with pytest.raises(Exception):
        s.lr = 1.0  # type: ignore[misc]
    with pytest.raises(Exception):
        s.hidden = (8,)  # type: ignore[misc]
    assert s.lr == 0.03 and s.hidden == (3, 3)


def test_spec_is_equal_by_value() -> None:
    assert Spec(epochs=3) == Spec(epochs=3)
    assert Spec(epochs=3) != Spec(epochs=4)


def test_replace_makes_a_changed_copy() -> None:
    s = Spec()
    r = s.replace(lr=0.1, hidden=(5,))
    assert (r.lr, r.hidden) == (0.1, (5,))
    assert (s.lr, s.hidden) == (0.03, (3, 3))


def test_replace_re_resolves_auto_fields() -> None:
    s = Spec()
    reg = s.replace(dataset="reg-plane")
    assert (reg.problem, reg.n_samples, reg.output_activation) == ("regression", 1200, "identity")
    back = reg.replace(dataset="circle")
    assert back == s
    assert s.replace(optimizer="lbfgs").weight_decay == 0.0
    assert s.replace(optimizer="lbfgs").replace(optimizer="sgd").weight_decay == 0.03


def test_replace_keeps_values_the_user_set() -> None:
    s = Spec(n_samples=100, weight_decay=0.1)
    r = s.replace(dataset="reg-plane", optimizer="adam")
    assert r.n_samples == 100
    assert r.weight_decay == 0.1


def test_replace_revalidates() -> None:
    with pytest.raises(SpecError) as info:
        Spec().replace(lr=0)
    assert "lr" in info.value.message()
    with pytest.raises(SpecError):
        Spec().replace(optimizer="lbfgs", weight_decay=0.1)
    with pytest.raises(SpecError):
        Spec().replace(n_samples=20)  # n_train 10 < batch_size 15


# ----------------------------------------------------------------------------- refusals

# (fields, substrings the message must contain: field name, offending value, what is allowed)
BAD_SPECS = [
    pytest.param({"hidden": (0,)}, ["hidden = (0", f"{MAX_LAYERS} layers", f"1 to {MAX_WIDTH}"], id="hidden-width-0"),
    pytest.param({"hidden": (3, 300)}, ["hidden", "300", f"1 to {MAX_WIDTH}"], id="hidden-width-300"),
    pytest.param({"hidden": (3,) * 17}, ["hidden", "(3, 3, 3", f"0 to {MAX_LAYERS} layers"], id="hidden-17-layers"),
    pytest.param({"hidden": "3,a"}, ["hidden", "a", "neurons"], id="hidden-not-int"),
    pytest.param({"lr": 0}, ["lr", "0", "greater than 0", "100"], id="lr-0"),
    pytest.param({"lr": -1}, ["lr", "-1", "greater than 0"], id="lr-negative"),
    pytest.param({"lr": float("nan")}, ["lr", "nan", "greater than 0"], id="lr-nan"),
    pytest.param({"noise": 60}, ["noise", "60", "0 to 50"], id="noise-60"),
    pytest.param({"train_pct": 5, "val_pct": 50, "test_pct": 45}, ["train_pct", "5", "10 to 90"], id="train-pct-5"),
    pytest.param({"train_pct": 50, "val_pct": 40}, ["train_pct", "val_pct", "test_pct", "90", "100"], id="split-sum"),
    pytest.param({"batch_size": 0}, ["batch_size", "0", "1 to 250", "full"], id="batch-0"),
    pytest.param({"batch_size": 251}, ["batch_size", "251", "1 to 250"], id="batch-over-n-train"),
    pytest.param({"batch_size": "abc"}, ["batch_size", "abc", "full"], id="batch-text"),
    pytest.param({"epochs": "x"}, ["epochs", "x", "1 to 100000"], id="epochs-text"),
    pytest.param({"epochs": 0}, ["epochs", "0", "1 to 100000"], id="epochs-0"),
    pytest.param({"seed": -1}, ["seed", "-1", "4294967295"], id="seed-negative"),
    pytest.param({"n_samples": 1}, ["n_samples", "1", "2 to 100000"], id="n-samples-1"),
    pytest.param({"dataset": "moon"}, ["dataset", "moon", "circle", "reg-gauss"], id="dataset-unknown"),
    pytest.param({"activation": "foo"}, ["activation", "foo", "tanh", "relu"], id="activation-unknown"),
    pytest.param({"activation": "softmax"}, ["activation", "softmax", "refused", "dimension"], id="activation-softmax"),
    pytest.param({"output_activation": "logsoftmax"}, ["activation", "logsoftmax", "dimension"], id="output-logsoftmax"),
    pytest.param({"init": "nope"}, ["init", "nope", "xavier", "playground"], id="init-unknown"),
    pytest.param({"loss": "crossentropy"}, ["loss", "crossentropy", "refused", "one output"], id="loss-crossentropy"),
    pytest.param({"dataset": "reg-plane", "loss": "soft_margin"}, ["soft_margin", "regression", "mse", "huber"],
                 id="classification-loss-on-regression"),
    pytest.param({"loss": "bce", "output_activation": "identity"}, ["bce", "identity", "tanh", "sigmoid"],
                 id="bce-with-identity-output"),
    pytest.param({"optimizer": "sparseadam"}, ["optimizer", "sparseadam", "refused", "sparse"], id="sparseadam"),
    pytest.param({"optimizer": "nope"}, ["optimizer", "nope", "sgd", "adam"], id="optimizer-unknown"),
    pytest.param({"optimizer_args": {"foo": 1}}, ["sgd", "foo", "momentum", "nesterov"], id="optimizer-arg-unknown"),
    pytest.param({"optimizer_args": {"momentum": -1}}, ["sgd", "momentum=-1", "momentum"], id="momentum-negative"),
    pytest.param({"optimizer": "adam", "optimizer_args": {"betas": (0.9, 1.5)}}, ["adam", "betas", "1.5"], id="betas-over-1"),
    pytest.param({"optimizer_args": {"nesterov": True}}, ["sgd", "nesterov", "momentum"], id="nesterov-without-momentum"),
    pytest.param({"optimizer": "lbfgs", "weight_decay": 0.1}, ["lbfgs", "weight_decay", "0", "l2"], id="weight-decay-lbfgs"),
    pytest.param({"foo": 1}, ["foo", "dataset", "hidden", "epochs"], id="unknown-field"),
    pytest.param({"patience": 3, "val_pct": 0, "test_pct": 50}, ["patience", "val_pct = 0"], id="patience-without-val"),
    pytest.param({"patience": 0}, ["patience", "0", "1 to 100000"], id="patience-0"),
    pytest.param({"features": ()}, ["features", "()", "non-empty", "x1, x2"], id="features-empty"),
    pytest.param({"features": ("x1", "x3")}, ["features", "x3", "x1sq"], id="features-unknown"),
    pytest.param({"features": ("x1", "x1")}, ["features = (x1, x1)", "without repeats"], id="features-duplicate"),
    pytest.param({"problem": "regression"}, ["problem", "regression", "circle", "classification"], id="problem-mismatch"),
    pytest.param({"device": "tpu"}, ["device", "tpu", "auto, cpu or cuda"], id="device"),
    pytest.param({"dtype": "float16"}, ["dtype", "float16", "float32 or float64"], id="dtype"),
    pytest.param({"min_delta": -1}, ["min_delta", "-1", "0"], id="min-delta-negative"),
    pytest.param({"shuffle": "maybe"}, ["shuffle", "maybe", "true or false"], id="shuffle-text"),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_SPECS)
def test_wrong_values_are_refused_with_field_value_and_allowed(fields: dict, expected: list[str]) -> None:
    err = refused(**fields)
    msg = err.message()
    for part in expected:
        assert part in msg, f"{part!r} not in {msg!r}"
    assert str(err) == msg


JA_CASES = {"hidden-width-300", "lr-0", "noise-60", "split-sum", "dataset-unknown", "activation-softmax",
            "loss-crossentropy", "unknown-field", "patience-without-val", "weight-decay-lbfgs"}


@pytest.mark.parametrize(("fields", "expected"), [p for p in BAD_SPECS if p.id in JA_CASES])
def test_refusal_messages_exist_in_japanese(fields: dict, expected: list[str]) -> None:
    err = refused(**fields)
    ja = err.message("ja")
    assert ja and ja != err.message("en")
    assert any(ord(c) > 0x3000 for c in ja)  # kana / kanji present


def test_spec_error_carries_key_and_params() -> None:
    err = refused(noise=60)
    assert err.key == "spec.invalid"
    assert err.params["field"] == "noise"
    assert isinstance(err, ValueError)


def test_refused_activation_message_carries_the_registry_reason() -> None:
    err = refused(activation="softmax")
    assert err.key == "spec.refused"
    assert t("registry.refused.activation.softmax") in err.message()


@pytest.mark.parametrize(
    "fields",
    [{"lr": 0}, {"activation": "softmax"}],
    ids=["allowed-part", "refusal-reason"],
)
def test_japanese_message_has_no_english_parts(fields: dict) -> None:
    err = refused(**fields)  # raised while the language is English (autouse fixture)
    ja = err.message("ja")
    assert t("spec.allowed.range_open", "en", low=0, high=100) not in ja
    assert t("registry.refused.activation.softmax", "en") not in ja


@pytest.mark.parametrize("fields", [{"epochs": True}, {"lr": True}, {"noise": True}])
def test_booleans_are_not_numbers(fields: dict) -> None:
    refused(**fields)


@pytest.mark.parametrize("text", ['{"features": null}', '{"features": 3}'])
def test_non_list_features_are_a_spec_error(text: str) -> None:
    with pytest.raises(SpecError) as info:
        Spec.from_json(text)
    assert "features" in info.value.message()


def test_non_string_dataset_lists_the_data_sets() -> None:
    assert "circle" in refused(dataset=3).message()


def test_weight_decay_refusal_names_the_value() -> None:
    assert "0.1" in refused(optimizer="lbfgs", weight_decay=0.1).message()


# ----------------------------------------------------------------------------- malformed text


def test_malformed_json_names_format_and_line() -> None:
    with pytest.raises(SpecError) as info:
        Spec.from_json('{\n"lr": 0.1,\n"epochs": \n}')
    err = info.value
    assert err.key == "spec.bad_file"
    assert err.params["line"] == 4
    assert "JSON" in err.message() and "line 4" in err.message()


def test_malformed_toml_mentions_the_line() -> None:
    with pytest.raises(SpecError) as info:
        Spec.from_toml("lr = 0.1\nepochs = = 3\n")
    msg = info.value.message()
    assert "TOML" in msg and "line 2" in msg


def test_malformed_toml_line_parameter_is_the_line_number() -> None:
    with pytest.raises(SpecError) as info:
        Spec.from_toml("lr = 0.1\nepochs = = 3\n")
    assert info.value.params["line"] == 2
    assert "(line ?)" not in info.value.message()


def test_spec_text_must_be_a_table() -> None:
    with pytest.raises(SpecError) as info:
        Spec.from_json("[1, 2]")
    assert info.value.key == "spec.not_a_table"
    assert "list" in info.value.message()


def test_valid_text_with_a_wrong_value_is_refused_like_a_flag() -> None:
    with pytest.raises(SpecError) as info:
        Spec.from_toml('dataset = "circle"\nhidden = [3, 300]\n')
    assert "hidden" in info.value.message() and "300" in info.value.message()
    with pytest.raises(SpecError) as info:
        Spec.from_json('{"colour": "red"}')
    assert "colour" in info.value.message()


@pytest.mark.parametrize("field, value, en, ja", [
    ("activation", None, "text (a string)", "テキスト（文字列）"),
    ("classes", "three", "a whole number", "整数"),
    ("standardize", "maybe", "true or false", "true か false"),
    ("class_names", 5, "a list of values", "値のリスト"),
    ("scheduler_args", 3, "names with values", "名前と値の組"),
    ("input_mean", ["x"], "a number", "数"),
])
def test_a_value_of_the_wrong_kind_is_refused_in_the_language_asked(field, value, en, ja):
    """Fields without a catalogue text of their own: what their kind allows, in each language,
    never pydantic's own English ("Input should be ...")."""
    from torchground.errors import TorchgroundError

    with pytest.raises(TorchgroundError) as err:
        Spec(**{field: value})
    assert err.value.key == "spec.invalid"
    assert en in err.value.message("en") and ja in err.value.message("ja")
    assert "Input should" not in err.value.message("ja")
