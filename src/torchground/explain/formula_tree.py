"""The formula tree: node types, limits, the error type, and evaluation with torch.

Split from :mod:`torchground.explain.formula` (which reads text into this tree and differentiates
it) so each file keeps one concern; see that module for the grammar and why it is ours.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import Tensor

from torchground.errors import TorchgroundError
from torchground.i18n import t

__all__ = [
    "FUNCTIONS", "MAX_LENGTH", "MAX_TOKENS", "MAX_DEPTH", "MAX_NUMBER", "MAX_EXPONENT",
    "MAX_VARIABLES", "FormulaError", "Node", "Num", "Var", "Unary", "Binary", "Call", "Formula",
]

MAX_LENGTH = 500  #: characters in a formula or an assignment list
MAX_TOKENS = 200  #: numbers, names, operators, parentheses and commas
MAX_DEPTH = 32  #: nested parentheses (a function call's parentheses count)
MAX_NUMBER = 1e6  #: largest absolute value of a numeric literal or an assigned value
MAX_EXPONENT = 64  #: largest absolute value of a constant exponent of ``**``
MAX_VARIABLES = 16  #: distinct variable names

#: The only functions a formula may call, each with exactly one argument.
FUNCTIONS: Mapping[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin, "cos": torch.cos, "tan": torch.tan, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "abs": torch.abs, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}
_BINARY: Mapping[str, Callable[[Tensor, Tensor], Tensor]] = {
    "+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div, "**": torch.pow,
}
_UNARY: Mapping[str, Callable[[Tensor], Tensor]] = {"-": torch.neg, "+": torch.positive}
_OPERATORS = {"*": "*", "/": "/", "+": "+", "-": "-", "^": "**", "×": "*", "÷": "/"}
# ASCII only on purpose: ``\d`` and ``str.isdigit`` accept "²" and "١", ``\w`` accepts "ｘ".
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"


class FormulaError(TorchgroundError):
    """A formula or an ``--at`` assignment list that is refused; nothing was computed.

    Attributes:
        position: 0-based offset (a Python ``str`` index) of the problem in ``text``, or
            ``None`` when it is not about one place (an extra variable, a bad ``dtype``).
        reason: a stable code, the catalogue key without ``formula.`` (``"too_deep"``, ...).
        text: the text that was read, when there is one.
    """

    def __init__(self, key: str, position: int | None = None, text: str | None = None,
                 **params: Any) -> None:
        self.position, self.text = position, text
        self.reason = key.removeprefix("formula.")
        if position is not None:
            params.setdefault("column", position + 1)
        super().__init__(key, **params)

    def message(self, lang: str | None = None) -> str:
        params = dict(self.params)
        if "found" in params and params["found"] is None:
            params["found"] = t("formula.end_of_input", lang)
        return t(self.key, lang, **params)

    def pointer(self, width: int = 60) -> str:
        """The text around the problem and a caret under it ('' without text or position)."""
        if self.text is None or self.position is None:
            return ""
        start = max(0, self.position - width // 2)
        shown = "".join(c if c.isprintable() and c not in _SPACE else " "
                        for c in self.text[start:start + width])
        return f"{shown}\n{' ' * (self.position - start)}^"


def _show(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[:limit] + "..."


def _check_name(name: str, pos: int, text: str) -> None:
    if name.startswith("_"):
        raise FormulaError("formula.underscore_name", pos, text, name=_show(name))
    if keyword.iskeyword(name):
        raise FormulaError("formula.keyword", pos, text, name=name)


# ----------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Node:
    """A node of a formula's tree; ``pos``, where its text starts, is left out of ``==``."""

    pos: int = field(default=0, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:  # a tree built by hand meets the same whitelist
        op, func = getattr(self, "op", None), getattr(self, "func", None)
        if isinstance(self, Var):
            _check_name(self.name, self.pos, self.name)
        elif op is not None and op not in (_BINARY if isinstance(self, Binary) else _UNARY):
            raise FormulaError("formula.unknown_operator", op=_show(repr(op)))
        elif func is not None and func not in FUNCTIONS:
            raise FormulaError("formula.unknown_function", self.pos, name=_show(repr(func)),
                               functions=", ".join(FUNCTIONS))

    def to_text(self) -> str:
        """The node as formula text with as few parentheses as the grammar needs."""
        return _to_text(self)


@dataclass(frozen=True)
class Num(Node):
    """A numeric literal."""
    value: float


@dataclass(frozen=True)
class Var(Node):
    """A variable, looked up in the values given to :meth:`Formula.evaluate`."""
    name: str


@dataclass(frozen=True)
class Unary(Node):
    """``-operand`` or ``+operand``."""
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """``left op right`` with ``op`` one of ``+ - * / **``."""
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    """``func(arg)`` with ``func`` one of :data:`FUNCTIONS`."""
    func: str
    arg: Node


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for name in ("operand", "left", "right", "arg"):
        if (child := getattr(node, name, None)) is not None:
            yield from _walk(child)


def _precedence(node: Node) -> int:
    if isinstance(node, Binary):
        return {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}[node.op]
    return 3 if isinstance(node, Unary) or (isinstance(node, Num) and node.value < 0) else 5


def _to_text(node: Node) -> str:
    def wrap(child: Node, parens: bool) -> str:
        return f"({_to_text(child)})" if parens else _to_text(child)

    if isinstance(node, Num):
        v = node.value
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Call):
        return f"{node.func}({_to_text(node.arg)})"
    if isinstance(node, Unary):
        return node.op + wrap(node.operand, _precedence(node.operand) < 3)
    assert isinstance(node, Binary), node
    left, right, p = _precedence(node.left), _precedence(node.right), _precedence(node)
    if node.op == "**":  # the base is an atom; the exponent may be a unary or another **
        return f"{wrap(node.left, left <= 4)}**{wrap(node.right, right < 3)}"
    return f"{wrap(node.left, left < p)} {node.op} {wrap(node.right, right <= p)}"


def _evaluate(node: Node, values: Mapping[str, Tensor], dtype: torch.dtype,
              device: torch.device) -> Tensor:
    def ev(child: Node) -> Tensor:
        return _evaluate(child, values, dtype, device)

    if isinstance(node, Num):
        return torch.tensor(node.value, dtype=dtype, device=device)
    if isinstance(node, Var):
        return values[node.name]
    if isinstance(node, Unary):
        return _UNARY[node.op](ev(node.operand))
    if isinstance(node, Binary):
        if node.op == "**" and isinstance(node.right, Num):  # x**2 records PowBackward0
            return torch.pow(ev(node.left), node.right.value)
        return _BINARY[node.op](ev(node.left), ev(node.right))
    assert isinstance(node, Call), node
    return FUNCTIONS[node.func](ev(node.arg))


@dataclass(frozen=True)
class Formula:
    """A parsed formula (made by :func:`parse`): tree, sorted variable names, source text."""

    root: Node
    text: str = field(default="", compare=False)
    variables: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = {n.name for n in _walk(self.root) if isinstance(n, Var)}
        object.__setattr__(self, "variables", tuple(sorted(names)))

    def to_text(self) -> str:
        """The formula with canonical operators and minimal parentheses (re-parses equal)."""
        return _to_text(self.root)

    __str__ = to_text

    def _require(self, values: Mapping[str, Any]) -> None:
        missing = [n for n in self.variables if n not in values]
        if missing:
            first = min(n.pos for n in _walk(self.root) if isinstance(n, Var) and n.name in missing)
            raise FormulaError("formula.missing_variable", first, self.text or None,
                               names=", ".join(missing))

    def evaluate(self, values: Mapping[str, Tensor | float], *,
                 dtype: torch.dtype | None = None) -> Tensor:
        r"""Build the formula's value from ``values`` with torch operations (autograd records it).

        Args:
            values: a tensor (or number) per variable; extra entries are ignored.
            dtype: dtype of the formula's constants. Default: ``None``, the promoted floating
                dtype of ``values`` (``torch.get_default_dtype()`` if none is floating).

        Shape:
            - values: any shapes that broadcast together.
            - Output: their broadcast shape (0-d for scalars).

        Raises:
            FormulaError: a variable has no value (``reason == "missing_variable"``).

        Example::

            >>> from torchground.explain.formula import parse
            >>> parse("x**2 + 1").evaluate({"x": torch.tensor([0.0, 1.0, 2.0])})
            tensor([1., 2., 5.])
        """
        self._require(values)
        tensors = {n: torch.as_tensor(values[n]) for n in self.variables}
        if dtype is None:
            floats = [v.dtype for v in tensors.values() if v.is_floating_point()]
            dtype = reduce(torch.promote_types, floats) if floats else torch.get_default_dtype()
        device = next((v.device for v in tensors.values()), torch.device("cpu"))
        return _evaluate(self.root, tensors, dtype, device)


