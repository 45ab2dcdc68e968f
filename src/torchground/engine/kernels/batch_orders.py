"""Batch orders of many models drawn in C: ``batch_orders.c``, for
:class:`~torchground.engine.data.BatchOrders` of compiled groups.

Why: each model's order must be the one its ``DataLoader`` would draw (the engine agrees
with the trainer epoch by epoch), so each distinct shuffle seed keeps a ``torch.Generator``
and draws three times an epoch. For 1024 distinct seeds those 3072 calls took about 10 ms
an epoch, twice the fused kernel's whole epoch of steps and metrics. ``batch_orders.c``
holds the generators' MT19937 streams itself and draws every order of an epoch in one
call, spread over OpenMP's threads.

It reproduces torch's CPU generator, whose algorithm is stable but not a public contract:
:func:`agrees_with_torch` compares the two on a probe once per process, and where they
differ (or no C compiler is there) the orders are drawn by torch, as for eager groups.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from torchground.engine.kernels.build_cache import build

__all__ = ["NativeOrders", "agrees_with_torch"]

SOURCE = Path(__file__).with_name("batch_orders.c")
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
