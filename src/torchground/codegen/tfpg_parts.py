"""Exported code for TensorFlow Playground's loop (``training_loop = "tf-playground"``).

:class:`TfPlaygroundParts` writes the sections that differ from the PyTorch loop's
(:class:`~torchground.codegen.parts.Parts`): no ``torch.optim`` optimiser and no
``DataLoader``, but the accumulators, the step and the epoch of
:mod:`torchground.train.playground_loop` written out in plain PyTorch, so the script
reproduces :func:`torchground.train.trainer.train` with the same spec: derivatives summed
point by point (autograd of the batch's summed loss), a step with their mean every
``BATCH_SIZE`` points with a partial last batch carried into the next epoch, the penalty
step taken at the weight before the gradient step, TensorFlow Playground's L1 dead-weight
rule, and each set's loss over the whole set after the epoch.
"""

from __future__ import annotations

from torchground.codegen.parts import Parts
from torchground.codegen.sources import fstring

__all__ = ["TfPlaygroundParts"]


class TfPlaygroundParts(Parts):
    """:class:`~torchground.codegen.parts.Parts` for ``training_loop = "tf-playground"``."""

    lr_expression = "LR"

    def features(self) -> str:
        code = super().features()
        head = code.split("\ntrain_loader = DataLoader(", 1)[0].rstrip("\n")  # the loop walks x_train in order
        return head + "\n" + self.fill("# «tfpg_no_loader»\n")

    def optimizer(self) -> str:
        return self.fill('''\
# «tfpg_no_optimizer»


def criterion(output, target):
    """«half_mse_doc»"""
    return 0.5 * torch.mean((output - target) ** 2)
''')

    def steps(self) -> str:
        penalty = ""
        if "l1" in self.penalties:
            penalty += "            regularised = regularised - (LR * L1) * torch.sign(before)  # «tfpg_l1»\n"
        if "l2" in self.penalties:
            penalty += "            regularised = regularised - (LR * L2) * before  # «tfpg_l2»\n"
        if "l1" in self.penalties:
            penalty += "            dead[k] |= stepped * regularised < 0  # «tfpg_dead_rule»\n"
        code = f'''\
layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
params = [p for layer in layers for p in (layer.weight, layer.bias)]
acc = [torch.zeros_like(p) for p in params]  # «tfpg_acc»
dead = [torch.zeros_like(layer.weight, dtype=torch.bool) for layer in layers]  # «tfpg_dead»
pending = 0  # «tfpg_pending»


def accumulate(x, y):
    """«tfpg_accumulate_doc»"""
    global pending
    model.train()  # «train_mode»
    pred = model(x)  # (B, 1)
    loss = 0.5 * ((pred - y) ** 2).sum()  # «tfpg_sum»
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for k, (a, g) in enumerate(zip(acc, grads)):
            if k % 2 == 0:
                g = g.masked_fill(dead[k // 2], 0.0)  # «tfpg_dead_gather»
            a.add_(g)
    pending += len(y)


def step():
    """«tfpg_step_doc»"""
    global pending
    n = pending
    with torch.no_grad():
        for k, layer in enumerate(layers):
            w, b = layer.weight, layer.bias
            b.sub_(LR * acc[2 * k + 1] / n)  # «tfpg_bias»
            before = w.clone()
            stepped = w - (LR / n) * acc[2 * k]  # «tfpg_weight»
            regularised = stepped
{penalty}            w.copy_(torch.where(dead[k], torch.zeros_like(w), regularised))
            acc[2 * k].zero_()
            acc[2 * k + 1].zero_()
    pending = 0
'''
        valid = super().steps()
        start = valid.index("\n@torch.no_grad()", valid.index("def train_step"))
        return self.fill(code) + "\n" + valid[start:]

    def epoch_training(self) -> str:
        metrics = ", ".join(f"train_{m}" for m in ("loss", *self.metrics))
        code = """torch.manual_seed(SHUFFLE_SEED)  # «global_seed»
for epoch in range(1, EPOCHS + 1):
    # «tfpg_epoch»
    for start in range(0, n_train, BATCH_SIZE):
        stop = min(start + BATCH_SIZE, n_train)
        accumulate(x_train[start:stop], y_train[start:stop])  # (B, F), (B, 1)
        if stop - start == BATCH_SIZE:  # «tfpg_carry»
            step()
"""
        code += f"    {metrics} = valid_step(x_train, y_train)  # «tfpg_losses»\n"
        code += "    if not math.isfinite(train_loss):\n"
        code += f"        print(f{fstring(self.c('diverged'), {'value': 'train_loss', 'epoch': 'epoch'})})\n"
        code += "        break\n"
        return code
