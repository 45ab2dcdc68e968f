"""The eager trainer: the curriculum's train-step / valid-step inside fit → epoch → step.

Readable first: an ``nn.Module``, a ``torch.optim`` optimiser and a loss, used exactly as
the curriculum teaches. Fast by default all the same: the data sit in memory as tensors
and each epoch's batches are slices of one permuted copy, instead of a ``DataLoader``
collating single samples. The permutation is drawn with the same generator calls a
``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(shuffle_seed))``
makes, so both walk the points in the same order and give the same numbers. Any
``DataLoader`` may be passed instead (``train_loader=``).

Example:
    >>> from torchground.spec import Spec
    >>> run = train(Spec(epochs=3))
    >>> run.history.epochs, run.history.status
    (3, 'completed')
    >>> sorted(run.history.last)[:3]
    ['epoch', 'lr', 'test_acc']
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from torchground.data.datasets import Splits
from torchground.model import build_model, discretize, weight_parameters
from torchground.registry import OPTIMIZERS
from torchground.spec import Spec
from torchground.train.callbacks import Callback, EarlyStopping
from torchground.train.history import History
from torchground.train.lr_schedule import LRSchedule
from torchground.train.metrics import add_class_metrics, r2
from torchground.train.playground_loop import PlaygroundLoop, trainer_epoch
from torchground.train.run import (
    Run,
    build_loss,
    build_optimizer,
    divergence_message,
    intra_op_threads,
    make_data,
    resolve_device,
    summarize,
    to_tensors,
)
from torchground.train.threads import threads_for

__all__ = ["Trainer", "train"]


class Trainer:
    """Train a model as the spec says. See the module docstring.

    Args:
        spec: the experiment.
        model: a model to train (default :func:`build_model` of the spec).
        data: the splits (default :func:`make_data` of the spec).
        callbacks: :class:`~torchground.train.callbacks.Callback` objects.
        train_loader: an optional ``DataLoader`` yielding ``(x (B, F), y (B, 1))`` to use
            instead of the built-in in-memory batching.
    """

    def __init__(
        self,
        spec: Spec,
        model: nn.Module | None = None,
        data: Splits | None = None,
        callbacks: Sequence[Callback] = (),
        train_loader: Iterable[Any] | None = None,
    ) -> None:
        self.spec = spec
        self.device = resolve_device(spec.device)
        self.dtype = getattr(torch, spec.dtype)
        self.data = data if data is not None else make_data(spec)
        self.model = (model if model is not None else build_model(spec)).to(self.device, self.dtype)
        self.optimizer = build_optimizer(spec, self.model.parameters(), fast=True)
        self.criterion = build_loss(spec)
        self.callbacks = list(callbacks)
        if spec.patience is not None:
            self.callbacks.append(EarlyStopping(spec.patience, spec.min_delta, spec.restore_best))
        if spec.scheduler is not None:  # the learning-rate schedule, stepped after each epoch
            self.callbacks.append(LRSchedule(self))
        self._batch_callbacks = [c for c in self.callbacks if type(c).on_batch_end is not Callback.on_batch_end]
        self.train_loader = train_loader
        self.sets = {
            name: to_tensors(getattr(self.data, name), spec.features, self.dtype, self.device)
            for name in ("train", "val", "test")
        }
        self.n_train = self.sets["train"][0].shape[0]
        self.batch_size = self.n_train if spec.batch_size == "full" else spec.batch_size
        self.generator = torch.Generator().manual_seed(spec.shuffle_seed)
        self.history = History(spec.problem or "classification", classes=spec.classes or 2)
        self.should_stop = False
        self.epoch = 0
        self._weights = weight_parameters(self.model)
        self._params = list(self.model.parameters())
        self._dead = [torch.zeros_like(w, dtype=torch.bool) for w in self._weights] if spec.l1 > 0 else []
        self._is_classification = self.history.problem == "classification"
        self._needs_closure = OPTIMIZERS.get(spec.optimizer).info["needs_closure"]
        self._train_sst = self._sum_squares(self.sets["train"][1])
        # TensorFlow Playground's loop (training_loop = "tf-playground"), else the optimiser's
        self._tf_loop = (
            PlaygroundLoop(self.model, spec.lr, self.batch_size, spec.l1, spec.l2) if spec.training_loop == "tf-playground" else None
        )

    # Settings that may change while training, as the Playground lets the learning rate change.
    LIVE_FIELDS = frozenset({"lr", "weight_decay", "l1", "l2", "optimizer_args"})

    def update_hyperparameters(self, spec: Spec) -> None:
        """Carry on with ``spec``'s lr, weight_decay, l1, l2 and optimizer_args; weights are kept.

        Every other field must equal the current spec's (a new shape or data set needs a
        new trainer). A change of ``optimizer_args`` builds a new optimiser, since switches
        such as ``amsgrad`` change the state it keeps.
        """
        changed = {f for f in type(spec).model_fields if getattr(spec, f) != getattr(self.spec, f)}
        if changed - self.LIVE_FIELDS:
            raise ValueError(f"only {sorted(self.LIVE_FIELDS)} can change while training, not {sorted(changed - self.LIVE_FIELDS)}")
        if spec.optimizer_args != self.spec.optimizer_args:
            self.optimizer = build_optimizer(spec, self.model.parameters(), fast=True)
        for group in self.optimizer.param_groups:
            group["lr"] = spec.lr
            if "weight_decay" in group:
                group["weight_decay"] = spec.weight_decay
        self.spec = spec
        if self._tf_loop is not None:
            self._tf_loop.set_hyperparameters(spec.lr, spec.l1, spec.l2)
        if spec.l1 > 0 and not self._dead:  # the Playground's L1 rule keeps a mask of dead weights
            self._dead = [torch.zeros_like(w, dtype=torch.bool) for w in self._weights]
        elif spec.l1 == 0:
            self._dead = []

    # -- the curriculum's two steps ---------------------------------------------------------
    def loss_of(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Data loss plus the Playground's L1/L2 penalties on weights (not biases)."""
        loss = self.criterion(pred, y)
        if self.spec.l1:
            loss = loss + self.spec.l1 * sum(w.abs().sum() for w in self._weights)
        if self.spec.l2:
            loss = loss + self.spec.l2 * 0.5 * sum((w * w).sum() for w in self._weights)
        return loss

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a batch: forward, zero_grad, loss, backward, step.

        Shape:
            x (B, F), y (B, 1) → (data loss (scalar, before the step), predictions (B, 1)).
        """
        if not self.model.training:
            self.model.train()
        if self._needs_closure:
            return self._closure_step(x, y)
        pred = self.model(x)  # (B, 1)
        self.zero_grad()
        data_loss = self.criterion(pred, y)
        loss = data_loss if not (self.spec.l1 or self.spec.l2) else self.loss_of(pred, y)
        if not math.isfinite(loss.item()):  # a diverged step is not applied
            return data_loss.detach(), pred.detach()
        loss.backward()
        self._optimizer_step()
        return data_loss.detach(), pred.detach()

    def zero_grad(self) -> None:
        """``optimizer.zero_grad()``: every gradient back to ``None`` (PyTorch's default).

        Done over a list of the parameters kept once, since walking the module tree for
        them each step costs more than the rest of a tiny network's step.
        """
        for p in self._params:
            p.grad = None

    def _optimizer_step(self, closure: Any = None) -> None:
        if not self._dead:
            self.optimizer.step(closure)
            return
        before = [w.detach().clone() for w in self._weights]
        self.optimizer.step(closure)
        with torch.no_grad():  # Playground L1 rule: a weight that crosses 0 is set to 0 and stays dead
            for w, dead, b in zip(self._weights, self._dead, before):
                dead |= (torch.sign(w) * torch.sign(b)) < 0
                w[dead] = 0.0

    def _closure_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first: list[torch.Tensor] = []

        def closure() -> torch.Tensor:  # LBFGS re-evaluates the loss several times per step
            self.zero_grad()
            pred = self.model(x)
            loss = self.loss_of(pred, y)
            loss.backward()
            if not first:
                first.extend([self.criterion(pred, y).detach(), pred.detach()])
            return loss

        self._optimizer_step(closure)
        return first[0], first[1]

    @torch.no_grad()
    def valid_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float | None]:
        """Loss and accuracy (or RMSE and R²) of the model on a whole set, in eval mode."""
        if x.shape[0] == 0:
            return {"loss": None, "acc": None, "rmse": None, "r2": None}
        self.model.eval()
        pred = self.model(x)  # (N, 1)
        out: dict[str, float | None] = {"loss": float(self.criterion(pred, y))}
        if self._is_classification:
            out["acc"] = int((discretize(pred) == y).sum()) / y.shape[0]
        else:
            out["rmse"] = float(torch.sqrt(torch.mean((pred - y) ** 2)))
            out["r2"] = r2(pred, y)
        return out

    # -- the loop ---------------------------------------------------------------------------
    def batches(self) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """This epoch's training batches, in the order a shuffled ``DataLoader`` would give."""
        if self.train_loader is not None:
            for xb, yb in self.train_loader:
                yield xb.to(self.device, self.dtype), yb.to(self.device, self.dtype).reshape(-1, 1)
            return
        x, y = self.sets["train"]
        # The same generator calls as DataLoader: its iterator draws a base seed, then
        # RandomSampler draws a permutation for the epoch and one more when exhausted.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        order = torch.randperm(self.n_train, generator=self.generator).to(self.device) if self.spec.shuffle else None
        bs = self.batch_size
        for start in range(0, self.n_train, bs):
            # Each batch is a fresh tensor, as DataLoader's are: CPU matmul kernels can round
            # differently on a view that starts at an unaligned address (e.g. 5 features).
            if order is None:
                yield x[start : start + bs].clone(), y[start : start + bs].clone()
            else:
                idx = order[start : start + bs]
                yield x.index_select(0, idx), y.index_select(0, idx)  # (B, F), (B, 1)
        if self.spec.shuffle:
            torch.randperm(self.n_train, generator=self.generator)

    def run_epoch(self) -> dict[str, Any] | None:
        """Train one epoch and evaluate; returns its history row (``None`` if it diverged).

        Per step only the loss is read back (to stop at the first non-finite one); the
        epoch's training accuracy / RMSE is computed once from the kept predictions.
        """
        self.epoch += 1
        for cb in self.callbacks:
            cb.on_epoch_start(self, self.epoch)
        if self._tf_loop is not None:
            tf_row = trainer_epoch(self, self._tf_loop)
            return None if tf_row is None else self._finish_epoch(tf_row)
        start_params = [p.detach().clone() for p in self._params]
        start_opt = self._optimizer_snapshot()
        loss_sum, done = 0.0, []
        for xb, yb in self.batches():
            loss, pred = self.train_step(xb, yb)
            value = float(loss)
            if not math.isfinite(value):
                self._diverged(value, start_params, start_opt, done)
                return None
            loss_sum += value * yb.shape[0]
            done.append((xb, yb, pred))
            self.history.steps += 1
            for cb in self._batch_callbacks:
                cb.on_batch_end(self, self.history.steps, value)
        return self._finish_epoch(self._row(loss_sum, done))

    def _finish_epoch(self, row: dict[str, Any]) -> dict[str, Any]:
        """Record the epoch's row, the best epoch so far, and tell the callbacks."""
        self.history.rows.append(row)
        best = self.history.best_epoch  # same rule as early stopping: better by more than min_delta
        if best is None or self.history.monitored(row) < self.history.monitored(self.history.rows[best - 1]) - self.spec.min_delta:
            self.history.best_epoch = row["epoch"]
        for cb in self.callbacks:
            cb.on_epoch_end(self, row)
        return row

    def fit(self, epochs: int | None = None) -> History:
        """Run ``epochs`` (default ``spec.epochs``) epochs; Ctrl-C ends the run as "interrupted"."""
        self.history.status = "running"
        for cb in self.callbacks:
            cb.on_fit_start(self)
        with torch.random.fork_rng(devices=[]), intra_op_threads(self._threads()):
            torch.manual_seed(self.spec.shuffle_seed)  # for stochastic modules (RReLU)
            try:
                for _ in range(epochs if epochs is not None else self.spec.epochs):
                    if self.run_epoch() is None or self.should_stop:
                        break
            except KeyboardInterrupt:
                self.history.status = "interrupted"
        if self.history.status == "running":
            self.history.status = "completed"
        for cb in self.callbacks:
            cb.on_fit_end(self, self.history)
        return self.history

    # -- for front ends ---------------------------------------------------------------------
    def run(self, epochs: int | None = None, wall_s: float = 0.0) -> Run:
        """:meth:`fit` timed, and the :class:`Run` it makes (its summary included).

        ``epochs`` as for :meth:`fit`; ``wall_s``: seconds an earlier part of the same run
        already took (a resumed run), added to this part's.
        """
        start = time.perf_counter()
        history = self.fit(epochs)
        wall = wall_s + time.perf_counter() - start
        return Run(self.spec, self.model, self.data, history, summarize(self.spec, history, wall, self.device))

    def evaluate(self) -> dict[str, Any]:
        """A row of the history's columns measured now on the model as it stands.

        Every set in eval mode, the training set too (so ``train_loss`` is the loss of the
        current weights over the whole training set, not the running mean of an epoch's
        steps); ``epoch`` is the number of epochs finished. Nothing is trained or recorded.

        >>> from torchground.spec import Spec
        >>> row = Trainer(Spec(epochs=1)).evaluate()
        >>> row["epoch"], 0 <= row["train_acc"] <= 1, row["test_loss"]  # the default spec has no test set
        (0, True, None)
        """
        row: dict[str, Any] = {c: None for c in self.history.columns}
        row["epoch"] = self.history.epochs
        return self._measure(row, ("train", "val", "test"))

    def metrics_row(self) -> dict[str, Any]:
        """The last epoch's history row (a copy); before the first epoch, :meth:`evaluate`."""
        return dict(self.history.last) if self.history.rows else self.evaluate()

    def clear_stop(self) -> None:
        """Let a trainer that stopped (it diverged, or early stopping stopped it) train on.

        After a divergence the trainer holds the last finite weights and ``epoch`` counts
        the failed epoch; this puts ``epoch`` back to the epochs finished, the status back
        to ``running`` and clears the message and ``should_stop``, so that the next
        :meth:`run_epoch` (or :meth:`fit`) goes on from there. Early stopping's callback
        keeps its count: without improvement it stops again after the next epoch.
        """
        self.should_stop = False
        self.epoch = self.history.epochs
        self.history.status = "running"
        self.history.message = None

    # -- helpers ----------------------------------------------------------------------------
    def _threads(self) -> int | None:
        """The intra-op threads (:func:`~torchground.train.threads.threads_for`: a step's
        operation is the batch's rows × the widest layer, as in the stacked engine); None off the CPU."""
        widest = max([self.spec.n_inputs, *self.spec.hidden, 1])
        return threads_for(int(self.batch_size) * widest, self.device.type)

    def _row(self, loss_sum: float, done: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> dict[str, Any]:
        row: dict[str, Any] = {c: None for c in self.history.columns}
        row["epoch"] = self.epoch
        seen = sum(int(yb.shape[0]) for _, yb, _ in done)
        row["train_loss"] = loss_sum / max(1, seen)
        if done:
            pred = torch.cat([p for _, _, p in done])  # (N, 1), predictions made before each step
            y = torch.cat([yb for _, yb, _ in done])  # (N, 1)
            if self._is_classification:
                row["train_acc"] = int((discretize(pred) == y).sum()) / seen
            else:
                sse = float(((pred - y) ** 2).sum())
                row["train_rmse"] = math.sqrt(sse / seen)
                row["train_r2"] = 1 - sse / self._train_sst if self._train_sst > 0 else float("nan")
        row = self._measure(row, ("val", "test"))
        if self.history.classes > 2:  # K classes: per-class precision and recall, confusion matrices
            self.history.keep_confusion(self.epoch, add_class_metrics(row, self._class_sets(done), self.history.classes))
        return row

    @torch.no_grad()
    def _class_sets(self, done: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """(outputs, targets) per set: training outputs as trained, the others now, in eval mode."""
        sets = {"train": (torch.cat([p for _, _, p in done]), torch.cat([yb for _, yb, _ in done]))} if done else {}
        self.model.eval()
        for name in ("val", "test"):
            x, y = self.sets[name]
            if x.shape[0]:
                sets[name] = (self.model(x), y)
        return sets

    def _measure(self, row: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
        """Fill ``row``'s columns of the sets ``names`` with :meth:`valid_step`, and the lr."""
        for name in names:
            metrics = self.valid_step(*self.sets[name])
            for key, value in metrics.items():
                if f"{name}_{key}" in row:
                    row[f"{name}_{key}"] = value
        row["lr"] = float(self.optimizer.param_groups[0]["lr"])
        return row

    @staticmethod
    def _sum_squares(y: torch.Tensor) -> float:
        return float(((y - y.mean()) ** 2).sum()) if y.numel() else 0.0

    def _diverged(self, value: float, start_params: list[torch.Tensor], start_opt: dict[str, Any], done: list[Any]) -> None:
        """Stop at a non-finite loss and put back the last state whose weights were all finite.

        The failing step was not applied, so the weights are those that produced the
        non-finite loss; if they are finite they are kept. If they are not (an earlier
        update overflowed, or LBFGS's inner iterations went astray), nothing having been
        copied per step, the epoch's starting weights and optimiser state are put back and
        the epoch's finished steps replayed (same batches, same results) while the
        weights stay finite.
        """
        if self._needs_closure or not self._finite():  # LBFGS has already applied its step
            with torch.no_grad():
                for p, s in zip(self._params, start_params):
                    p.copy_(s)
            self.optimizer.load_state_dict(start_opt)
            for xb, yb, _ in done:
                kept = [p.detach().clone() for p in self._params]
                kept_opt = self._optimizer_snapshot()
                self.train_step(xb, yb)
                if not self._finite():
                    with torch.no_grad():
                        for p, s in zip(self._params, kept):
                            p.copy_(s)
                    self.optimizer.load_state_dict(kept_opt)
                    break
        self.history.status = "diverged"
        self.history.message = divergence_message(self.spec, self.epoch, self.history.steps + 1, value)
        info = self.history.message[1]
        for cb in self.callbacks:
            cb.on_diverged(self, info)

    def _optimizer_snapshot(self) -> dict[str, Any]:
        """A copy of the optimiser's state (tensors cloned; cheaper than ``deepcopy``)."""
        sd = self.optimizer.state_dict()
        state = {k: {n: v.clone() if torch.is_tensor(v) else copy.copy(v) for n, v in st.items()} for k, st in sd["state"].items()}
        return {"state": state, "param_groups": [dict(g) for g in sd["param_groups"]]}

    def _finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self._params)


def train(spec: Spec | None = None, callbacks: Sequence[Callback] = (), **overrides: Any) -> Run:
    """Train the spec's model on the spec's data and return the :class:`Run`.

    ``overrides`` are applied to ``spec`` (default :class:`Spec()`) with ``Spec.replace``.
    """
    spec = (spec or Spec()).replace(**overrides) if overrides else (spec or Spec())
    return Trainer(spec, callbacks=callbacks).run()
