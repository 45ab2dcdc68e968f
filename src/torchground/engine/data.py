"""What a group of models starts from: data and initial weights, per model (the batch orders
are :mod:`~torchground.engine.batch_orders`'s).

Each is made exactly as the eager trainer makes it, once per distinct source and shared
by the models that agree on it (a sweep over learning rates has one data set and one set
of initial weights per seed):

* data: :func:`~torchground.train.run.make_data` and :func:`~torchground.train.run.to_tensors`
  of the spec; stacked to (M, N, F) when the models' data differ, (1, N, F) when shared.
* initial weights: what :func:`~torchground.model.build_model` gives — ``nn.Linear``'s
  construction draws, then the initialiser's, from a generator seeded with
  ``init_seed`` — replayed on a ``torch.Generator`` without building modules (tested
  equal for every initialiser; the initialiser's calls are the registry's own,
  :func:`~torchground.registry.init_layer`).

Example:
    >>> from torchground.spec import Spec
    >>> from torchground.model import build_model
    >>> spec = Spec(init_seed=3)
    >>> flat = torch.cat([p.detach().flatten() for p in build_model(spec).parameters()])
    >>> torch.equal(initial_params(spec), flat)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from torchground.data.datasets import Splits
from torchground.data.spec_data import n_outputs
from torchground.model import build_model
from torchground.registry import INIT_STEPS, INITS, init_layer
from torchground.spec import Spec
from torchground.train.run import make_data, to_tensors

__all__ = ["GroupData", "initial_params", "data_key"]

Tensor = torch.Tensor


# --- initial weights ------------------------------------------------------------------------
def initial_params(spec: Spec) -> Tensor:
    """The initial parameters of ``build_model(spec)`` as one flat row, in ``spec.dtype``.

    Shape: (P,), ordered as ``model.parameters()``.
    """
    sizes = (spec.n_inputs, *spec.hidden, n_outputs(spec))  # K outputs for K classes
    name = INITS.canonical(spec.init)
    if name not in INIT_STEPS:  # an initialiser added to the registry without its calls as data: build the model
        model = build_model(spec)
        return torch.cat([p.detach().flatten() for p in model.parameters()])
    g = torch.Generator().manual_seed(spec.init_seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):  # nn.Linear.__init__ → reset_parameters
        w, b = torch.empty(fan_out, fan_in), torch.empty(fan_out)  # float32, as modules are built
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(b, -bound, bound, generator=g)
        layers.append((w, b))
    for w, b in layers:  # model.apply(init): the linear layers in order, from the same generator
        init_layer(name, w, b, g)
    return torch.cat([t.flatten() for wb in layers for t in wb]).to(getattr(torch, spec.dtype))


# --- data -----------------------------------------------------------------------------------
def data_key(spec: Spec) -> tuple[Any, ...]:
    """Specs with equal keys have identical data tensors."""
    return (spec.dataset, spec.n_samples, spec.noise, spec.seed, spec.train_pct, spec.val_pct, spec.test_pct, spec.features, spec.dtype)


@dataclass
class GroupData:
    """The data of a group's models.

    Attributes:
        splits: each model's :class:`~torchground.data.datasets.Splits` (shared objects where equal).
        sets: ``{"train"|"val"|"test": (x (D, N, F), y (D, N, 1))}`` with D = 1 when every
            model has the same data, else M.
        train_sst: (D,) float64 sum of squares of the training labels about their mean (R²).
    """

    splits: list[Splits]
    sets: dict[str, tuple[Tensor, Tensor]]
    train_sst: Tensor

    @classmethod
    def build(cls, specs: Sequence[Spec], dtype: torch.dtype, device: torch.device) -> "GroupData":
        cache: dict[tuple[Any, ...], tuple[Splits, dict[str, tuple[Tensor, Tensor]]]] = {}
        for spec in specs:
            key = data_key(spec)
            if key not in cache:
                splits = make_data(spec)
                sets = {name: to_tensors(getattr(splits, name), spec.features, dtype) for name in ("train", "val", "test")}
                cache[key] = (splits, sets)
        per_model = [cache[data_key(s)] for s in specs]
        shared = len(cache) == 1
        chosen = per_model[:1] if shared else per_model
        sets = {
            name: (
                torch.stack([c[1][name][0] for c in chosen]).to(device),  # (D, N, F)
                torch.stack([c[1][name][1] for c in chosen]).to(device),  # (D, N, 1)
            )
            for name in ("train", "val", "test")
        }
        y = sets["train"][1]  # the trainer's float(((y - y.mean()) ** 2).sum()), in the data dtype
        sst = ((y - y.mean(dim=1, keepdim=True)) ** 2).sum(dim=(1, 2)).to(torch.float64) if y.shape[1] else torch.zeros(y.shape[0], dtype=torch.float64, device=device)
        return cls([c[0] for c in per_model], sets, sst)

    @property
    def shared(self) -> bool:
        return self.sets["train"][0].shape[0] == 1

    def select(self, idx: Tensor) -> "GroupData":
        """The data of the models ``idx`` (a no-op for shared data)."""
        if self.shared:
            return GroupData([self.splits[i] for i in idx.tolist()], self.sets, self.train_sst)
        sets = {k: (x.index_select(0, idx), y.index_select(0, idx)) for k, (x, y) in self.sets.items()}
        return GroupData([self.splits[i] for i in idx.tolist()], sets, self.train_sst.index_select(0, idx))
