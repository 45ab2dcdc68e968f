"""The layers of docs/ARCHITECTURE.md stay honest: a module imports only from its own layer or below.

0 base (messages, errors, atomic files) → 1 core (pure: spec, registries, model, data) →
2 training (the eager trainer and its run-level helpers) → 3 engines (the stacked engine,
which imports the run-level helpers but never the trainer's module) → 4 introspection
(graphs, formulas, code generation) → 5 output (pictures, lessons) → 6 the server and the
notebook widget → 7 the CLI, whose `serve` command is the one place a front end starts another.
Core, training and engine modules never print or open files (run folders and CSV files are
the named exceptions).
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "torchground"

# Keys are dotted paths below torchground: a folder, or a module; the longest match wins.
LAYERS = {
    "i18n": 0, "errors": 0, "atomic": 0,
    "registry": 1, "spec": 1, "spec_rules": 1, "model": 1, "data": 1, "schedules": 1,
    "train": 2,
    "engine": 3,
    "explain": 4, "codegen": 4,
    "viz": 5, "lessons": 5,
    "train.rundir": 5,  # a run folder holds the pictures, so it sits with the output
    "deploy": 5,  # a trained run used elsewhere: loaded from its folder, predictions, ONNX
    "track": 5,  # experiment trackers (TensorBoard): they draw the decision boundary
    "server": 6, "notebook": 6,
    "cli": 7, "__main__": 7,
}
# Modules that may read and write files although their layer is pure.
# Modules that may open files: the ones that read and write the user's, the kernels' cache,
# and train.threads, which reads the OS's counts of runnable tasks (/proc).
FILE_IO = {"data.csv_io", "train.rundir", "train.checkpoint", "engine.kernels.build_cache", "engine.sweep.build_turn", "train.threads"}
MAX_ROOT_MODULES = 10
MAX_LINES = 500


def _name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return ".".join(parts)


def _layer(name: str) -> int | None:
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    return None


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        if _name(path):
            yield _name(path), path


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torchground."):
            yield node.module.removeprefix("torchground.")
            for alias in node.names:  # `from torchground.x import module`
                yield f"{node.module.removeprefix('torchground.')}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("torchground."):
                    yield alias.name.removeprefix("torchground.")


MODULES = list(_modules())


@pytest.mark.parametrize("name, path", MODULES, ids=[m[0] for m in MODULES])
def test_imports_go_downward(name, path):
    layer = _layer(name)
    assert layer is not None, f"{name} has no layer: add its folder to LAYERS"
    for target in _imports(path):
        target_layer = _layer(target)
        assert target_layer is not None, f"{name} imports unknown module {target}"
        assert target_layer <= layer, f"{name} (layer {layer}) imports {target} (layer {target_layer})"


@pytest.mark.parametrize("name, path", [m for m in MODULES if m[0].startswith("engine")], ids=lambda v: v if isinstance(v, str) else v.name)
def test_engine_never_imports_the_trainer(name, path):
    assert not [t for t in _imports(path) if t == "train.trainer" or t.startswith("train.trainer.") or t == "train.Trainer"], name


@pytest.mark.parametrize("name, path", [m for m in MODULES if (_layer(m[0]) or 9) <= 3 and m[0] not in FILE_IO], ids=lambda v: v if isinstance(v, str) else v.name)
def test_core_and_engines_do_not_print(name, path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "print" not in calls and "open" not in calls, name


def test_the_package_root_is_small():
    root = [p.name for p in SRC.glob("*.py")]
    assert len(root) <= MAX_ROOT_MODULES, sorted(root)


def test_no_module_is_too_long():
    long = {_name(p): n for p in SRC.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these by concern: {long}"
