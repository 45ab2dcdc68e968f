"""The sections of an exported training script, built for one spec, as text.

:mod:`torchground.codegen` puts these sections in order (script) or in cells (notebook).
Each section mirrors the torchground code that does the same job, so that the script
reproduces :func:`torchground.train.trainer.train`: the model is
:class:`~torchground.model.PlaygroundNet` built as :func:`~torchground.model.build_model`
does, and the steps and the loop are those of :class:`~torchground.train.trainer.Trainer` and
:class:`~torchground.train.callbacks.EarlyStopping` (batch order of a seeded ``DataLoader``,
true mean loss, L1/L2 on weights with the Playground's dead-weight rule, LBFGS closure,
early stopping, a diverged step not applied).

Comments are written as ``«key»`` markers that :meth:`Parts.fill` fills in from the
catalogue (keys ``codegen.c.<key>``), so one template serves English and Japanese.
"""

from __future__ import annotations

import re
from typing import Any

from torchground.codegen.sources import (
    GENERATORS, INIT_CODE, activation_code, criterion_code, display_width, feature_code, fstring, literal, unsupported,
)
from torchground.codegen.own_data import MULTI_GENERATORS, class_index_loss_code, csv_data_code, multi_discretize_code
from torchground.i18n import t
from torchground.registry import INITS, LOSSES, OPTIMIZERS
from torchground.schedules import SCHEDULERS, scheduler_kwargs
from torchground.spec import Spec

__all__ = ["Parts"]

_MARKER = re.compile(r"«([a-z0-9_]+)»")
_WHOLE_LINE_COMMENT = re.compile(r"^(\s*)# «([a-z0-9_]+)»$")
_MAX_LINE = 100  # longer lines get their inline comment moved above them


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
        self.outputs = spec.classes if (spec.classes or 2) > 2 else 1  # K outputs for K classes

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
            f"EPOCHS = {s.epochs}  # «epochs»",
            f"LR = {literal(s.lr)}  # «lr»",
        ]
        if self.outputs > 1:
            lines.append(f"CLASSES = {self.outputs}  # «k_classes»")
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
        if self.spec.dataset == "csv":  # your own data (codegen.own_data)
            return self.fill(csv_data_code(self.spec))
        fn = "make_" + self.spec.dataset.replace("-", "_")
        code = (GENERATORS.get(self.spec.dataset) or MULTI_GENERATORS[self.spec.dataset]) + f"""

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
        init_lines.append(f"        self.layer_out = nn.Linear({width}, {self.outputs})")
        assert s.output_activation is not None
        init_lines.append(f"        self.act_out = {activation_code(s.output_activation)}")
        forward_lines.append(f"        x = self.act_out(self.layer_out(x))  # (B, {self.outputs})")
        code = (
            '''\
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
            + "\n        return x\n"
        )
        if self.outputs > 1:
            code += multi_discretize_code()
        elif self.classification:
            code += '''

def discretize(output):
    """«discretize_doc»"""
    return torch.where(output >= 0.0, 1.0, -1.0).to(output.dtype)
'''
        return self.fill(code)

    def init(self) -> str:
        if self.spec.init not in INIT_CODE:
            raise unsupported("init", self.spec.init)
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
        if s.scheduler is not None:
            kwargs = scheduler_kwargs(s.scheduler, s.scheduler_args, s.lr, s.epochs)
            shown = ", ".join(["optimizer", *(f"{k}={literal(v)}" for k, v in kwargs.items())])
            code += f"scheduler = optim.lr_scheduler.{SCHEDULERS[s.scheduler].__name__}({shown})  # «takeout_scheduler»\n"
        criterion = criterion_code(s.loss)
        if criterion is None:
            code += '''

def criterion(output, target):
    """«half_mse_doc»"""
    return 0.5 * torch.mean((output - target) ** 2)
'''
        elif self.outputs > 1:
            code += class_index_loss_code(criterion)
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
        code += self.epoch_training()
        for name in self.sets[1:]:
            targets = ", ".join(f"{name}_{m}" for m in ("loss", *self.metrics))
            code += f"    {targets} = valid_step(x_{name}, y_{name})\n"
        columns = ["epoch"] + [f"{st}_loss" for st in ("train", "val", "test")]
        columns += [f"{st}_{m}" for m in self.metrics for st in ("train", "val", "test")]
        items = []
        for col in columns:
            present = col == "epoch" or col.split("_")[0] in self.sets
            items.append(f'        "{col}": {col if present else "None"},\n')
        items.append(f'        "lr": {self.lr_expression},\n')
        code += "    row = {  # «row»\n" + "".join(items) + "    }\n    history.append(row)\n"
        return self.fill(code + self.epoch_report(columns))

    #: What the history row's ``lr`` reads (the TensorFlow Playground loop has no optimiser).
    lr_expression = 'optimizer.param_groups[0]["lr"]'

    def epoch_training(self) -> str:
        """The loop's head and one epoch of training up to the training metrics (a template)."""
        code = """torch.manual_seed(SHUFFLE_SEED)  # «global_seed»
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
        code += f"        print(f{fstring(self.c('diverged'), {'value': 'loss', 'epoch': 'epoch'})})\n"
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
        return code

    def epoch_report(self, columns: list[str]) -> str:
        """The epoch's printed line, the scheduler's step and early stopping (a template)."""
        s, code = self.spec, ""
        log_key = "train.log_line" if self.classification else "train.log_line_reg"
        names = {"epoch": "epoch", "epochs": "EPOCHS"}
        names.update({c: c for c in columns if c != "epoch" and c.split("_")[0] in self.sets})
        code += f"    print(f{fstring(t(log_key, self.lang), names, width=len(str(s.epochs)))})\n"
        if s.scheduler is not None:
            watched = ("val_loss" if "val" in self.sets else "train_loss") if s.scheduler == "plateau" else ""
            code += f"    scheduler.step({watched})  # «takeout_scheduler_step»\n"
        if self.early:
            monitored = "val_loss" if "val" in self.sets else "train_loss"
            code += f"""    # «early_check»
    if {monitored} < best_loss - MIN_DELTA:
        best_loss, best_epoch, wait = {monitored}, epoch, 0
"""
            if s.restore_best:
                code += "        best_state = copy.deepcopy(model.state_dict())  # «keep_best»\n"
            stop = fstring(t("train.early_stopped", self.lang), {"epoch": "epoch", "best": "best_epoch", "patience": "PATIENCE"})
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
        return code

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
        code += f"print(f{fstring(self.c('plot_saved'), {'path': 'LOSS_PLOT'})})\n"
        if self.notebook:
            code += "plt.show()\n"
        return self.fill(code)
