"""The layers of DESIGN.md stay honest: a module imports only from its own layer or below.

0 base (messages, errors, atomic files) → 1 core (pure: spec, registries, data, model) →
2 engines (trainer) → 3 introspection (graphs, boundary grids, code generation) →
4 output (pictures, files, lessons) → 5 the server → 6 the CLI, whose `serve` command is the
one place a front end starts another. Core modules never print.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "torchground"

LAYERS = {
    "i18n": 0, "errors": 0, "atomic": 0,
    "registry": 1, "datasets": 1, "features": 1, "spec": 1, "model": 1, "metrics": 1, "history": 1,
    "formula_tree": 1, "formula": 1,
    "trainer": 2, "callbacks": 2, "engine": 2,
    "graph": 3, "graph_values": 3, "boundary": 3, "codegen": 3, "explore": 3,
    "plots": 4, "graph_render": 4, "data_io": 4, "rundir": 4, "lessons": 4,
    "server": 5,
    "cli": 6,
}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        top = rel.parts[0] if rel.parts[0] != "__init__" else None
        if top is not None:
            yield top, path


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torchground."):
            yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("torchground."):
                    yield alias.name.split(".")[1]


@pytest.mark.parametrize("top, path", list(_modules()), ids=lambda v: str(v) if isinstance(v, str) else v.name)
def test_imports_go_downward(top, path):
    assert top in LAYERS, f"{top} has no layer: add it to LAYERS"
    for target in _imports(path):
        assert target in LAYERS, f"{path.name} imports unknown module {target}"
        assert LAYERS[target] <= LAYERS[top], f"{path.relative_to(SRC)} (layer {LAYERS[top]}) imports {target} (layer {LAYERS[target]})"


@pytest.mark.parametrize("top, path", [m for m in _modules() if LAYERS.get(m[0], 9) <= 2], ids=lambda v: str(v) if isinstance(v, str) else v.name)
def test_core_and_engines_do_not_print(top, path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "print" not in calls and "open" not in calls, path.name
