"""CPU, with ``compile=True``: an epoch's steps and its metrics in one C function of our
own, every step fused (:mod:`~torchground.engine.kernels.fused_steps` has the scope and the tables it reads).

Why our own kernel: TorchInductor's C++ for the models-last step
(:mod:`~torchground.engine.kernels.dispatch`) set the CPU's pace, for many models and for one.

* Many models: Inductor's loops recompute each tanh in every consumer of the layer and
  pass every layer through memory, whatever its tuning options; here each unit's
  activation is computed once and stays in registers (``bench/engine_parts.py`` compares
  the two; figures in ``bench/RESULTS.md``).
* One model: a compiled call costs Dynamo's guards and the AOT wrapper on top of the
  kernel, twice an epoch (steps, metrics); here one ``ctypes`` call.

Its element-wise rules (activations, loss gradient, penalties, optimiser updates, L1's
dead-weight rule) are not written here: :func:`source` writes them in from
:mod:`~torchground.engine.kernels.rules` at ``native.c``'s ``@RULES@`` line.

``native.c`` keeps a vector of ``VB`` models (one AVX-512 register, or two AVX2
ones) through the whole epoch: parameters and optimiser state stay in registers and the
first-level cache, each unit's activation is computed once, and the epoch's table of
:func:`~torchground.engine.epoch.epoch_stats` (step losses, training metrics, then each
evaluation set's after the epoch) is written by the same call. It is compiled per group
configuration (widths, activations, optimiser, batch size, points per epoch and the
metrics' shape as constants, so the compiler unrolls the small loops) with the machine's C
compiler, as Inductor's C++ is, and cached on disk
(:mod:`~torchground.engine.kernels.build_cache`). It is loaded with :mod:`ctypes` and
spreads the models over OpenMP's threads — the runtime torch already loaded, so no second
pool competes for the cores (a Python thread pool beside torch's spinning OpenMP workers
slowed the steps). A machine without a compiler, or a build that fails, leaves the group
to Inductor
(:class:`~torchground.engine.kernels.dispatch.CompiledEpoch` warns), as does a first epoch that
disagrees with the eager steps.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch

from torchground.engine.kernels.build_cache import build as build_source
from torchground.engine.kernels.build_cache import cache_dir, cpu_flags
from torchground.engine.kernels.fused_steps import OPTS, FusedSteps, Metrics
from torchground.engine.kernels.generated import save
from torchground.engine.kernels.rule_text import c_source
from torchground.engine.net import StackedNet
from torchground.train.threads import intra_op_threads, kernel_threads

__all__ = ["NativeSteps", "Args", "build", "source", "cache_dir"]

Tensor = torch.Tensor

SOURCE = Path(__file__).with_name("native.c")
#: For fewer than twice this many models, the epoch runs in the calling thread alone.
MIN_MODELS_PER_THREAD = 64
#: ``native.c`` is built in three parts side by side (the steps' forward halves, their backward
#: halves, the rest), which shortens a first run's wait for the compiler where cores are free.
PARTS = 3


def _vector_width() -> int:
    """Models per vector: 16 floats where AVX-512 is there, else 8."""
    return 16 if " avx512f" in cpu_flags() else 8


def source() -> str:
    """``native.c`` with the element-wise rules of :mod:`~torchground.engine.kernels.rules`
    written in (:func:`~torchground.engine.kernels.rule_text.c_source`) at its ``@RULES@`` line."""
    template = SOURCE.read_text()
    assert template.count(_MARK) == 1
    return template.replace(_MARK, c_source())


_MARK = "/* @RULES@ */"


def build(defines: dict[str, object]) -> ctypes.CDLL:
    """:func:`source` compiled with ``defines`` (see :func:`~torchground.engine.kernels.build_cache.build`).

    Raises:
        BuildError: no C compiler, or the compiler failed (its exit status and first error line attached).
    """
    lib = build_source(save(source(), "native", ".c"), defines, "steps", "the fused steps", PARTS)
    lib.tg_epoch.argtypes = [ctypes.c_void_p]
    lib.tg_epoch.restype = ctypes.c_int
    return lib


class Args(ctypes.Structure):
    """``native.c``'s ``Args``: pointers and sizes of one epoch's tensors."""

    _fields_ = [
        *((name, ctypes.c_void_p) for name in ("p", "s1", "s2", "dead", "x", "y", "order", "pred", "hp", "sk", "stats", "train_sst")),
        ("sst_per_model", ctypes.c_int64), ("M", ctypes.c_int64), ("order_stride", ctypes.c_int64), ("data_per_model", ctypes.c_int64),
        ("ex", ctypes.c_void_p * 2), ("ey", ctypes.c_void_p * 2), ("esst", ctypes.c_void_p * 2),
        ("en", ctypes.c_int64 * 2), ("ed", ctypes.c_int64 * 2),
    ]


class NativeSteps(FusedSteps):
    """:class:`~torchground.engine.kernels.fused_steps.FusedSteps` by ``native.c``'s ``tg_epoch``,
    which also measures the epoch (the table of :func:`~torchground.engine.epoch.epoch_stats`).

    Args:
        twin: the models-last twin (see the base class), on the CPU.
        vector: models per vector (default: 16 with AVX-512, else 8; 8 for 8 models or
            fewer, whose epoch is bound by latency, where fewer lanes were faster).
    """

    gathers = True  # reads the training data and the epoch's order: no eager gather

    def __init__(self, twin: StackedNet, vector: int | None = None) -> None:
        super().__init__(twin)
        self.vector = vector or (min(8, _vector_width()) if twin.params.shape[1] <= 8 else _vector_width())
        self._fn: Any = None  # tg_epoch built for self._built_for
        self._built_for: tuple[Any, ...] | None = None
        # The epoch's Args, made (and checked) once for the tensors that stay from epoch to
        # epoch; only the order, outputs, Adam's scalars and the table change: a few fields
        # set per call instead of the whole structure (a one-model epoch is short).
        self._args: Args | None = None
        self._args_for: tuple[Any, ...] = ()
        self._keep: list[Tensor] = []  # tensors the cached Args point into

    def defines(self, n: int, batch: int, shared: bool, sets: int, classify: bool) -> dict[str, object]:
        """The compile-time constants of this group's kernel (see ``native.c``)."""
        layout = self.twin._layout()
        sizes = self.twin.sizes
        return {
            "NL": len(layout), "SIZES_INIT": "{" + ",".join(map(str, sizes)) + "}",
            "OFFS_INIT": "{" + ",".join(str(w_off) for w_off, *_ in layout) + "}",
            "NP": self.twin.params.shape[0], "W": max(sizes), "N": n, "B": batch, "REST": n % batch, "VB": self.vector,
            "MIN_BLOCKS": max(1, MIN_MODELS_PER_THREAD // self.vector),
            "SHARED": int(shared), "HID": self.hid, "OUT": self.out, "HALF": int(self.half), "OPT": OPTS[self.kind],
            "MOMENTUM": int(self.momentum), "NESTEROV": int(self.nesterov), "DECOUPLED": int(self.decoupled),
            "L2": int(self.twin.l2 is not None), "L1": int(self.l1), "CLASSIFY": int(classify), "NE": sets,
        }

    def _launch(
        self, data: tuple[Tensor, ...], pred: Tensor, sk: Tensor, n: int, batch: int, shared: bool, metrics: Metrics | None
    ) -> Tensor:
        x, y, order = data
        twin = self.twin
        M = twin.params.shape[1]
        evals, train_sst, classify = metrics if metrics is not None else ((), torch.zeros(1, dtype=torch.float64), False)
        assert len(evals) <= 2, "the kernel measures up to two evaluation sets (validation, test)"
        key = (n, batch, shared, len(evals), classify)
        if self._built_for != key:
            self._fn, self._built_for = build(self.defines(*key)).tg_epoch, key
        S = -(-n // batch)
        stats = torch.empty(M, S + (1 + len(evals)) * (2 if classify else 3), dtype=torch.float64)
        # The same tensors as last epoch (the group's data, the twin's state): the same Args.
        stable = (x, y, train_sst, twin.params, self.s1, self.s2, self.hp, self.dead, *(t for e in evals for t in e[1:]))
        if len(stable) != len(self._args_for) or any(a is not b for a, b in zip(stable, self._args_for)):
            self._args, self._keep = self._make_args(x, y, evals, train_sst, M, n)
            self._args_for = stable
        args = self._args
        assert args is not None and order.dtype == torch.int64 and order.stride(1) == 1 and order.shape == (M, n)
        assert pred.is_contiguous() and pred.dtype == torch.float32 and sk.is_contiguous() and sk.dtype == torch.float32
        args.order, args.order_stride = order.data_ptr(), order.stride(0)
        args.pred, args.sk, args.stats = pred.data_ptr(), sk.data_ptr(), stats.data_ptr()
        # the epoch is one parallel call whose results do not depend on the count (train/threads.py)
        with intra_op_threads(kernel_threads(M >= 2 * MIN_MODELS_PER_THREAD)):
            if self._fn(ctypes.byref(args)):
                raise MemoryError("the fused steps could not allocate their scratch memory")
        return stats

    def _make_args(self, x: Tensor, y: Tensor, evals: Any, train_sst: Tensor, M: int, n: int) -> tuple[Args, list[Tensor]]:
        """The Args of the tensors that stay from epoch to epoch, checked (the per-epoch fields
        are set by :meth:`_launch`), and the tensors they point into (kept alive with them)."""
        twin = self.twin
        sets = [(ex.contiguous(), ey.contiguous(), sst.to(torch.float32).contiguous()) for _, ex, ey, sst in evals]
        train_sst = train_sst.to(torch.float64).contiguous()
        x, y = x.contiguous(), y.contiguous()
        assert all(t.is_contiguous() and t.dtype == torch.float32 and t.device.type == "cpu"
                   for t in (twin.params, self.s1, self.s2, x, y, self.hp))
        assert x.shape[1] == n
        assert self.dead is None or (self.dead.is_contiguous() and self.dead.shape == twin.params.shape)
        dead = self.dead.data_ptr() if self.dead is not None else None
        args = Args(twin.params.data_ptr(), self.s1.data_ptr(), self.s2.data_ptr(), dead, x.data_ptr(), y.data_ptr(),
                    None, None, self.hp.data_ptr(), None, None, train_sst.data_ptr(),
                    int(train_sst.shape[0] > 1), M, 0, int(x.shape[0] > 1))
        for i, (ex, ey, sst) in enumerate(sets):
            assert ex.dtype == torch.float32 and ey.dtype == torch.float32
            args.ex[i], args.ey[i], args.esst[i] = ex.data_ptr(), ey.data_ptr(), sst.data_ptr()
            args.en[i], args.ed[i] = ex.shape[1], int(ex.shape[0] > 1)
        return args, [x, y, train_sst, *(t for s in sets for t in s)]
