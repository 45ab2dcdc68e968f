"""What a group of models starts from: data and initial weights, per model (the batch orders
are :mod:`~torchground.engine.batch_orders`'s).

Each is made exactly as the eager trainer makes it, once per distinct source and shared
by the models that agree on it (a sweep over learning rates has one data set and one set
of initial weights per seed):

* data: :func:`~torchground.train.run.make_data` and :func:`~torchground.train.run.to_tensors`
  of the spec; stacked to (M, N, F) when the models' data differ, (1, N, F) when shared.
* initial weights: what :func:`~torchground.model.build_model` gives — ``nn.Linear``'s
  construction draws, then the initialiser's, from a generator seeded with
  ``init_seed`` — drawn on a ``torch.Generator`` without building modules, straight with
  ``nn.init``'s bounds where a check against its own calls (the registry's,
  :func:`~torchground.registry.init_layer`) passes once per shape, else by those calls
  (tested equal for every initialiser).

Example:
    >>> from torchground.spec import Spec
    >>> from torchground.model import build_model
    >>> spec = Spec(init_seed=3)
    >>> flat = torch.cat([p.detach().flatten() for p in build_model(spec).parameters()])
    >>> torch.equal(initial_params(spec), flat)
    True
"""

from __future__ import annotations

import functools
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
    if _draws_agree(sizes, name):  # the usual case: the same numbers, a quarter of the calls
        return _drawn(spec.init_seed, sizes, name).to(getattr(torch, spec.dtype))
    return _replayed(spec.init_seed, sizes, name).to(getattr(torch, spec.dtype))


def _replayed(seed: int, sizes: Sequence[int], name: str) -> Tensor:
    """The initial parameters (float32) by ``nn.Linear``'s and the initialiser's own ``nn.init`` calls."""
    g = torch.Generator().manual_seed(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):  # nn.Linear.__init__ → reset_parameters
        w, b = torch.empty(fan_out, fan_in), torch.empty(fan_out)  # float32, as modules are built
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(b, -bound, bound, generator=g)
        layers.append((w, b))
    for w, b in layers:  # model.apply(init): the linear layers in order, from the same generator
        init_layer(name, w, b, g)
    return torch.cat([t.flatten() for wb in layers for t in wb])


# Why our own: a sweep makes thousands of initial weight sets, and ``nn.init``'s wrappers
# (gain and fan computations, a no-grad context per call) cost more than the draws
# themselves. :func:`_drawn` makes the same draws straight on the generator, with the
# bounds ``nn.init`` computes (its formulas, written out below); :func:`_draws_agree`
# holds it to :func:`_replayed` once per process and shape, so a torch that computes them
# differently gets the replay.
_SQRT3 = math.sqrt(3.0)


def _weight_draw(fn: str, args: tuple[float, ...], kwargs: dict[str, str], fan_in: int, fan_out: int) -> tuple[float, float] | float | None:
    """What the ``nn.init`` call ``fn(weight, *args, **kwargs)`` does to a (fan_out, fan_in)
    weight: a uniform draw's (low, high), a constant, or None where it is not written out here."""
    if fn == "xavier_uniform_" and not args and not kwargs:
        a = _SQRT3 * (1.0 * math.sqrt(2.0 / float(fan_in + fan_out)))
        return (-a, a)
    if fn == "kaiming_uniform_" and not args and kwargs == {"nonlinearity": "relu"}:
        bound = _SQRT3 * (math.sqrt(2.0) / math.sqrt(fan_in))
        return (-bound, bound)
    if fn == "uniform_" and len(args) == 2 and not kwargs:
        return (float(args[0]), float(args[1]))
    if fn == "constant_" and len(args) == 1 and not kwargs:
        return float(args[0])
    if fn == "zeros_" and not args and not kwargs:
        return 0.0
    return None


def _drawn(seed: int, sizes: Sequence[int], name: str) -> Tensor:
    """:func:`_replayed`'s numbers by direct draws on one flat tensor (float32), in parameter order."""
    g = torch.Generator().manual_seed(seed)
    flat = torch.empty(sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:])))
    layers, at = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = flat[at : at + fan_in * fan_out].view(fan_out, fan_in)
        b = flat[at + fan_in * fan_out : at + fan_in * fan_out + fan_out]
        at += fan_in * fan_out + fan_out
        gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))  # kaiming_uniform_(a=√5): leaky_relu's gain
        bound = _SQRT3 * (gain / math.sqrt(fan_in))
        w.uniform_(-bound, bound, generator=g)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        b.uniform_(-bound, bound, generator=g)
        layers.append((w, b, fan_in, fan_out))
    steps = INIT_STEPS[name]
    for w, b, fan_in, fan_out in layers if steps else ():
        for (fn, args, kwargs), t in zip(steps, (w, b)):
            draw = _weight_draw(fn, args, kwargs, fan_in, fan_out)
            if isinstance(draw, tuple):
                t.uniform_(*draw, generator=g)
            else:
                t.fill_(draw)  # _draws_agree ruled out None
    return flat


@functools.lru_cache(maxsize=256)
def _draws_agree(sizes: tuple[int, ...], name: str) -> bool:
    """Whether :func:`_drawn` gives :func:`_replayed`'s numbers for these layer sizes and initialiser."""
    steps = INIT_STEPS[name] or ()
    if any(_weight_draw(fn, args, kwargs, 1, 1) is None for fn, args, kwargs in steps):
        return False
    return all(torch.equal(_drawn(seed, sizes, name), _replayed(seed, sizes, name)) for seed in (0, 1, 12345))


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
