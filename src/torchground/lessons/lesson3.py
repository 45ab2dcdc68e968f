"""Lesson 3 (curriculum part 3): a deep network trained end to end, in the article's style.

Data from torchground's generator (circle, noise 0, 50/50) as float tensors in a
``TensorDataset`` and ``DataLoader`` (batch 15, shuffled with a seeded generator), the
2-3-3-1 tanh network, ``discretize``, SGD (lr 0.03, weight decay 0.03), ``nn.MSELoss``,
Xavier initialisation through ``model.apply``, ``train_step`` / ``valid_step``, the epoch
loop, the final ``state_dict``, the loss plot (PNG) and a note on the article's
loss-averaging flaw, computed on the same run.

The plain code gives the same numbers as :func:`torchground.train.trainer.train` with the
default :class:`~torchground.spec.Spec`: the same data, the same initial weights
(``torch.manual_seed(0)`` before building the model, then Xavier through
``model.apply``) and the same batch order (the trainer draws its permutations as a
``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(0))`` does).

Example:
    >>> values = lesson3(step=7, epochs=2, lang="en").step(7).values
    >>> len(values["train_history"]), values["n_batches"]
    (2, 17)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torchground.errors import TorchgroundError
from torchground.lessons.steps import Lesson, LessonResult, Step, check_step, run_lesson

__all__ = ["LESSON3", "PLOT_STEP", "DEFAULT_EPOCHS", "MAX_EPOCHS", "lesson3"]

#: The article trains 100 epochs.
DEFAULT_EPOCHS = 100
#: Most epochs a lesson runs (each prints one line).
MAX_EPOCHS = 1000

_DATA = '''\
import numpy as np
import torch
from torchground.data.datasets import make_dataset, split_dataset

# «data_1»
dataset = make_dataset("circle", n_samples=500, noise=0.0, seed=0)
splits = split_dataset(dataset, 50, 50, 0)  # «data_2»

X_train, y_train = splits.train.points, splits.train.labels  # «data_3»
X_valid, y_valid = splits.val.points, splits.val.labels
print(X_train.shape, y_train.shape, X_valid.shape, y_valid.shape)
print(X_train[:3])
print(y_train[:3])
'''

_LOADERS = '''\
from torch.utils.data import DataLoader, TensorDataset

# «loaders_1»
# «loaders_2»
t_X_train = torch.from_numpy(X_train).float()
t_y_train = torch.from_numpy(y_train).float().view(-1, 1)
t_X_valid = torch.from_numpy(X_valid).float()
t_y_valid = torch.from_numpy(y_valid).float().view(-1, 1)

dataset_train = TensorDataset(t_X_train, t_y_train)  # «loaders_3»
dataset_valid = TensorDataset(t_X_valid, t_y_valid)

BATCH_SIZE = 15  # «loaders_4»
# «loaders_5»
loader_train = DataLoader(dataset_train, batch_size=BATCH_SIZE, shuffle=True,
                          generator=torch.Generator().manual_seed(0))
loader_valid = DataLoader(dataset_valid, batch_size=BATCH_SIZE)

print(len(dataset_train), len(dataset_valid))
print(len(loader_train), len(loader_valid))  # «loaders_6»
print(dataset_train[0])

valid_X, valid_y = next(iter(loader_valid))  # «loaders_7»
print(valid_X.shape, valid_y.shape)
'''

_MODEL = '''\
import torch.nn as nn

INPUT_FEATURES = 2   # «model_1»
LAYER1_NEURONS = 3   # «model_2»
LAYER2_NEURONS = 3   # «model_3»
OUTPUT_RESULTS = 1   # «model_4»

activation1 = torch.nn.Tanh()  # «model_5»
activation2 = torch.nn.Tanh()
acti_out = torch.nn.Tanh()     # «model_6»


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(INPUT_FEATURES, LAYER1_NEURONS)
        self.layer2 = nn.Linear(LAYER1_NEURONS, LAYER2_NEURONS)
        self.layer_out = nn.Linear(LAYER2_NEURONS, OUTPUT_RESULTS)

    def forward(self, x):
        x = activation1(self.layer1(x))
        x = activation2(self.layer2(x))
        x = acti_out(self.layer_out(x))
        return x


def init_parameters(layer):
    if isinstance(layer, nn.Linear):
        nn.init.xavier_uniform_(layer.weight)  # «model_7»
        nn.init.zeros_(layer.bias)             # «model_8»


torch.manual_seed(0)          # «model_9»
model = NeuralNetwork()
model.apply(init_parameters)  # «model_10»
print(model)
print(model.layer1.weight)
initial_state = {k: v.clone() for k, v in model.state_dict().items()}
'''

_DISCRETIZE = '''\
def discretize(proba):
    # «discretize_1»
    return torch.where(proba >= 0.0, 1.0, -1.0)


class Discretize(nn.Module):  # «discretize_2»
    def forward(self, proba):
        return discretize(proba)


outputs = torch.tensor([[-0.7], [-0.1], [0.0], [0.4]])
classes = discretize(outputs)
print(classes.flatten())
classifier = nn.Sequential(model, Discretize())
print(classifier(t_X_valid[:5]).flatten())  # «discretize_3»
'''

_OPTIMIZER = '''\
import torch.optim as optim

LEARNING_RATE = 0.03   # «optimizer_1»
REGULARIZATION = 0.03  # «optimizer_2»

optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE,
                      weight_decay=REGULARIZATION)
criterion = nn.MSELoss()  # «optimizer_3»
print(optimizer)
print(criterion)

# «optimizer_4»
article_optimizers = [
    "Adadelta", "Adagrad", "Adam", "AdamW", "SparseAdam", "Adamax", "ASGD",
    "LBFGS", "RMSprop", "Rprop", "SGD",
]
article_losses = [
    "L1Loss", "MSELoss", "CrossEntropyLoss", "CTCLoss", "NLLLoss",
    "PoissonNLLLoss", "KLDivLoss", "BCELoss", "BCEWithLogitsLoss",
    "MarginRankingLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss",
    "SmoothL1Loss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
    "CosineEmbeddingLoss", "MultiMarginLoss", "TripletMarginLoss",
]
print(all(hasattr(optim, n) for n in article_optimizers),
      all(hasattr(nn, n) for n in article_losses))
'''

_STEPS = '''\
def train_step(train_X, train_y):
    model.train()                      # «steps_1»
    pred_y = model(train_X)            # «steps_2»
    optimizer.zero_grad()              # «steps_3»
    loss = criterion(pred_y, train_y)  # «steps_4»
    loss.backward()                    # «steps_5»
    optimizer.step()                   # «steps_6»

    with torch.no_grad():              # «steps_7»
        discr_y = discretize(pred_y)
        acc = (discr_y == train_y).sum()  # «steps_8»
    return (loss.item(), acc.item())


def valid_step(valid_X, valid_y):
    model.eval()                       # «steps_9»
    with torch.no_grad():              # «steps_10»
        pred_y = model(valid_X)
        loss = criterion(pred_y, valid_y)
        discr_y = discretize(pred_y)
        acc = (discr_y == valid_y).sum()
    return (loss.item(), acc.item())
'''

_TRAIN = '''\
EPOCHS = $epochs  # «train_1»

train_history, valid_history = [], []  # «train_2»
train_acc_history, valid_acc_history = [], []
article_history, batch_mean_history = [], []  # «train_3»

for epoch in range(EPOCHS):
    total_loss = 0.0        # «train_4»
    total_batch_loss = 0.0  # «train_5»
    total_acc = 0
    total_train = 0
    n_batches = 0
    for train_X, train_y in loader_train:
        loss, acc = train_step(train_X, train_y)
        total_loss += loss * len(train_y)  # «train_6»
        total_batch_loss += loss
        total_acc += acc
        total_train += len(train_y)
        n_batches += 1

    total_val_loss = 0.0
    total_val_acc = 0
    total_valid = 0
    for valid_X, valid_y in loader_valid:
        val_loss, val_acc = valid_step(valid_X, valid_y)
        total_val_loss += val_loss * len(valid_y)
        total_val_acc += val_acc
        total_valid += len(valid_y)

    avg_loss = total_loss / total_train  # «train_7»
    avg_acc = total_acc / total_train
    avg_val_loss = total_val_loss / total_valid
    avg_val_acc = total_val_acc / total_valid
    train_history.append(avg_loss)
    valid_history.append(avg_val_loss)
    train_acc_history.append(avg_acc)
    valid_acc_history.append(avg_val_acc)
    # «train_8»
    article_history.append(total_batch_loss / (epoch + 1))
    batch_mean_history.append(total_batch_loss / n_batches)

    print(f"[Epoch {epoch + 1:3d}/{EPOCHS:3d}]"
          f" loss: {avg_loss:.5f}, acc: {avg_acc:.5f}"
          f" val_loss: {avg_val_loss:.5f}, val_acc: {avg_val_acc:.5f}")
'''

_STATE = '''\
final_state = model.state_dict()  # «state_1»
print(final_state)
'''

_PLOT = '''\
from pathlib import Path
from matplotlib.figure import Figure  # «plot_1»
from torchground.atomic import atomic_path

fig = Figure(figsize=(6, 4))
ax = fig.add_subplot()
epochs = range(1, EPOCHS + 1)
ax.plot(epochs, train_history, label="train loss")
ax.plot(epochs, valid_history, label="valid loss")
ax.set_xlabel("epoch")
ax.set_ylabel("MSE loss")
ax.legend()

png_path = Path($out_dir) / "lesson3-loss.png"
with atomic_path(png_path) as tmp:  # «plot_2»
    fig.savefig(tmp, dpi=100)
print(png_path)
'''

_FLAW = '''\
# «flaw_1»
# «flaw_2»
shown = sorted({1, 2, EPOCHS // 2, EPOCHS} & set(range(1, EPOCHS + 1)))
print(f"{'«flaw_epoch»':>5} {'«flaw_sum»':>15} {'«flaw_by_epoch»':>10}"
      f" {'«flaw_by_batches»':>10} {'«flaw_per_sample»':>11}")
flaw_rows = []
for e in shown:
    i = e - 1
    row = (e, article_history[i] * e, article_history[i],
           batch_mean_history[i], train_history[i])
    flaw_rows.append(row)
    print(f"{row[0]:>5} {row[1]:>15.5f} {row[2]:>10.5f}"
          f" {row[3]:>10.5f} {row[4]:>11.5f}")
'''


def _flaw_params(ns: dict) -> dict:
    first, last = ns["flaw_rows"][0], ns["flaw_rows"][-1]
    return {
        "n_batches": ns["n_batches"],
        "first_article": first[2],
        "first_mean": first[4],
        "ratio": first[2] / first[4] if first[4] else float("nan"),
        "last_epoch": last[0],
        "last_article": last[2],
        "last_mean": last[4],
    }


def _plot_params(ns: dict) -> dict:
    return {"path": str(ns["png_path"])}


LESSON3 = Lesson(
    3,
    "lessons.l3",
    (
        Step("lessons.l3.data", _DATA, ("dataset", "splits", "X_train", "y_train", "X_valid", "y_valid")),
        Step(
            "lessons.l3.loaders",
            _LOADERS,
            ("t_X_train", "t_y_train", "t_X_valid", "t_y_valid", "dataset_train", "loader_train", "loader_valid"),
        ),
        Step("lessons.l3.model", _MODEL, ("model", "NeuralNetwork", "init_parameters", "initial_state")),
        Step("lessons.l3.discretize", _DISCRETIZE, ("discretize", "Discretize", "outputs", "classes")),
        Step("lessons.l3.optimizer", _OPTIMIZER, ("optimizer", "criterion", "article_optimizers", "article_losses")),
        Step("lessons.l3.steps", _STEPS, ("train_step", "valid_step")),
        Step(
            "lessons.l3.train",
            _TRAIN,
            (
                "EPOCHS", "train_history", "valid_history", "train_acc_history", "valid_acc_history",
                "article_history", "batch_mean_history", "n_batches", "model",
            ),
        ),
        Step("lessons.l3.state", _STATE, ("final_state",)),
        Step("lessons.l3.plot", _PLOT, ("png_path", "fig"), _plot_params),
        Step("lessons.l3.flaw", _FLAW, ("flaw_rows", "article_history", "batch_mean_history", "train_history"), _flaw_params),
    ),
)

#: The step that writes the loss plot (and so needs an output folder).
PLOT_STEP = 9


def lesson3(
    step: int | None = None,
    lang: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
    out_dir: str | os.PathLike[str] | None = None,
) -> LessonResult:
    """Run lesson 3 (a deep network, trained) and return its steps with their values.

    Args:
        step: run only up to this step (1–10) and return it alone. Default: all steps.
        lang: "en" or "ja". Default: the current language.
        epochs: epochs to train, 1 to :data:`MAX_EPOCHS`. Default: 100, as the article.
        out_dir: folder for the loss plot ``lesson3-loss.png``. Default: a new temporary
            folder.

    Values (``result.step(n).values``): 1 ``dataset``, ``splits``, ``X_train`` …;
    2 the tensors and loaders; 3 ``model``, ``initial_state``; 4 ``discretize``,
    ``classes``; 5 ``optimizer``, ``criterion``; 6 ``train_step``, ``valid_step``;
    7 ``train_history`` (mean loss per sample and epoch), ``valid_history``,
    ``train_acc_history``, ``valid_acc_history``, ``article_history`` (the article's
    Σ batch losses ÷ epoch number), ``batch_mean_history``, ``n_batches``; 8
    ``final_state``; 9 ``png_path``; 10 ``flaw_rows`` (epoch, Σ batch losses, ÷ epoch,
    ÷ batches, per sample).

    Raises:
        TorchgroundError: a step outside 1–10, ``epochs`` outside 1–1000, or an unknown
            language.
    """
    number = check_step(LESSON3, step)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
        raise TorchgroundError("lessons.bad_epochs", value=epochs, max=MAX_EPOCHS)
    if out_dir is None and (number is None or number >= PLOT_STEP):
        out_dir = tempfile.mkdtemp(prefix="torchground-lesson3-")
    settings = {"epochs": epochs, "out_dir": str(Path(out_dir)) if out_dir is not None else ""}
    return run_lesson(LESSON3, number, lang, settings)
