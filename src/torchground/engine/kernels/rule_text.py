"""The rules of :mod:`~torchground.engine.kernels.rules` as source text: C for ``native.c``,
``@triton.jit`` helpers, and torch functions.

Expressions are parsed with :mod:`ast` and written back out with the same tree, so every
target computes the same operations in the same order; parentheses are added by each
language's precedence (and always around an operand of ``&``, ``|`` or a comparison that
is itself one). Literals are float32 in C (``2.0f``), splat to vectors where ``sel``
needs one.

Example:
    >>> print(c_function(RULES["batch_loss"]).split("  /*")[0])
    INLINE vf batch_loss(vf sq, vf n) {
    >>> float(TORCH.sign(torch.tensor(-3.0)))
    -1.0
"""

from __future__ import annotations

import ast
import linecache
from types import SimpleNamespace
from typing import Callable

import torch

from torchground.engine.kernels.rules import HYPER, RULES, Let, Rule, Stmt

__all__ = ["c_source", "c_function", "triton_source", "torch_source", "TORCH", "C_MACROS"]

#: Flags that ``native.c`` has as compile-time macros (others become ``const int`` arguments).
C_MACROS = frozenset({"OPT", "MOMENTUM", "NESTEROV", "DECOUPLED", "L1", "L2", "HALF"})

# Binding strength of each operator, per language (higher binds tighter).
_PY = {"cmp": 1, "|": 2, "&": 3, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "**": 8, "atom": 9}
_C = {"|": 1, "&": 2, "==": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "atom": 9}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_MATH = ("where", "clamp", "exp", "sqrt", "abs")


class _Writer:
    """Writes an expression tree in one language.

    Args:
        lang: "c", "triton" or "torch".
        name: how an identifier is written (C: ``h->wd``, ``(*s1)``).
    """

    def __init__(self, lang: str, name: Callable[[str], str] = lambda n: n, cond: bool = False) -> None:
        self.lang, self.name, self.cond = lang, name, cond
        self.prec = _C if lang == "c" else _PY
        self.calls = (
            {"where": "sel", "clamp": "vclamp", "exp": "vexp", "sqrt": "vsqrt", "abs": "vabs"} if lang == "c"
            else {f: f"{'tl' if lang == 'triton' else 'torch'}.{f}" for f in _MATH}
        )
        if lang == "torch":  # the rule's definition, one kernel (the tests hold them equal)
            self.calls["sign"] = "torch.sign"

    def expr(self, text: str) -> str:
        return self._node(ast.parse(text, mode="eval").body)[0]

    def _literal(self, value: float) -> str:
        if self.cond:  # a condition on flags: integers
            return repr(value)
        return f"{float(value)!r}f" if self.lang == "c" else repr(float(value))

    def _wrap(self, part: tuple[str, int], need: int, strict: bool) -> str:
        text, p = part
        return f"({text})" if p < need or (strict and p == need) else text

    def _node(self, node: ast.expr) -> tuple[str, int]:
        P = self.prec
        if isinstance(node, ast.Constant):
            return self._literal(node.value), P["atom"]
        if isinstance(node, ast.Name):
            return self.name(node.id), P["atom"]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            if isinstance(node.operand, ast.Constant):
                return "-" + self._literal(node.operand.value), P["neg"]
            return "-" + self._wrap(self._node(node.operand), P["neg"], False), P["neg"]
        if isinstance(node, ast.BinOp):
            op = _BINOPS[type(node.op)]
            assert op != "**" or self.lang == "torch", "powers are for host rules only"
            left, right = self._node(node.left), self._node(node.right)
            if op in "&|":  # a comparison or the other of & and | beside one: always in parentheses
                def wrap(n: ast.expr, part: tuple[str, int]) -> str:
                    other = isinstance(n, ast.BinOp) and isinstance(n.op, (ast.BitAnd, ast.BitOr)) and type(n.op) is not type(node.op)
                    return f"({part[0]})" if isinstance(n, ast.Compare) or other else self._wrap(part, P[op], False)

                return f"{wrap(node.left, left)} {op} {wrap(node.right, right)}", P[op]
            if op == "**":
                return f"{self._wrap(left, P[op], True)} ** {self._wrap(right, P['neg'], False)}", P[op]
            return f"{self._wrap(left, P[op], False)} {op} {self._wrap(right, P[op], True)}", P[op]
        if isinstance(node, ast.Compare):
            assert len(node.ops) == 1, "one comparison at a time"
            op = _CMPOPS[type(node.ops[0])]
            level = P["cmp"] if self.lang != "c" or op not in ("==", "!=") else P["=="]
            left, right = self._node(node.left), self._node(node.comparators[0])
            return f"{self._wrap(left, level, True)} {op} {self._wrap(right, level, True)}", level
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            fn = node.func.id
            assert fn in _MATH or fn in RULES, f"unknown function {fn}"
            args = [self._node(a)[0] for a in node.args]
            if self.lang == "c" and fn == "where":  # sel takes vectors: literals are splat
                args = [f"splat({a})" if _is_literal(n) else a for a, n in zip(args, node.args)]
            if fn == "clamp":
                assert all(map(_is_literal, node.args[1:])), "clamp's bounds are literals"
                if self.lang == "triton":  # Triton's clamp lets NaN through only when asked
                    args.append("propagate_nan=tl.PropagateNan.ALL")
            return f"{self.calls.get(fn, fn)}({', '.join(args)})", P["atom"]
        raise ValueError(f"unsupported expression: {ast.unparse(node)}")


def _assigned(stmts: tuple[Stmt, ...]) -> set[str]:
    """Names the statements assign, branches included."""
    out: set[str] = set()
    for s in stmts:
        out |= {s.name} if isinstance(s, Let) else _assigned(s.then + s.otherwise)
    return out


def _is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) or (isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


# --- C ----------------------------------------------------------------------------------------
def _c_lines(rule: Rule, stmts: tuple[Stmt, ...], w: _Writer, declared: set[str], pointers: set[str], pad: str) -> list[str]:
    lines: list[str] = []
    for s in stmts:
        if isinstance(s, Let):
            value = w.expr(s.expr)
            if s.name in pointers:
                lines.append(f"{pad}*{s.name} = {value};")
            elif s.name in declared:
                lines.append(f"{pad}{s.name} = {value};")
            else:
                declared.add(s.name)
                lines.append(f"{pad}{'vi' if s.name in rule.masks else 'vf'} {s.name} = {value};")
        else:
            cond = _Writer("c", cond=True).expr(s.cond)
            fresh = sorted(_assigned(s.then + s.otherwise) - declared - pointers)
            if fresh:  # assigned in a branch, read after it: declared before
                lines.append(f"{pad}vf {', '.join(fresh)};")
                declared |= set(fresh)
            lines.append(f"{pad}if ({cond}) {{")
            lines += _c_lines(rule, s.then, w, set(declared), pointers, pad + "    ")
            if s.otherwise:
                lines.append(f"{pad}}} else {{")
                lines += _c_lines(rule, s.otherwise, w, set(declared), pointers, pad + "    ")
            lines.append(f"{pad}}}")
    return lines


def c_function(rule: Rule) -> str:
    """``rule`` as an inline C function on vectors of models: returns its first output;
    its other outputs are inputs passed by pointer and updated; hyper-parameters come from
    ``const Hyper *h``; flags that are not :data:`C_MACROS` are ``const int`` arguments."""
    assert not rule.host
    first, *others = rule.outputs
    assert all(o in rule.inputs for o in others), f"{rule.name}: extra outputs must be inputs"
    pointers = set(others)
    params: list[str] = []
    for name in rule.inputs:
        if name in HYPER:
            if "const Hyper *h" not in params:
                params.append("const Hyper *h")
            continue
        kind = "vi" if name in rule.masks else "vf"
        params.append(f"{kind} *{name}" if name in pointers else f"{kind} {name}")
    params += [f"const int {f}" for f in rule.flags if f not in C_MACROS]
    w = _Writer("c", lambda n: f"h->{n}" if n in HYPER else f"(*{n})" if n in pointers else n)
    body = _c_lines(rule, rule.body, w, set(rule.inputs), pointers, "    ")
    kind = "vi" if first in rule.masks else "vf"
    return "\n".join([
        f"INLINE {kind} {rule.name}({', '.join(params)}) {{  /* {rule.doc} */", *body, f"    return {w.name(first)};", "}",
    ])


def c_source() -> str:
    """Every kernel rule as C, after the per-model hyper-parameters' struct ``Hyper``: the
    part of ``native.c`` that :mod:`~torchground.engine.kernels.native` inserts."""
    parts = [
        "/* Generated from torchground/engine/kernels/rules.py by rule_text.py: do not edit. */",
        f"#define N_HYPER {len(HYPER)}",
        "typedef struct {",
        f"    vf {', '.join(HYPER)};",
        "} Hyper;",
    ]
    parts += [c_function(r) for r in RULES.values() if not r.host]
    return "\n".join(parts) + "\n"


# --- Python: Triton and torch -----------------------------------------------------------------
def _py_lines(stmts: tuple[Stmt, ...], w: _Writer, pad: str) -> list[str]:
    lines: list[str] = []
    for s in stmts:
        if isinstance(s, Let):
            lines.append(f"{pad}{s.name} = {w.expr(s.expr)}")
        else:
            lines.append(f"{pad}if {_Writer('torch', cond=True).expr(s.cond)}:")
            lines += _py_lines(s.then, w, pad + "    ")
            if s.otherwise:
                lines.append(f"{pad}else:")
                lines += _py_lines(s.otherwise, w, pad + "    ")
    return lines


def _py_function(rule: Rule, lang: str) -> str:
    if lang == "triton":
        params = [*rule.inputs, *(f"{f}: tl.constexpr" for f in rule.flags)]
        head = ["@triton.jit"]
    else:
        params = [*rule.inputs, *(["*", *(f"{f}=0" for f in rule.flags)] if rule.flags else [])]
        head = []
    return "\n".join([
        *head, f"def {rule.name}({', '.join(params)}):", f'    """{rule.doc}"""',
        *_py_lines(rule.body, _Writer(lang), "    "), f"    return {', '.join(rule.outputs)}",
    ])


_HEADER = '"""Generated from torchground/engine/kernels/rules.py by rule_text.py: do not edit."""\n'


def triton_source() -> str:
    """The kernel rules as a module of ``@triton.jit`` helpers (Triton inlines them)."""
    fns = [_py_function(r, "triton") for r in RULES.values() if not r.host]
    return _HEADER + "import triton\nimport triton.language as tl\n\n\n" + "\n\n\n".join(fns) + "\n"


def torch_source() -> str:
    """Every rule as a torch function (flags as keyword arguments)."""
    return _HEADER + "import torch\n\n\n" + "\n\n\n".join(_py_function(r, "torch") for r in RULES.values()) + "\n"


def _torch_functions() -> SimpleNamespace:
    text, filename = torch_source(), "<torchground.engine.kernels.rules: torch>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)  # readable tracebacks
    namespace: dict[str, object] = {"torch": torch}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 (our own generated text)
    return SimpleNamespace(**{name: namespace[name] for name in RULES})


#: Every rule as a torch function: ``TORCH.l1_dead(after, before, dead, l1)``.
TORCH = _torch_functions()
