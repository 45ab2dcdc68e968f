"""Source text for single things: registry entries, features, spec values and the data generators.

Each piece is written to do exactly what the torchground object it stands for does (the
same calls in the same order, the same arithmetic), because the exported script must
reproduce :func:`torchground.train.trainer.train` number for number:

* data: the generators of :mod:`torchground.data.datasets` (NumPy, one seeded stream);
* features: :data:`torchground.data.features.FEATURES`;
* activations, losses and initialisers: :mod:`torchground.registry`.

A name this module has no source for is refused with a :class:`TorchgroundError`
(``codegen.unsupported``) rather than written wrongly; the tests check that every
registry entry has one.
"""

from __future__ import annotations

import math
import string
import unicodedata
from typing import Any

from torch import nn

from torchground.errors import TorchgroundError
from torchground.registry import ACTIVATIONS, INIT_STEPS, LOSSES, init_code

__all__ = [
    "GENERATORS", "INIT_CODE", "activation_code", "criterion_code", "display_width", "feature_code", "fstring",
    "literal", "unsupported",
]

# --- registry entries as source text ----------------------------------------------------------
# Activations whose registry factory is not a bare ``nn`` class (it fixes constructor values).
_ACTIVATION_SPECIAL = {"threshold": "nn.Threshold(0.0, 0.0)"}

#: Initialiser bodies (weight line, bias line), written from the registry's own calls
#: (:func:`torchground.registry.init_code`); ``None`` for "torch", which keeps what
#: ``nn.Linear`` drew when it was made.
INIT_CODE: dict[str, tuple[str, str] | None] = {name: init_code(name) for name in INIT_STEPS}

_FEATURE_CODE = {
    "x1": "x1",
    "x2": "x2",
    "x1sq": "x1 * x1",
    "x2sq": "x2 * x2",
    "x1x2": "x1 * x2",
    "sinx1": "np.sin(x1)",
    "sinx2": "np.sin(x2)",
    "cosx1": "np.cos(x1)",
    "cosx2": "np.cos(x2)",
}


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (e.g. Japanese) characters count twice.

    >>> display_width("loss"), display_width("損失")
    (4, 4)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def unsupported(kind: str, name: str) -> TorchgroundError:
    return TorchgroundError("codegen.unsupported", kind=kind, name=name)


def literal(value: Any) -> str:
    """Python source for a spec value (``float("inf")`` where ``repr`` would not parse).

    >>> literal(0.03), literal((0.9, 0.99)), literal(True), literal(float("inf")), literal("strong_wolfe")
    ('0.03', '(0.9, 0.99)', 'True', 'float("inf")', "'strong_wolfe'")
    """
    if isinstance(value, float) and not math.isfinite(value):
        return 'float("nan")' if math.isnan(value) else ('float("inf")' if value > 0 else '-float("inf")')
    if isinstance(value, (tuple, list)):
        items = ", ".join(literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise unsupported("value", repr(value))


def activation_code(name: str) -> str:
    """Source that builds activation ``name`` as the registry does, e.g. ``nn.Tanh()``."""
    entry = ACTIVATIONS.get(name)
    if entry.name in _ACTIVATION_SPECIAL:
        return _ACTIVATION_SPECIAL[entry.name]
    build = entry.build
    if isinstance(build, type) and getattr(nn, build.__name__, None) is build:
        return f"nn.{build.__name__}()"
    raise unsupported("activation", name)


def criterion_code(name: str) -> str | None:
    """Source of the ``torch.nn`` loss inside loss ``name`` (``None`` for half_mse, written out)."""
    entry = LOSSES.get(name)
    if entry.name == "half_mse":
        return None
    built = entry.build()
    cls = type(getattr(built, "criterion", built))  # a LossFunction wraps the torch loss
    if getattr(nn, cls.__name__, None) is cls:
        return f"nn.{cls.__name__}()"
    raise unsupported("loss", name)


def feature_code(name: str) -> str:
    """NumPy source of feature ``name`` from the columns ``x1`` and ``x2``."""
    if name not in _FEATURE_CODE:
        raise unsupported("feature", name)
    return _FEATURE_CODE[name]


# --- the data generators, as in torchground.data.datasets ------------------------------------------
_HALVES = "    n_pos, n_neg = (n + 1) // 2, n // 2  # «halves»\n"
_SIGN_LABELS = "    labels = np.concatenate([np.ones(n_pos), -np.ones(n_neg)])  # (N,) «first_half_pos»\n"
_UNIFORM_PLANE = """\
    radius = 6.0
    points = rng.uniform(-radius, radius, (n, 2))  # (N, 2)
    noisy = points + rng.uniform(-radius, radius, (n, 2)) * noise  # (N, 2) «reg_noisy»
"""

#: Data set name → source of its generator function ``make_<name>(rng, n, noise)``.
GENERATORS: dict[str, str] = {
    "circle": '''\
def make_circle(rng, n, noise):
    """«gen_circle»"""
    radius = 5.0
''' + _HALVES + '''\
    r_inside = rng.uniform(0.0, radius * 0.5, n_pos)  # «circle_inside»
    r_ring = rng.uniform(radius * 0.7, radius, n_neg)  # «circle_ring»
    r = np.concatenate([r_inside, r_ring])  # (N,)
    angle = rng.uniform(0.0, 2.0 * math.pi, n)  # (N,)
    points = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (N, 2)
    offset = rng.uniform(-radius, radius, (n, 2)) * noise  # (N, 2) «always_drawn»
    moved = points + offset  # «noise_flips»
    labels = np.where(np.hypot(moved[:, 0], moved[:, 1]) < radius * 0.5, 1.0, -1.0)  # (N,)
    return points, labels
''',
    "xor": '''\
def make_xor(rng, n, noise):
    """«gen_xor»"""
    padding = 0.3
    raw = rng.uniform(-5.0, 5.0, (n, 2))  # (N, 2)
    points = np.where(raw > 0, raw + padding, raw - padding)  # (N, 2) «xor_padding»
    offset = rng.uniform(-5.0, 5.0, (n, 2)) * noise  # (N, 2) «always_drawn»
    moved = points + offset  # «noise_flips»
    labels = np.where(moved[:, 0] * moved[:, 1] >= 0, 1.0, -1.0)  # (N,)
    return points, labels
''',
    "gauss": '''\
def make_gauss(rng, n, noise):
    """«gen_gauss»"""
    variance = 0.5 + (4.0 - 0.5) * noise / 0.5  # «gauss_variance»
''' + _HALVES + '''\
    centres = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [n_pos, n_neg], axis=0)  # (N, 2)
    points = centres + math.sqrt(variance) * rng.standard_normal((n, 2))  # (N, 2)
''' + _SIGN_LABELS + '''\
    return points, labels
''',
    "spiral": '''\
def make_spiral(rng, n, noise):
    """«gen_spiral»"""
''' + _HALVES + '''\
    arms = []
    for m, delta in ((n_pos, 0.0), (n_neg, math.pi)):  # «spiral_arms»
        frac = np.arange(m) / m  # i / m
        r = 5.0 * frac
        t = 1.75 * 2.0 * math.pi * frac + delta
        arms.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))  # (m, 2)
    points = np.concatenate(arms) + rng.uniform(-1.0, 1.0, (n, 2)) * noise  # (N, 2)
''' + _SIGN_LABELS + '''\
    return points, labels
''',
    "reg-plane": '''\
def make_reg_plane(rng, n, noise):
    """«gen_reg_plane»"""
''' + _UNIFORM_PLANE + '''\
    labels = noisy.sum(axis=1) / 10.0  # (N,) «reg_plane_label»
    return points, labels
''',
    "reg-gauss": '''\
def make_reg_gauss(rng, n, noise):
    """«gen_reg_gauss»"""
''' + _UNIFORM_PLANE + '''\
    # «reg_gauss_centres»
    centres = np.array(
        [[-4.0, 2.5, 1.0], [0.0, 2.5, -1.0], [4.0, 2.5, 1.0], [-4.0, -2.5, -1.0], [0.0, -2.5, 1.0], [4.0, -2.5, -1.0]]
    )
    diff = noisy[:, None, :] - centres[None, :, :2]  # (N, 6, 2)
    dist = np.hypot(diff[..., 0], diff[..., 1])  # (N, 6)
    values = centres[:, 2] * np.clip(1.0 - dist / 2.0, 0.0, 1.0)  # (N, 6)
    best = np.argmax(np.abs(values), axis=1)  # (N,) «reg_gauss_best»
    labels = values[np.arange(n), best]  # (N,)
    return points, labels
''',
}



def fstring(template: str, names: dict[str, str], **fixed: Any) -> str:
    """Turn a catalogue template into an f-string literal that reads script variables.

    Fields in ``names`` become expressions; fields in ``fixed`` (e.g. a width) are put in
    as text; any other field prints as ``nan`` (a set that is empty, as torchground shows it).

    >>> fstring("[Epoch {epoch:{width}d}/{epochs}] loss: {val_loss:.5f}", {"epoch": "epoch", "epochs": "EPOCHS"}, width=3)
    '"[Epoch {epoch:3d}/{EPOCHS}] loss: nan"'
    """
    out = ['"']
    for text, field, spec, conversion in string.Formatter().parse(template):
        out.append(text.replace("\\", "\\\\").replace('"', '\\"').replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        spec = (spec or "").format(**fixed)
        if field in names:
            conv = f"!{conversion}" if conversion else ""
            out.append("{" + names[field] + conv + (":" + spec if spec else "") + "}")
        elif field in fixed:
            out.append(format(fixed[field], spec))
        else:
            out.append("nan")
    out.append('"')
    return "".join(out)
