"""Formulas for ``torchground grad``: a whitelisting parser, evaluation with torch, autograd.

:func:`parse` reads a formula such as ``sin(x) * y**2`` into an immutable tree,
:meth:`Formula.evaluate` turns it into torch operations, :func:`differentiate` takes partial
derivatives with ``torch.autograd`` and :func:`parse_assignments` reads ``--at x=1,y=2``.

Why hand-written rather than ``ast``, a parser generator or a math library: the grammar is
tiny (numbers, names, ``+ - * / **``, parentheses, ten one-argument functions); a hand-written
parser reports the exact offset of the first problem in reading order with a specific reason;
and there is no eval surface: no ``eval``, ``exec``, ``compile`` or ``ast``, so no attribute,
no other name and no other call is reachable. Anything outside the grammar is refused with
:class:`FormulaError` before anything is computed, and the size limits keep every input cheap.

Grammar (Python's precedence: ``**`` is right-associative and binds tighter than unary minus,
so ``-x**2`` is ``-(x**2)``; ``×``, ``÷`` and ``^`` mean ``*``, ``/`` and ``**``)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := ("+" | "-") unary | power
    power := atom ("**" unary)?
    atom  := NUMBER | NAME | FUNCTION "(" expr ")" | "(" expr ")"
"""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import Tensor


__all__ = [
    "FUNCTIONS", "MAX_LENGTH", "MAX_TOKENS", "MAX_DEPTH", "MAX_NUMBER", "MAX_EXPONENT",
    "MAX_VARIABLES", "FormulaError", "Node", "Num", "Var", "Unary", "Binary", "Call",
    "Formula", "GradResult", "parse", "differentiate", "parse_assignments",
]

from torchground.explain.formula_tree import (  # noqa: F401 (re-exported)
    Binary,
    Call,
    FUNCTIONS,
    Formula,
    FormulaError,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NUMBER,
    MAX_TOKENS,
    MAX_VARIABLES,
    Node,
    Num,
    Unary,
    Var,
    _NAME,
    _NUMBER,
    _OPERATORS,
    _SPACE,
    _check_name,
    _evaluate,
    _show,
    _walk,
)

# ----------------------------------------------------------------------------- reading
# kind: "num", "name", "op", "(", ")", ",", "=" or "end"; value: a number or a canonical op
_Token = namedtuple("_Token", "kind text pos value", defaults=[None])


def _tokens(text: str, assign: bool = False) -> Iterator[_Token]:
    """Yield tokens lazily, so the first problem in reading order is the one reported."""
    pos, count = 0, 0
    while True:
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        if pos == len(text):
            yield _Token("end", "", pos)
            return
        count += 1
        if count > MAX_TOKENS:
            raise FormulaError("formula.too_many_tokens", pos, text, limit=MAX_TOKENS)
        ch, match = text[pos], _NUMBER.match(text, pos) or _NAME.match(text, pos)
        if match and match.re is _NUMBER:
            value = float(match.group())  # a digit string that overflows becomes inf
            if not value <= MAX_NUMBER:
                raise FormulaError("formula.number_too_large", pos, text,
                                   number=_show(match.group()), limit=f"{MAX_NUMBER:g}")
            yield _Token("num", match.group(), pos, value)
        elif match:
            _check_name(match.group(), pos, text)
            yield _Token("name", match.group(), pos)
        elif text.startswith("**", pos):
            yield _Token("op", "**", pos, "**")
            pos += 1
        elif ch in _OPERATORS:
            yield _Token("op", ch, pos, _OPERATORS[ch])
        elif ch in "()," or (ch == "=" and assign):
            yield _Token(ch, ch, pos)
        elif ch in ".=":
            raise FormulaError("formula.attribute" if ch == "." else "formula.assignment", pos, text)
        else:
            raise FormulaError("formula.unknown_character", pos, text,
                               char=f"{ch!r} (U+{ord(ch):04X})")
        pos = match.end() if match else pos + 1


class _Parser:
    """One method per grammar rule; ``tok`` is the one token of look-ahead."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens = text, _tokens(text)
        self.tok = next(self.tokens)
        self.depth, self.names = 0, set[str]()

    def error(self, key: str, pos: int, **params: Any) -> FormulaError:
        return FormulaError(key, pos, self.text, **params)

    def advance(self) -> _Token:
        tok, self.tok = self.tok, next(self.tokens)
        return tok

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def refuse_rest(self, func: str | None) -> None:
        """Refuse the token after a complete expression (at the top or inside parentheses)."""
        tok = self.tok
        if tok.kind == ")":
            raise self.error("formula.unmatched_paren", tok.pos)
        if tok.kind == "," and func is not None:
            raise self.error("formula.too_many_arguments", tok.pos, name=func)
        if tok.kind == ",":
            raise self.error("formula.unexpected_comma", tok.pos)
        raise self.error("formula.trailing_input", tok.pos, found=repr(_show(tok.text)))

    def chain(self, ops: tuple[str, str], operand: Callable[[], Node]) -> Node:
        node = operand()  # left-associative: a - b - c is (a - b) - c
        while self.is_op(*ops):
            node = Binary(self.advance().value, node, operand(), pos=node.pos)
        return node

    def expr(self) -> Node:
        return self.chain(("+", "-"), lambda: self.chain(("*", "/"), self.unary))

    def unary(self) -> Node:
        if self.is_op("+", "-"):
            tok = self.advance()
            return Unary(tok.value, self.unary(), pos=tok.pos)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if not self.is_op("**"):
            return base
        self.advance()
        exponent = self.unary()
        if not any(isinstance(n, Var) for n in _walk(exponent)):
            # Fold a constant exponent (9**9**9 too) and bound it: a huge power is never what
            # a learner means. Only whitelisted torch ops on 0-d float64 tensors run here.
            with torch.no_grad():
                value = _evaluate(exponent, {}, torch.float64, torch.device("cpu")).item()
            if not abs(value) <= MAX_EXPONENT:
                raise self.error("formula.power_too_large", exponent.pos, value=f"{value:g}",
                                 limit=MAX_EXPONENT)
        return Binary("**", base, exponent, pos=base.pos)

    def parenthesised(self, func: str | None) -> Node:
        opening = self.advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("formula.too_deep", opening.pos, limit=MAX_DEPTH)
        if func is not None and self.tok.kind == ")":
            raise self.error("formula.missing_argument", self.tok.pos, name=func)
        node = self.expr()
        if self.tok.kind == "end":
            raise self.error("formula.unclosed_paren", opening.pos)
        if self.tok.kind != ")":
            self.refuse_rest(func)
        self.advance()
        self.depth -= 1
        return node

    def atom(self) -> Node:
        tok, node = self.tok, None
        if tok.kind == "num":
            node = Num(self.advance().value, pos=tok.pos)
        elif tok.kind == "name" and tok.text in FUNCTIONS:
            self.advance()
            if self.tok.kind != "(":
                raise self.error("formula.not_called", tok.pos, name=tok.text)
            node = Call(tok.text, self.parenthesised(tok.text), pos=tok.pos)
        elif tok.kind == "name":
            self.advance()
            if self.tok.kind == "(":
                raise self.error("formula.unknown_function", tok.pos, name=repr(_show(tok.text)),
                                 functions=", ".join(FUNCTIONS))
            if tok.text not in self.names and len(self.names) == MAX_VARIABLES:
                raise self.error("formula.too_many_variables", tok.pos, name=_show(tok.text),
                                 limit=MAX_VARIABLES)
            self.names.add(tok.text)
            node = Var(tok.text, pos=tok.pos)
        elif tok.kind == "(":
            node = self.parenthesised(None)
        elif tok.kind == "end":
            raise self.error("formula.unexpected_end", tok.pos)
        else:
            raise self.error("formula.expected_operand", tok.pos, found=repr(tok.text))
        if self.tok.kind == "(":
            raise self.error("formula.not_callable", self.tok.pos)
        return node


def parse(text: str) -> Formula:
    """Read ``text`` into a :class:`Formula`, refusing anything outside the grammar.

    Args:
        text: the formula, at most :data:`MAX_LENGTH` characters.

    Raises:
        FormulaError: with the ``position`` of the first problem and its ``reason``.

    Example::

        >>> f = parse("-x**2 + sin(y) × 2")
        >>> f.variables, f.to_text()
        (('x', 'y'), '-x**2 + sin(y) * 2')
        >>> try:
        ...     parse("x.grad")
        ... except FormulaError as err:
        ...     print(err.position, err.reason)
        1 attribute
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() needs a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError("formula.too_long", MAX_LENGTH, text, length=len(text), limit=MAX_LENGTH)
    if not text.strip(_SPACE):
        raise FormulaError("formula.empty", 0, text)
    parser = _Parser(text)
    root = parser.expr()
    if parser.tok.kind != "end":
        parser.refuse_rest(None)
    return Formula(root, text)


# ----------------------------------------------------------------------------- autograd
@dataclass(frozen=True)
class GradResult:
    """What :func:`differentiate` found: ``value`` (may be nan or inf) and whether it is
    ``finite``, ``grads`` (d value / d variable), the 0-d ``output`` tensor with its autograd
    graph kept, and the leaf ``inputs`` (``requires_grad=True``, ``.grad`` filled) by name."""

    formula: Formula
    value: float
    grads: dict[str, float]
    finite: bool
    output: Tensor
    inputs: dict[str, Tensor]


def _real(name: str, value: Any) -> float:
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        return float(value.item())
    if isinstance(value, numbers.Real):
        return float(value)
    raise FormulaError("formula.bad_value", name=name, value=_show(repr(value)))


def differentiate(formula: str | Formula, at: Mapping[str, float],
                  dtype: torch.dtype = torch.float64) -> GradResult:
    r"""Evaluate a formula at one point and take its partial derivatives with autograd.

    Each variable becomes a 0-d leaf tensor with ``requires_grad=True``; the formula is built
    from torch operations and ``backward()`` fills every leaf's ``.grad``. A value that is not
    finite (``log(-1)``, ``1/x`` at 0) is returned, not refused: ``finite`` is then ``False``
    and gradients may be ``nan`` too.

    Args:
        formula: formula text (read with :func:`parse`) or a :class:`Formula`.
        at: a real value for every variable of the formula, and for nothing else.
        dtype: floating dtype of the leaves and constants. Default: ``torch.float64``.

    Raises:
        FormulaError: refused by :func:`parse`, a variable without a value, values for names
            the formula does not use, a value that is not a real number, or a non-float dtype.

    Example::

        >>> r = differentiate("x**2 * y", {"x": 3.0, "y": 2.0})
        >>> r.value, r.grads, r.finite
        (18.0, {'x': 12.0, 'y': 9.0}, True)
        >>> r.output.grad_fn.name(), r.inputs["x"].grad
        ('MulBackward0', tensor(12., dtype=torch.float64))
        >>> differentiate("log(x)", {"x": -1.0}).finite
        False
    """
    if isinstance(formula, str):
        formula = parse(formula)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise FormulaError("formula.bad_dtype", dtype=str(dtype))
    formula._require(at)
    extra = sorted(str(n) for n in at if n not in formula.variables)
    if extra:
        raise FormulaError("formula.extra_variable", names=", ".join(map(_show, extra)),
                           variables=", ".join(formula.variables) or "-")
    inputs = {n: torch.tensor(_real(n, at[n]), dtype=dtype, requires_grad=True)
              for n in formula.variables}
    output = formula.evaluate(inputs, dtype=dtype)  # ()
    if output.requires_grad:
        output.backward(retain_graph=True)  # keep saved tensors for graph pictures
    grads = {n: (x.grad.item() if x.grad is not None else 0.0) for n, x in inputs.items()}
    value = output.item()
    return GradResult(formula, value, grads, math.isfinite(value), output, inputs)


def parse_assignments(text: str) -> dict[str, float]:
    """Read ``"x=1.0, y=-2e-3"`` (the ``--at`` option) into ``{"x": 1.0, "y": -0.002}``.

    Blank text gives ``{}``. Names follow the formula rules (no leading ``_``, no keyword, no
    function name), each at most once; values are numbers with an optional sign and absolute
    value at most :data:`MAX_NUMBER`. Lengths and counts have the formula limits.

    Raises:
        FormulaError: with the ``position`` of the first problem and its ``reason``.

    Example::

        >>> parse_assignments("x=1.0, y=-2e-3")
        {'x': 1.0, 'y': -0.002}
    """
    if len(text) > MAX_LENGTH:
        raise FormulaError("formula.too_long", MAX_LENGTH, text, length=len(text), limit=MAX_LENGTH)
    tokens = _tokens(text, assign=True)
    tok, result = next(tokens), {}

    def refuse(key: str, tok: _Token, **params: Any) -> FormulaError:
        found = None if tok.kind == "end" else repr(_show(tok.text))
        return FormulaError(key, tok.pos, text, found=found, **params)

    while tok.kind != "end":
        name = tok
        if name.kind != "name":
            raise refuse("formula.assign_expected", tok)
        if name.text in FUNCTIONS:
            raise refuse("formula.reserved_name", tok, name=name.text)
        if (tok := next(tokens)).kind != "=":
            raise refuse("formula.assign_expected", tok)
        sign = -1.0 if (tok := next(tokens)).text == "-" else 1.0
        if tok.text in ("+", "-"):
            tok = next(tokens)
        if tok.kind != "num":
            raise refuse("formula.assign_number", tok, name=_show(name.text))
        if name.text in result:
            raise refuse("formula.assign_duplicate", name, name=_show(name.text))
        if len(result) == MAX_VARIABLES:
            raise refuse("formula.too_many_variables", name, name=_show(name.text),
                         limit=MAX_VARIABLES)
        result[name.text] = sign * tok.value
        if (tok := next(tokens)).kind == ",":
            if (tok := next(tokens)).kind == "end":
                raise refuse("formula.assign_expected", tok)
        elif tok.kind != "end":
            raise refuse("formula.assign_separator", tok)
    return result
