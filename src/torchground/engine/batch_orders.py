"""Each model's order of the training points, epoch by epoch, as its ``DataLoader`` draws it.

* :class:`BatchOrders` — a group's orders: per distinct ``(shuffle_seed, shuffle)`` a
  ``torch.Generator`` that draws what ``DataLoader(shuffle=True,
  generator=torch.Generator().manual_seed(shuffle_seed))`` draws each epoch (see
  :meth:`~torchground.train.trainer.Trainer.batches`).
* :class:`NativeOrders` — the same draws in C (``kernels/batch_orders.c``), for compiled
  groups with many distinct seeds: one call an epoch instead of three generator calls per
  seed. ``batch_orders.c`` holds the generators' MT19937 streams itself and draws every
  order of an epoch in one call, spread over OpenMP's threads.

The C draws reproduce torch's CPU generator, whose algorithm is stable but not a public
contract: :func:`agrees_with_torch` compares the two on a probe once per process, and where
they differ (or no C compiler is there) the orders are drawn by torch, as for eager groups.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from torchground.engine.kernels.build_cache import build
from torchground.spec import Spec

__all__ = ["BatchOrders", "NativeOrders", "agrees_with_torch", "torch_orders", "NATIVE_MIN_KEYS"]

Tensor = torch.Tensor
SOURCE = Path(__file__).parent / "kernels" / "batch_orders.c"
class BatchOrders:
    """Each model's training-point order per epoch, drawn as a shuffled DataLoader draws it.

    One ``torch.Generator`` per distinct ``(shuffle_seed, shuffle)``; every epoch it draws
    the DataLoader iterator's base seed, the epoch's permutation, and the permutation the
    sampler starts when it is exhausted.

    ``native=True`` (compiled groups): with :data:`NATIVE_MIN_KEYS` distinct keys or more,
    the same draws come from :class:`NativeOrders` (C, one call an epoch), where it agrees
    with torch on this machine; else from torch.
    """

    def __init__(self, specs: Sequence[Spec], n: int, native: bool = False) -> None:
        self.n = n
        keys = [(s.shuffle_seed, s.shuffle) for s in specs]
        self.keys = sorted(set(keys))
        self.model_keys = keys
        self._which: Tensor | None = None
        self._native: Any = None
        if native and len(self.keys) >= NATIVE_MIN_KEYS:
            if agrees_with_torch(torch_orders):
                self._native = NativeOrders([k[0] for k in self.keys], n)
                self._shuffle = np.array([k[1] for k in self.keys])
        self.generators = {} if self._native is not None else {k: torch.Generator().manual_seed(k[0]) for k in self.keys}
        self._seed, self._spare = torch.empty((), dtype=torch.int64), torch.empty(n, dtype=torch.int64)  # draws thrown away

    @property
    def native(self) -> bool:
        """Whether the orders are drawn in C."""
        return self._native is not None

    def select(self, idx: list[int]) -> None:
        """Keep the orders of models ``idx`` only (generators no model uses any more stop)."""
        self.model_keys = [self.model_keys[i] for i in idx]
        keys = sorted(set(self.model_keys))
        if self._native is not None:
            position = {k: i for i, k in enumerate(self.keys)}
            self._native.select([position[k] for k in keys])
            self._shuffle = np.array([k[1] for k in keys])
        self.keys = keys
        self._which = None

    def next_epoch(self) -> tuple[Tensor, Tensor]:
        """The next epoch's orders: the distinct ones (K, N) and which one each model uses (M,).

        Kept apart so that a shared order crosses to the device once, not M times.
        """
        if self._native is not None:
            perms = self._native.draw(self._shuffle)
        else:
            drawn = []
            for key in self.keys:
                g = self.generators[key]
                self._seed.random_(generator=g)  # DataLoader iterator's base seed
                if key[1]:
                    drawn.append(torch.randperm(self.n, generator=g))
                    torch.randperm(self.n, generator=g, out=self._spare)  # RandomSampler's draw when exhausted
                else:
                    drawn.append(torch.arange(self.n))
            perms = drawn[0].unsqueeze(0) if len(drawn) == 1 else torch.stack(drawn)
        if self._which is None:
            position = {k: i for i, k in enumerate(self.keys)}
            self._which = torch.tensor([position[k] for k in self.model_keys], dtype=torch.int64)
        return perms, self._which

    def orders(self) -> Tensor:
        """:meth:`next_epoch` as one (M, N) tensor."""
        perms, which = self.next_epoch()
        return perms.index_select(0, which)


#: Fewest distinct shuffle keys for which a compiled group draws its orders in C.
NATIVE_MIN_KEYS = 16


def torch_orders(keys: list[tuple[int, bool]], n: int, epochs: int) -> list[Tensor]:
    """``epochs`` epochs of :class:`BatchOrders` drawn by torch for ``keys`` (shuffle seed,
    shuffle) → one (K, n) tensor per epoch: the reference the C draws are checked against."""
    orders = BatchOrders([Spec(shuffle_seed=seed, shuffle=shuffle) for seed, shuffle in keys], n)
    return [orders.orders() for _ in range(epochs)]


# --- the same draws in C -----------------------------------------------------------------
_WORDS = 625  # a stream: 624 state words, then the index of the next word


@functools.cache
def _library() -> ctypes.CDLL:
    lib = build(SOURCE, {}, "orders", "the batch orders")
    lib.tg_seed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.tg_epoch_orders.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    return lib


class NativeOrders:
    """The MT19937 streams of ``torch.Generator().manual_seed(s)`` for each of ``seeds``,
    drawn as a ``DataLoader`` over ``n`` points draws them each epoch.

    Raises:
        RuntimeError: the library could not be built (no C compiler, …).
    """

    def __init__(self, seeds: Sequence[int], n: int) -> None:
        self.n = n
        self.streams = np.zeros((len(seeds), _WORDS), dtype=np.uint32)
        values = np.asarray(seeds, dtype=np.int64)
        _library().tg_seed(self.streams.ctypes.data, values.ctypes.data, len(values))

    def draw(self, shuffle: np.ndarray) -> torch.Tensor:
        """One epoch of every stream → (K, n) int64: the permutation where ``shuffle`` (K,) bool, else 0 … n − 1."""
        K = self.streams.shape[0]
        flags = np.ascontiguousarray(shuffle, dtype=np.uint8)
        perms = torch.empty(K, self.n, dtype=torch.int64)
        _library().tg_epoch_orders(self.streams.ctypes.data, flags.ctypes.data, K, self.n, perms.data_ptr())
        return perms

    def select(self, rows: Sequence[int]) -> None:
        """Keep the streams ``rows`` only, in that order."""
        self.streams = np.ascontiguousarray(self.streams[list(rows)])


@functools.cache
def agrees_with_torch(reference: Callable[[list[tuple[int, bool]], int, int], list[torch.Tensor]]) -> bool:
    """Whether :class:`NativeOrders` draws what ``reference(keys, n, epochs)`` (torch's
    generators, one (K, n) tensor per epoch) draws, on a probe of three keys over three
    epochs; False where the library cannot be built."""
    keys, n, epochs = [(0, True), (5, False), (4_000_000_007, True)], 29, 3
    try:
        native = NativeOrders([k[0] for k in keys], n)
        shuffle = np.array([k[1] for k in keys])
        mine = [native.draw(shuffle) for _ in range(epochs)]
    except RuntimeError:
        return False
    return all(torch.equal(a, b) for a, b in zip(mine, reference(keys, n, epochs)))
