"""Tests for torchground.explain.formula: values and derivatives, refusals with positions, limits."""

from __future__ import annotations

import json
import math
import string
from importlib import resources

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchground.errors import TorchgroundError
from torchground.explain.formula import (
    MAX_DEPTH, Binary, Call, Formula, FormulaError, Num, Unary, Var, differentiate, parse,
    parse_assignments,
)

TOL = dict(rel_tol=1e-12, abs_tol=1e-12)


# ----------------------------------------------------------------------------- values and grads
@pytest.mark.parametrize(
    "text, at, value, grads",
    [
        ("x**2", {"x": 1.0}, 1.0, {"x": 2.0}),
        ("x**2", {"x": 0.0}, 0.0, {"x": 0.0}),
        ("x**2", {"x": 10.0}, 100.0, {"x": 20.0}),
        ("x^2", {"x": 3.0}, 9.0, {"x": 6.0}),
        ("sin(x)*y", {"x": 0.5, "y": 3.0}, math.sin(0.5) * 3.0, {"x": math.cos(0.5) * 3.0, "y": math.sin(0.5)}),
        ("sigmoid(x)", {"x": 0.0}, 0.5, {"x": 0.25}),
        ("relu(x)", {"x": -1.0}, 0.0, {"x": 0.0}),
        ("relu(x)", {"x": 2.0}, 2.0, {"x": 1.0}),
        ("sqrt(x)", {"x": 4.0}, 2.0, {"x": 0.25}),
        ("-x**2", {"x": 3.0}, -9.0, {"x": -6.0}),
        ("(-x)**2", {"x": 3.0}, 9.0, {"x": 6.0}),
        ("2**3**2", {}, 512.0, {}),
        ("x × y ÷ 4", {"x": 2.0, "y": 6.0}, 3.0, {"x": 1.5, "y": 0.5}),
        ("2^x", {"x": 3.0}, 8.0, {"x": 8.0 * math.log(2.0)}),
        ("x**y", {"x": 2.0, "y": 3.0}, 8.0, {"x": 12.0, "y": 8.0 * math.log(2.0)}),
        ("1 - x / 2 - 3", {"x": 4.0}, -4.0, {"x": -0.5}),
        ("exp(log(x)) + tanh(0) + abs(-x) + cos(0) + tan(0)", {"x": 2.0}, 5.0, {"x": 2.0}),
        ("+x - -x", {"x": 1.5}, 3.0, {"x": 2.0}),
        ("1e-3 * x + .5 + 2.", {"x": 1000.0}, 3.5, {"x": 0.001}),
    ],
)
def test_value_and_grads_match_hand_computed(text, at, value, grads):
    r = differentiate(text, at)
    assert r.finite
    assert math.isclose(r.value, value, **TOL)
    assert r.grads.keys() == grads.keys()
    for name, g in grads.items():
        assert math.isclose(r.grads[name], g, **TOL), (name, r.grads[name], g)


def test_result_exposes_autograd_tensors():
    r = differentiate("x**2 * y", {"x": 3.0, "y": 2.0})
    assert r.output.dtype == torch.float64 and r.output.shape == ()
    assert r.output.grad_fn is not None
    assert set(r.inputs) == {"x", "y"}
    assert all(t.is_leaf and t.requires_grad for t in r.inputs.values())
    assert r.inputs["x"].grad.item() == 12.0
    r.output.backward()  # the graph was kept for pictures and second looks
    assert r.inputs["x"].grad.item() == 24.0


def test_dtype_and_formula_object():
    f = parse("x * 2")
    r = differentiate(f, {"x": 1.0}, dtype=torch.float32)
    assert r.output.dtype == torch.float32 and r.formula is f and r.grads == {"x": 2.0}
    with pytest.raises(FormulaError) as info:
        differentiate(f, {"x": 1.0}, dtype=torch.int64)
    assert info.value.reason == "bad_dtype"


@pytest.mark.parametrize(
    "text, at, value", [("log(x)", {"x": -1.0}, math.nan), ("1/x", {"x": 0.0}, math.inf), ("1/0", {}, math.inf)]
)
def test_non_finite_values_are_returned_with_a_flag(text, at, value):
    r = differentiate(text, at)
    assert not r.finite
    assert (math.isnan(r.value) and math.isnan(value)) or r.value == value


def test_missing_and_extra_variables_are_named():
    with pytest.raises(FormulaError) as info:
        differentiate("x + y*z", {"x": 1.0})
    assert info.value.reason == "missing_variable" and info.value.position == 4
    assert "y, z" in info.value.message("en") and "y, z" in info.value.message("ja")
    with pytest.raises(FormulaError) as info:
        differentiate("x", {"x": 1.0, "b": 2.0, "a": 3.0})
    assert info.value.reason == "extra_variable" and info.value.position is None
    assert "a, b" in info.value.message("en")
    with pytest.raises(FormulaError) as info:
        differentiate("x", {"x": "1"})
    assert info.value.reason == "bad_value"


def test_evaluate_broadcasts_and_promotes():
    f = parse("x * y + 1")
    out = f.evaluate({"x": torch.tensor([1.0, 2.0]), "y": torch.tensor([[1.0], [3.0]])})
    assert out.shape == (2, 2) and out.dtype == torch.float32
    assert torch.equal(out, torch.tensor([[2.0, 3.0], [4.0, 7.0]]))
    assert f.evaluate({"x": 2.0, "y": torch.tensor(3, dtype=torch.float64)}).dtype == torch.float64
    with pytest.raises(FormulaError):
        f.evaluate({"x": 1.0})


# ----------------------------------------------------------------------------- the tree
def test_tree_precedence_and_associativity():
    x, y = Var("x"), Var("y")
    assert parse("-x**2").root == Unary("-", Binary("**", x, Num(2.0)))
    assert parse("2**3**2").root == Binary("**", Num(2.0), Binary("**", Num(3.0), Num(2.0)))
    assert parse("x - y - 1").root == Binary("-", Binary("-", x, y), Num(1.0))
    assert parse("x + y * 2").root == Binary("+", x, Binary("*", y, Num(2.0)))
    assert parse("sin(x)^2").root == Binary("**", Call("sin", x), Num(2.0))
    assert parse("x ÷ y × 2") == parse("x / y * 2")
    assert parse("b + a*b + c").variables == ("a", "b", "c")
    with pytest.raises(Exception):
        parse("x").root.name = "y"  # frozen


@pytest.mark.parametrize(
    "text, pretty",
    [
        ("-x**2", "-x**2"), ("(-x)**2", "(-x)**2"), ("x^2×3÷y", "x**2 * 3 / y"), ("(x-y)-(z-w)", "x - y - (z - w)"),
        ("x/(y*z)", "x / (y * z)"), ("2**-x", "2**-x"), ("(x**y)**z", "(x**y)**z"), ("-(x+y)*z", "-(x + y) * z"),
        ("1e-3*x", "0.001 * x"), ("((x))", "x"), ("sigmoid( x )", "sigmoid(x)"),
    ],
)
def test_to_text_is_minimal_and_round_trips(text, pretty):
    f = parse(text)
    assert f.to_text() == pretty == str(f)
    assert parse(pretty) == f


def test_hand_built_trees_meet_the_whitelist():
    with pytest.raises(FormulaError):
        Call("eval", Var("x"))
    with pytest.raises(FormulaError):
        Binary("@", Var("x"), Var("y"))
    with pytest.raises(FormulaError):
        Var("__class__")
    assert Formula(Binary("*", Num(2.0), Var("x"))).evaluate({"x": torch.tensor(3.0)}).item() == 6.0


# ----------------------------------------------------------------------------- refusals
HOSTILE = [
    ("__import__('os').system('touch {marker}')", 0, "underscore_name"),
    ("eval('1')", 0, "unknown_function"),
    ("exec", None, None),  # a plain variable name is harmless: it is only ever looked up in `at`
    ("x.__class__", 1, "attribute"),
    ("x.grad", 1, "attribute"),
    ("os.system('ls')", 2, "attribute"),
    ("lambda: 1", 0, "keyword"),
    ("import os", 0, "keyword"),
    ("x if y else z", 2, "keyword"),
    ("open('f')", 0, "unknown_function"),
    ("[1,2]", 0, "unknown_character"),
    ("{1}", 0, "unknown_character"),
    ("'a'", 0, "unknown_character"),
    ("x; y", 1, "unknown_character"),
    ("x @ y", 2, "unknown_character"),
    ("9**9**9", 3, "power_too_large"),
    ("2**1000", 3, "power_too_large"),
    ("x**-65", 3, "power_too_large"),
    ("x**(8*9)", 4, "power_too_large"),
    ("x**(1/0)", 4, "power_too_large"),
    ("1e309", 0, "number_too_large"),
    ("x + 1000001", 4, "number_too_large"),
    ("9" * 400, 0, "number_too_large"),
    ("(" * 100 + "x" + ")" * 100, MAX_DEPTH, "too_deep"),
    ("sin(" * 40 + "x" + ")" * 40, 4 * MAX_DEPTH + 3, "too_deep"),
    ("x+" * 5000 + "x", 500, "too_long"),
    ("-" * 300 + "x", 200, "too_many_tokens"),
    ("+".join(f"v{i}" for i in range(17)), 54, "too_many_variables"),
    ("sin(x, y)", 5, "too_many_arguments"),
    ("sin()", 4, "missing_argument"),
    ("sin", 0, "not_called"),
    ("sin + 1", 0, "not_called"),
    ("x(2)", 0, "unknown_function"),
    ("(x)(y)", 3, "not_callable"),
    ("2(x)", 1, "not_callable"),
    ("x y", 2, "trailing_input"),
    ("2x", 1, "trailing_input"),
    ("0x1F", 1, "trailing_input"),
    ("x = 1", 2, "assignment"),
    ("x == 1", 2, "assignment"),
    ("1, 2", 1, "unexpected_comma"),
    ("(1, 2)", 2, "unexpected_comma"),
    ("(x", 0, "unclosed_paren"),
    ("sin(x", 3, "unclosed_paren"),
    ("x)", 1, "unmatched_paren"),
    ("()", 1, "expected_operand"),
    ("2 // 3", 3, "expected_operand"),
    ("x +", 3, "unexpected_end"),
    ("", 0, "empty"),
    (" \t\n", 0, "empty"),
    ("_x", 0, "underscore_name"),
    ("1_000", 1, "underscore_name"),
    ("ｘ", 0, "unknown_character"),  # fullwidth x
    ("x\u200b+1", 1, "unknown_character"),  # zero-width space
    ("x\u202e+1", 1, "unknown_character"),  # right-to-left override
    ("x\u00a0+ 1", 1, "unknown_character"),  # no-break space
    ("x²", 1, "unknown_character"),
    ("２", 0, "unknown_character"),  # fullwidth digit
    ("١", 0, "unknown_character"),  # Arabic-Indic digit
    ("α + 1", 0, "unknown_character"),
    ("x \u2212 y", 2, "unknown_character"),  # minus sign
    ("x\x00", 1, "unknown_character"),
    ("\ufeffx", 0, "unknown_character"),  # byte-order mark
]


@pytest.mark.parametrize("text, position, reason", HOSTILE)
def test_hostile_input_is_refused_with_position(text, position, reason, tmp_path):
    marker = tmp_path / "pwned"
    text = text.replace("{marker}", str(marker))
    if reason is None:
        assert parse(text).variables == (text,)
        return
    with pytest.raises(FormulaError) as info:
        parse(text)
    err = info.value
    assert (err.reason, err.position) == (reason, position)
    assert err.key == f"formula.{reason}" and isinstance(err, TorchgroundError)
    assert err.message("en") and err.message("ja") and err.message("en") != err.message("ja")
    assert not marker.exists()


def test_error_pointer_marks_the_position():
    with pytest.raises(FormulaError) as info:
        parse("x + y.grad")
    assert info.value.pointer() == "x + y.grad\n     ^"
    assert "column 6" in str(info.value)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(
            st.sampled_from(
                ["x", "y", "z1", "2", "0.5", "1e3", "1e-2", "+", "-", "*", "/", "**", "^", "×", "÷", "(", ")",
                 "sin", "relu", "sigmoid", "log", ",", ".", " ", "_", "9", "=", "eval", "e", "é"]
            ),
            max_size=30,
        ).map("".join),
    )
)
def test_parse_raises_only_formula_error_and_successes_work(text):
    try:
        f = parse(text)
    except FormulaError as err:
        assert err.position is not None and 0 <= err.position <= len(text)
        err.message("en"), err.message("ja")
        return
    assert parse(f.to_text()) == f
    r = differentiate(f, {name: 0.5 for name in f.variables})
    assert set(r.grads) == set(f.variables) and isinstance(r.value, float)


# ----------------------------------------------------------------------------- assignments
def test_parse_assignments_reads_values():
    assert parse_assignments("x=1.0,y=2.0") == {"x": 1.0, "y": 2.0}
    assert parse_assignments(" x = -2e-3 , y=+4, z=.5 ") == {"x": -0.002, "y": 4.0, "z": 0.5}
    assert parse_assignments("") == {} and parse_assignments("  ") == {}


@pytest.mark.parametrize(
    "text, position, reason",
    [
        ("x=1,", 4, "assign_expected"), ("=1", 0, "assign_expected"), ("x 1", 2, "assign_expected"),
        ("x=", 2, "assign_number"), ("x=y", 2, "assign_number"), ("x=--1", 3, "assign_number"),
        ("x=1 y=2", 4, "assign_separator"), ("x=1;y=2", 3, "unknown_character"),
        ("x=1,x=2", 4, "assign_duplicate"), ("sin=1", 0, "reserved_name"), ("_a=1", 0, "underscore_name"),
        ("if=1", 0, "keyword"), ("x=1e7", 2, "number_too_large"), ("x=nan", 2, "assign_number"),
        ("x=1" + " " * 600, 500, "too_long"), (",".join(f"v{i}=1" for i in range(17)), 86, "too_many_variables"),
    ],
)
def test_parse_assignments_refusals(text, position, reason):
    with pytest.raises(FormulaError) as info:
        parse_assignments(text)
    assert (info.value.reason, info.value.position) == (reason, position)
    assert info.value.message("ja")


# ----------------------------------------------------------------------------- catalogue
def test_catalogues_have_the_same_keys_and_placeholders():
    folder = resources.files("torchground.i18n")
    en = json.loads((folder / "formula.en.json").read_text(encoding="utf-8"))
    ja = json.loads((folder / "formula.ja.json").read_text(encoding="utf-8"))
    assert en.keys() == ja.keys() and all(k.startswith("formula.") for k in en)

    def fields(s):
        return {name for _, name, _, _ in string.Formatter().parse(s) if name}

    for key in en:
        assert fields(en[key]) == fields(ja[key]), key


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("xyz_ab01.5e-+=, \t;é(")), max_size=40) | st.text(max_size=40))
def test_parse_assignments_raises_only_formula_error(text):
    try:
        values = parse_assignments(text)
    except FormulaError as err:
        assert err.position is not None and 0 <= err.position <= len(text)
        return
    assert all(isinstance(v, float) and abs(v) <= 1e6 for v in values.values())
