"""The pieces of an exported training script: one builder per section, all text, no I/O.

:mod:`torchground.codegen` assembles these pieces into a script or a notebook. Every
piece is Python source for one spec, written to do exactly what the torchground code it
mirrors does (same calls, same order, same arithmetic), because the exported script must
reproduce :func:`torchground.trainer.train` number for number:

* data: the generators of :mod:`torchground.datasets`, the shuffle and the split;
* features: :data:`torchground.features.FEATURES`;
* model: :class:`torchground.model.PlaygroundNet` and :func:`~torchground.model.build_model`;
* optimiser, loss, activations, initialisers: :mod:`torchground.registry`;
* the loop: :class:`torchground.trainer.Trainer` and
  :class:`torchground.callbacks.EarlyStopping`.

Comments are written as ``«key»`` markers that :class:`Parts` fills in from the catalogue
(keys ``codegen.c.<key>``), so one template serves English and Japanese.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from typing import Any

from torch import nn

from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
from torchground.spec import Spec

__all__ = ["Parts", "display_width", "literal", "activation_code", "criterion_code", "feature_code", "INIT_CODE"]

_MARKER = re.compile(r"«([a-z0-9_]+)»")
_WHOLE_LINE_COMMENT = re.compile(r"^(\s*)# «([a-z0-9_]+)»$")
_MAX_LINE = 100  # longer lines get their inline comment moved above them

# --- registry entries as source text ----------------------------------------------------------
# Activations whose registry factory is not a bare ``nn`` class (it fixes constructor values).
_ACTIVATION_SPECIAL = {"threshold": "nn.Threshold(0.0, 0.0)"}

#: Initialiser bodies (weight line, bias line), as in :mod:`torchground.registry`; ``None``
#: for "torch", which keeps what ``nn.Linear`` drew when it was made.
INIT_CODE: dict[str, tuple[str, str] | None] = {
    "xavier": ("nn.init.xavier_uniform_(m.weight)", "nn.init.zeros_(m.bias)"),
    "playground": ("nn.init.uniform_(m.weight, -0.5, 0.5)", "nn.init.constant_(m.bias, 0.1)"),
    "zero": ("nn.init.zeros_(m.weight)", "nn.init.zeros_(m.bias)"),
    "kaiming": ('nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")', "nn.init.zeros_(m.bias)"),
    "torch": None,
}

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


def _unsupported(kind: str, name: str) -> TorchgroundError:
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
    raise _unsupported("value", repr(value))


def activation_code(name: str) -> str:
    """Source that builds activation ``name`` as the registry does, e.g. ``nn.Tanh()``."""
    entry = ACTIVATIONS.get(name)
    if entry.name in _ACTIVATION_SPECIAL:
        return _ACTIVATION_SPECIAL[entry.name]
    build = entry.build
    if isinstance(build, type) and getattr(nn, build.__name__, None) is build:
        return f"nn.{build.__name__}()"
    raise _unsupported("activation", name)


def criterion_code(name: str) -> str | None:
    """Source of the ``torch.nn`` loss inside loss ``name`` (``None`` for half_mse, written out)."""
    entry = LOSSES.get(name)
    if entry.name == "half_mse":
        return None
    built = entry.build()
    cls = type(getattr(built, "criterion", built))  # a LossFunction wraps the torch loss
    if getattr(nn, cls.__name__, None) is cls:
        return f"nn.{cls.__name__}()"
    raise _unsupported("loss", name)


def feature_code(name: str) -> str:
    """NumPy source of feature ``name`` from the columns ``x1`` and ``x2``."""
    if name not in _FEATURE_CODE:
        raise _unsupported("feature", name)
    return _FEATURE_CODE[name]


# --- the data generators, as in torchground.datasets ------------------------------------------
_HALVES = "    n_pos, n_neg = (n + 1) // 2, n // 2  # «halves»\n"
_SIGN_LABELS = "    labels = np.concatenate([np.ones(n_pos), -np.ones(n_neg)])  # (N,) «first_half_pos»\n"
_UNIFORM_PLANE = """\
    radius = 6.0
    points = rng.uniform(-radius, radius, (n, 2))  # (N, 2)
    noisy = points + rng.uniform(-radius, radius, (n, 2)) * noise  # (N, 2) «reg_noisy»
"""

_GENERATORS = {
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


class Parts:
    """Builds each section of the script for one spec, comments in ``lang``.

    Args:
        spec: the experiment to export.
        lang: "en" or "ja" (the caller resolves ``None``).
        notebook: write for a notebook (figures shown inline, no Agg backend).
    """

    def __init__(self, spec: Spec, lang: str, notebook: bool = False) -> None:
        self.spec = spec
        self.lang = lang
        self.notebook = notebook
        opt = OPTIMIZERS.get(spec.optimizer)
        self.opt_class: str = opt.info["class"]
        self.has_weight_decay: bool = bool(opt.info["weight_decay"])
        self.closure: bool = bool(opt.info["needs_closure"])
        assert spec.n_samples is not None
        self.n = spec.n_samples
        self.n_train = spec.n_train
        self.n_val = self.n * spec.val_pct // 100
        self.n_test = self.n - self.n_train - self.n_val
        self.sets = ["train"] + [s for s in ("val", "test") if getattr(self, f"n_{s}") > 0]
        self.classification = spec.problem == "classification"
        self.metrics = ("acc",) if self.classification else ("rmse", "r2")
        self.penalties = [p for p in ("l1", "l2") if getattr(spec, p) > 0]
        self.early = spec.patience is not None
        self.unit_out = bool(LOSSES.get(spec.loss).info["unit_output"])
        self.unit_target = bool(LOSSES.get(spec.loss).info["unit_target"])

    # -- text helpers -----------------------------------------------------------------------
    def c(self, key: str, **params: Any) -> str:
        """The catalogue text ``codegen.c.<key>`` in this language."""
        return t(f"codegen.c.{key}", self.lang, **params)

    def fill(self, template: str) -> str:
        """Replace ``«key»`` markers by catalogue texts; a whole-line comment may span lines."""
        out = []
        for line in template.splitlines():
            whole = _WHOLE_LINE_COMMENT.match(line)
            if whole:
                indent, key = whole.groups()
                out.extend(f"{indent}# {part}" for part in self.c(key).splitlines())
                continue
            filled = _MARKER.sub(lambda m: self.c(m.group(1)), line)
            code, sep, comment = line.partition("  # ")
            if display_width(filled) > _MAX_LINE and sep and "«" in comment and code.strip():
                # A long inline comment goes on its own line, above the code it explains.
                indent = code[: len(code) - len(code.lstrip())]
                out.append(indent + "# " + _MARKER.sub(lambda m: self.c(m.group(1)), comment))
                out.append(code)
            else:
                out.append(filled)
        return "\n".join(out) + "\n"

    # -- sections -----------------------------------------------------------------------------
    def imports(self) -> str:
        lines = []
        if self.early and self.spec.restore_best:
            lines.append("import copy")
        lines += ["import json", "import math", "import os", ""]
        if not self.notebook:
            lines.append("import matplotlib")
        lines += ["import numpy as np", "import torch", "from torch import nn, optim",
                  "from torch.utils.data import DataLoader, TensorDataset", ""]
        if not self.notebook:
            lines.append('matplotlib.use("Agg")  # «agg»')
        lines.append("import matplotlib.pyplot as plt")
        return self.fill("\n".join(lines))

    def settings(self) -> str:
        s = self.spec
        batch = self.n_train if s.batch_size == "full" else s.batch_size
        batch_note = "batch_full" if s.batch_size == "full" else "batch_size"
        lines = [
            f"N_SAMPLES = {s.n_samples}  # «n_samples»",
            f"NOISE = {literal(float(s.noise))}  # «noise»",
            f"DATA_SEED = {s.seed}  # «data_seed»",
            f"TRAIN_PCT, VAL_PCT, TEST_PCT = {s.train_pct}, {s.val_pct}, {s.test_pct}  # «split»",
            f"INIT_SEED = {s.init_seed}  # «init_seed»",
            f"SHUFFLE_SEED = {s.shuffle_seed}  # «shuffle_seed»",
            f"BATCH_SIZE = {batch}  # «{batch_note}»",
            f"EPOCHS = {s.epochs}",
            f"LR = {literal(s.lr)}  # «lr»",
        ]
        if self.has_weight_decay:
            lines.append(f"WEIGHT_DECAY = {literal(s.weight_decay)}  # «weight_decay»")
        if "l1" in self.penalties:
            lines.append(f"L1 = {literal(s.l1)}  # «l1»")
        if "l2" in self.penalties:
            lines.append(f"L2 = {literal(s.l2)}  # «l2»")
        if self.early:
            lines.append(f"PATIENCE = {s.patience}  # «patience»")
            lines.append(f"MIN_DELTA = {literal(s.min_delta)}  # «min_delta»")
        lines += [
            f"DTYPE = torch.{s.dtype}  # «dtype»",
            'DEVICE = torch.device("cpu")',
            "# «device»",
            'LOSS_PLOT = "loss.png"  # «loss_plot»',
        ]
        return self.fill("\n".join(lines))

    def data(self) -> str:
        fn = "make_" + self.spec.dataset.replace("-", "_")
        code = _GENERATORS[self.spec.dataset] + f"""

rng = np.random.default_rng(DATA_SEED)  # «one_stream»
points, labels = {fn}(rng, N_SAMPLES, NOISE / 100.0)  # (N, 2), (N,)
order = rng.permutation(N_SAMPLES)  # «shuffle_once»
points, labels = points[order], labels[order]
"""
        return self.fill(code)

    def features(self) -> str:
        names = self.spec.features
        columns = ", ".join(feature_code(n) for n in names)
        code = f'''\
def make_features(points):
    """«features_doc»"""
    x1, x2 = points[:, 0], points[:, 1]  # (N,), (N,)
    columns = [{columns}]  # {", ".join(names)}
    return np.stack(columns, axis=1)  # (N, {len(names)})


def to_tensors(start, stop):
    """«to_tensors_doc»"""
    x = torch.tensor(make_features(points[start:stop]), dtype=DTYPE, device=DEVICE)  # (n, {len(names)})
    y = torch.tensor(labels[start:stop], dtype=DTYPE, device=DEVICE).reshape(-1, 1)  # (n, 1)
    return x, y


n_train = N_SAMPLES * TRAIN_PCT // 100  # «split_counts»
n_val = N_SAMPLES * VAL_PCT // 100
x_train, y_train = to_tensors(0, n_train)  # ({self.n_train}, {len(names)}), ({self.n_train}, 1)
'''
        if "val" in self.sets:
            code += f"x_val, y_val = to_tensors(n_train, n_train + n_val)  # ({self.n_val}, {len(names)}), ({self.n_val}, 1)\n"
        if "test" in self.sets:
            code += f"x_test, y_test = to_tensors(n_train + n_val, N_SAMPLES)  # ({self.n_test}, {len(names)}), ({self.n_test}, 1)\n"
        empty = [s for s in ("val", "test") if s not in self.sets]
        if empty:
            code += "# " + self.c("empty_sets", sets=", ".join(empty)) + "\n"
        shuffle = "True,  # «reshuffle»" if self.spec.shuffle else "False,  # «no_reshuffle»"
        code += f"""
train_loader = DataLoader(
    TensorDataset(x_train, y_train),
    batch_size=BATCH_SIZE,
    shuffle={shuffle}
    generator=torch.Generator().manual_seed(SHUFFLE_SEED),  # «loader_generator»
)
"""
        return self.fill(code)

    def model(self) -> str:
        s = self.spec
        init_lines, forward_lines = [], []
        width = s.n_inputs
        for i, h in enumerate(s.hidden, start=1):
            init_lines.append(f"        self.layer{i} = nn.Linear({width}, {h})")
            init_lines.append(f"        self.act{i} = {activation_code(s.activation)}")
            forward_lines.append(f"        x = self.act{i}(self.layer{i}(x))  # (B, {h})")
            width = h
        init_lines.append(f"        self.layer_out = nn.Linear({width}, 1)")
        assert s.output_activation is not None
        init_lines.append(f"        self.act_out = {activation_code(s.output_activation)}")
        forward_lines.append("        x = self.act_out(self.layer_out(x))  # (B, 1)")
        code = (
            f'''\
class Net(nn.Module):
    """«net_doc»"""

    def __init__(self):
        super().__init__()
        # «one_act_per_layer»
'''
            + "\n".join(init_lines)
            + f'''

    def forward(self, x):  # x: (B, {s.n_inputs})
'''
            + "\n".join(forward_lines)
            + '''
        return x


def discretize(output):
    """«discretize_doc»"""
    return torch.where(output >= 0.0, 1.0, -1.0).to(output.dtype)
'''
        )
        return self.fill(code)

    def init(self) -> str:
        if self.spec.init not in INIT_CODE:
            raise _unsupported("init", self.spec.init)
        body = INIT_CODE[INITS.get(self.spec.init).name]
        code = "torch.manual_seed(INIT_SEED)  # «init_seed_why»\nmodel = Net()\n"
        if body is None:
            code += "# «init_torch»\n"
        else:
            code += f'''

def init_weights(m):
    """«init_{self.spec.init}»"""
    if isinstance(m, nn.Linear):
        {body[0]}
        {body[1]}


model.apply(init_weights)  # «apply»
'''
        code += "model = model.to(DEVICE, DTYPE)  # «to_dtype»\nprint(model)\n"
        return self.fill(code)

    def optimizer(self) -> str:
        s = self.spec
        args = ["model.parameters()", "lr=LR"]
        if self.has_weight_decay:
            args.append("weight_decay=WEIGHT_DECAY")
        args += [f"{k}={literal(v)}" for k, v in s.optimizer_args.items()]
        note = "  # «weight_decay_is_l2»" if self.has_weight_decay and s.weight_decay else ""
        code = f"optimizer = optim.{self.opt_class}({', '.join(args)}){note}\n"
        if len(code) > 100:
            code = f"optimizer = optim.{self.opt_class}({note}\n" + "".join(f"    {a},\n" for a in args) + ")\n"
        criterion = criterion_code(s.loss)
        if criterion is None:
            code += '''

def criterion(output, target):
    """«half_mse_doc»"""
    return 0.5 * torch.mean((output - target) ** 2)
'''
        elif self.unit_out or self.unit_target:
            maps = ""
            if self.unit_out:
                maps += "    output = (output + 1) / 2  # «unit_output»\n"
            if self.unit_target:
                maps += "    target = (target + 1) / 2  # «unit_target»\n"
            code += f'''torch_loss = {criterion}


def criterion(output, target):
    """«mapped_loss_doc»"""
{maps}    return torch_loss(output, target)
'''
        else:
            code += f"criterion = {criterion}\n"
        return self.fill(code)

    def steps(self) -> str:
        code = ""
        if self.penalties:
            code += "weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]  # «weights_only»\n"
        if "l1" in self.penalties:
            code += "dead = [torch.zeros_like(w, dtype=torch.bool) for w in weights]  # «dead_masks»\n"
        if code:
            code += "\n\n"
        step = "optimizer.step(closure)" if self.closure else "optimizer.step()"
        if "l1" in self.penalties:
            arg = "closure" if self.closure else ""
            code += f'''def optimizer_step({arg}):
    """«l1_rule_doc»"""
    before = [w.detach().clone() for w in weights]
    {step}
    with torch.no_grad():
        for w, w_before, w_dead in zip(weights, before, dead):
            w_dead |= (torch.sign(w) * torch.sign(w_before)) < 0  # «crossed_zero»
            w[w_dead] = 0.0  # «stays_dead»


'''
            step = f"optimizer_step({arg})"
        loss_lines = "loss = criterion(pred, y)\n"
        total = "loss"
        if "l1" in self.penalties:
            loss_lines += "total = loss + L1 * sum(w.abs().sum() for w in weights)  # «l1_penalty»\n"
            total = "total"
        if "l2" in self.penalties:
            loss_lines += f"total = {total} + L2 * 0.5 * sum((w * w).sum() for w in weights)  # «l2_penalty»\n"
            total = "total"
        if self.closure:
            body = "".join("        " + line + "\n" for line in loss_lines.splitlines())
            code += f'''def train_step(x, y):
    """«train_step_closure_doc»"""
    model.train()  # «train_mode»
    first = []  # «closure_first»

    def closure():
        optimizer.zero_grad()
        pred = model(x)  # (B, 1)
{body}        {total}.backward()
        if not first:
            first.append((loss.item(), pred.detach()))
        return {total}

    {step}
    return first[0]
'''
        else:
            body = "".join("    " + line + "\n" for line in loss_lines.splitlines())
            code += f'''def train_step(x, y):
    """«train_step_doc»"""
    model.train()  # «train_mode»
    pred = model(x)  # (B, 1)
    optimizer.zero_grad()  # «zero_grad»
{body}    if not math.isfinite({total}.item()):
        return loss.item(), pred.detach()  # «skip_diverged»
    {total}.backward()  # «backward»
    {step}  # «step»
    return loss.item(), pred.detach()
'''
        if self.classification:
            metric = '''    acc = (discretize(pred) == y).sum().item() / len(y)
    return loss, acc
'''
        else:
            metric = '''    rmse = torch.sqrt(torch.mean((pred - y) ** 2)).item()
    sse = torch.sum((pred - y) ** 2)
    sst = torch.sum((y - y.mean()) ** 2)
    r2 = (1 - sse / sst).item() if sst.item() > 0 else math.nan  # «r2»
    return loss, rmse, r2
'''
        code += f'''

@torch.no_grad()  # «no_grad»
def valid_step(x, y):
    """«valid_step_doc_{'acc' if self.classification else 'reg'}»"""
    model.eval()  # «eval_mode»
    pred = model(x)  # (N, 1)
    loss = criterion(pred, y).item()
{metric}'''
        return self.fill(code)

    def loop(self) -> str:
        s = self.spec
        code = "history = []  # «history»\n"
        if not self.classification:
            code += "train_sst = ((y_train - y_train.mean()) ** 2).sum().item()  # «train_sst»\n"
        if self.early:
            code += "best_loss, best_epoch, wait = math.inf, None, 0  # «early_state»\n"
            if s.restore_best:
                code += "best_state = None\n"
        code += """torch.manual_seed(SHUFFLE_SEED)  # «global_seed»
for epoch in range(1, EPOCHS + 1):
    # «true_mean»
    loss_sum, n_seen = 0.0, 0
    preds, targets = [], []
    for x, y in train_loader:
        loss, pred = train_step(x, y)
        if not math.isfinite(loss):
            break  # «diverged_break»
        loss_sum += loss * len(y)
        n_seen += len(y)
        preds.append(pred)
        targets.append(y)
    if not math.isfinite(loss):
"""
        code += f"        print(f{_fstring(self.c('diverged'), {'value': 'loss', 'epoch': 'epoch'})})\n"
        code += """        break
    train_loss = loss_sum / n_seen
    pred, target = torch.cat(preds), torch.cat(targets)  # («n_train_shape»)
"""
        code = code.replace("«n_train_shape»", f"{self.n_train}, 1")
        if self.classification:
            code += "    train_acc = (discretize(pred) == target).sum().item() / n_seen  # «train_metric»\n"
        else:
            code += """    sse = ((pred - target) ** 2).sum().item()  # «train_metric»
    train_rmse = math.sqrt(sse / n_seen)
    train_r2 = 1 - sse / train_sst if train_sst > 0 else math.nan
"""
        for name in self.sets[1:]:
            targets = ", ".join(f"{name}_{m}" for m in ("loss", *self.metrics))
            code += f"    {targets} = valid_step(x_{name}, y_{name})\n"
        columns = ["epoch"] + [f"{st}_loss" for st in ("train", "val", "test")]
        columns += [f"{st}_{m}" for m in self.metrics for st in ("train", "val", "test")]
        items = []
        for col in columns:
            present = col == "epoch" or col.split("_")[0] in self.sets
            items.append(f'        "{col}": {col if present else "None"},\n')
        items.append('        "lr": optimizer.param_groups[0]["lr"],\n')
        code += "    row = {  # «row»\n" + "".join(items) + "    }\n    history.append(row)\n"
        log_key = "train.log_line" if self.classification else "train.log_line_reg"
        names = {"epoch": "epoch", "epochs": "EPOCHS"}
        names.update({c: c for c in columns if c != "epoch" and c.split("_")[0] in self.sets})
        code += f"    print(f{_fstring(t(log_key, self.lang), names, width=len(str(s.epochs)))})\n"
        if self.early:
            monitored = "val_loss" if "val" in self.sets else "train_loss"
            code += f"""    # «early_check»
    if {monitored} < best_loss - MIN_DELTA:
        best_loss, best_epoch, wait = {monitored}, epoch, 0
"""
            if s.restore_best:
                code += "        best_state = copy.deepcopy(model.state_dict())  # «keep_best»\n"
            stop = _fstring(t("train.early_stopped", self.lang), {"epoch": "epoch", "best": "best_epoch", "patience": "PATIENCE"})
            code += f"""    else:
        wait += 1
        if wait >= PATIENCE:
            print(f{stop})
"""
            if s.restore_best:
                code += """            if best_state is not None:
                model.load_state_dict(best_state)  # «restore_best»
"""
            code += "            break\n"
        return self.fill(code)

    def results(self) -> str:
        code = """history_path = os.environ.get("TORCHGROUND_HISTORY_JSON")  # «history_json»
if history_path:
    with open(history_path, "w", encoding="utf-8") as f:
        json.dump(history, f, indent=1)

print(model.state_dict())  # «final_weights»

# «plot»
plt.figure(figsize=(6, 4))
done = [row["epoch"] for row in history]
"""
        labels = {"train": "train", "val": "validation", "test": "test"}
        for name in self.sets:
            code += f'plt.plot(done, [row["{name}_loss"] for row in history], label="{labels[name]}")\n'
        code += """plt.xlabel("epoch")
plt.ylabel("loss")
plt.legend()
plt.savefig(LOSS_PLOT, dpi=100)
"""
        code += f"print(f{_fstring(self.c('plot_saved'), {'path': 'LOSS_PLOT'})})\n"
        if self.notebook:
            code += "plt.show()\n"
        return self.fill(code)


def _fstring(template: str, names: dict[str, str], **fixed: Any) -> str:
    """Turn a catalogue template into an f-string literal that reads script variables.

    Fields in ``names`` become expressions; fields in ``fixed`` (e.g. a width) are put in
    as text; any other field prints as ``nan`` (a set that is empty, as torchground shows it).

    >>> _fstring("[Epoch {epoch:{width}d}/{epochs}] loss: {val_loss:.5f}", {"epoch": "epoch", "epochs": "EPOCHS"}, width=3)
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
