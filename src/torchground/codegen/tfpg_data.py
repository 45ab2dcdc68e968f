"""Exported code for a TensorFlow Playground link's own data and initial weights.

A spec with ``tf_playground_seed`` takes its points and its initial weights from
TensorFlow Playground's random stream. The exported script carries that stream and the
data set's generator as code *generated from* :mod:`torchground.data.tfpg_random` and
:mod:`torchground.data.tfpg_datasets` (their functions' source, docstrings and comments
dropped by :mod:`ast`), so the rules are written once and the script gives the same
points and weights as :func:`torchground.train.run.make_data` and
:func:`torchground.model.build_model`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

from torchground.codegen.parts import Parts
from torchground.data import tfpg_datasets, tfpg_random

__all__ = ["TfPlaygroundData", "stream_code"]

# What each data set's generator needs besides the stream, from tfpg_datasets.
_NEEDS: dict[str, tuple[str, ...]] = {
    "circle": ("_dist", "_circle"),
    "xor": ("_xor",),
    "gauss": ("_scale", "_normal", "_gauss"),
    "spiral": ("_spiral",),
    "reg-plane": ("_scale", "_plane_draws", "_reg_plane"),
    "reg-gauss": ("_dist", "_scale", "_plane_draws", "_REG_GAUSSIANS", "_reg_gauss"),
}


def _plain(obj: Any) -> str:
    """An object's source without docstrings, comments or annotations' imports."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def stream_code(dataset: str) -> str:
    """The script's copy of TensorFlow Playground's stream and the generator of ``dataset``.

    >>> code = stream_code("circle")
    >>> "class PlaygroundRandom" in code and "def _circle" in code and "Args:" not in code
    True
    """
    constants = "\n".join(f"{name} = {getattr(tfpg_random, name)!r}" for name in ("_WIDTH", "_MASK", "_CHUNKS", "_START_DENOM", "_SIGNIFICANCE", "_OVERFLOW"))
    parts = [constants, "_Point = tuple[float, float, float]"]
    parts += [_plain(obj) for obj in (tfpg_random.seed_key, tfpg_random.Arc4, tfpg_random.PlaygroundRandom)]
    for name in _NEEDS[dataset]:
        value = getattr(tfpg_datasets, name)
        parts.append(f"{name} = {value!r}" if isinstance(value, tuple) else _plain(value))
    parts.append(_plain(tfpg_datasets.shuffle_in_place))
    return "\n\n\n".join(parts) + "\n"


class TfPlaygroundData:
    """Mixin for :class:`~torchground.codegen.parts.Parts`: a link's data and initial weights."""

    spec: Any

    def data(self) -> str:
        s = self.spec
        generator = _NEEDS[s.dataset][-1]
        code = f"TF_SEED = {s.tf_playground_seed!r}  # «tfpg_seed»\n\n\n" + stream_code(s.dataset) + f"""

rng = PlaygroundRandom(TF_SEED)  # «tfpg_stream»
rows = {generator}(rng, N_SAMPLES, NOISE / 100)  # «tfpg_generator»
shuffle_in_place(rows, rng)  # «tfpg_shuffle»
points = np.array([row[:2] for row in rows])  # (N, 2)
labels = np.array([row[2] for row in rows])  # (N,)
"""
        return Parts.fill(self, code)  # type: ignore[arg-type]

    def init(self) -> str:
        code = super().init()  # type: ignore[misc]
        if self.spec.init not in ("playground", "zero"):
            return code
        last = "        layer.weight.zero_()  # «tfpg_init_zero»\n        layer.bias.zero_()\n" if self.spec.init == "zero" else "        layer.bias.fill_(0.1)\n"
        return code + Parts.fill(self, """
# «tfpg_weights»
with torch.no_grad():
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for _ in range(INIT_SEED * sum(layer.weight.numel() for layer in linears)):  # «tfpg_resets»
        rng.random()
    for layer in linears:
        for j in range(layer.out_features):
            for i in range(layer.in_features):
                layer.weight[j, i] = rng.random() - 0.5
""" + last)  # type: ignore[arg-type]
