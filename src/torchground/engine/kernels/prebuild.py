"""The fused C kernel of a group built ahead of its first fused epoch, and ``torchground warmup``.

A group's kernel (:mod:`~torchground.engine.kernels.native`) is compiled for its
configuration (widths, activations, optimiser, batch size, points, metrics), which is known
once its net is made, before its data are. :func:`start_build` computes the kernel's
compile-time constants then and runs the compiler (a subprocess) in a thread while the
data are made; the first fused epoch asks for the same library and waits for that build
instead of starting its own (:func:`~torchground.engine.kernels.build_cache.build` holds a
lock). A build that fails here is left to the first fused epoch, which reports it and
falls back. :func:`warm` builds the kernels of :data:`WARM_SHAPES` into the user's cache
(``torchground warmup``), so that a first run finds them built.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from torchground.engine.kernels.build_cache import library_name, private_cache, reason
from torchground.engine.kernels.fused_steps import FusedSteps
from torchground.engine.net import StackedNet
from torchground.spec import Spec

__all__ = ["Prebuild", "kernel_defines", "start_build", "start_sweep_build", "warm", "WARM_SHAPES"]

#: The shapes ``torchground warmup`` builds: (label, base spec, model counts). One model
#: (``train --engine fast``) and a sweep's group (more than 8 models, one build for any
#: larger count), with one batch order for all and with a shuffle seed per model.
WARM_SHAPES: tuple[tuple[str, Spec, tuple[int, ...]], ...] = (
    ("2-3-3-1", Spec(), (1, 16)),
    ("2-8-8-1", Spec(hidden=(8, 8), batch_size=10), (1, 16)),
    ("2-4-2-1", Spec(hidden=(4, 2), batch_size=10, lr=0.03, weight_decay=0.0, loss="half_mse", shuffle=False,
                     val_pct=0, test_pct=50), (1, 16)),
)


@dataclass
class Prebuild:
    """One kernel build started by :func:`start_build`.

    Attributes:
        defines: the kernel's compile-time constants.
        name: the library's file name in the cache.
        cached: whether a library of that name was in the cache before the build.
        error: why the build failed (the first fused epoch will say it too), or None.
        seconds: how long the build took (once done).
    """

    defines: dict[str, object]
    name: str
    cached: bool
    thread: threading.Thread | None = None
    error: str | None = None
    seconds: float = 0.0
    _start: float = field(default_factory=time.perf_counter)

    def wait(self) -> "Prebuild":
        """Wait for the build to finish; → self."""
        if self.thread is not None:
            self.thread.join()
        return self

    def _run(self) -> None:
        from torchground.engine.kernels.native import build

        try:
            build(self.defines)
        except Exception as exc:  # no compiler, a failed build: the first fused epoch says so and falls back
            self.error = reason(exc)
        self.seconds = time.perf_counter() - self._start


def kernel_defines(net: StackedNet, n: int, batch: int, shared: bool, sets: int, classify: bool) -> dict[str, object] | None:
    """The compile-time constants of the fused C kernel that will train ``net`` (models first)
    on ``n`` points per epoch, or None where the kernel does not cover it."""
    from torchground.engine.kernels.native import NativeSteps

    twin = net.models_last()
    if not FusedSteps.covers(twin):
        return None
    return NativeSteps(twin).defines(n, batch, shared, sets, classify)


def start_build(net: StackedNet, n: int, batch: int, shared: bool, sets: int, classify: bool) -> Prebuild | None:
    """Start building the kernel of :func:`kernel_defines` in a thread; None where the kernel
    does not cover ``net`` or no C compiler is there (the first fused epoch then says so)."""
    from torchground.engine.kernels.native import PARTS, SOURCE, source
    from torchground.engine.kernels.generated import save

    defines = kernel_defines(net, n, batch, shared, sets, classify)
    if defines is None:
        return None
    try:
        name, _ = library_name(save(source(), SOURCE.stem, SOURCE.suffix), defines, "steps", PARTS)
    except RuntimeError:  # no C compiler
        return None
    pre = Prebuild(defines, name, (private_cache() / name).is_file())
    if not pre.cached:
        # Not a daemon: a run that ends before its first fused epoch still leaves the library whole in the cache.
        pre.thread = threading.Thread(target=pre._run, name="torchground-kernel-build")
        pre.thread.start()
    return pre


#: Grid fields that leave a sweep in one group of its base spec's shape (the kernel's constants
#: do not depend on them); of these, the ones that give each model its own data or batch order.
SAME_KERNEL = frozenset({"lr", "init_seed", "seed", "shuffle_seed", "noise", "weight_decay"})
OWN_ORDERS = frozenset({"seed", "shuffle_seed", "noise"})


def start_sweep_build(base: Spec, fields: Sequence[str], models: int) -> Prebuild | None:
    """Start building the kernel that a sweep of ``models`` settings of ``base`` varying
    ``fields`` will ask for, before its specs are made (``sweep`` starts it while the grid is
    expanded); None where the grid may change the kernel (another field) or it does not apply."""
    from torchground.engine.data import initial_params
    from torchground.engine.results import split_sizes

    if not set(fields) <= SAME_KERNEL or base.device not in ("cpu", "auto") or base.scheduler or base.dtype != "float32":
        return None
    try:
        spec = base
        specs = [spec] * min(models, 9)  # one model, up to 8 (one vector's width), or more
        net = StackedNet.build(specs, initial_params(spec).unsqueeze(0).expand(len(specs), -1).contiguous(), torch.float32, "cpu")
        n_train, n_val, n_test = split_sizes(spec)
        batch = n_train if spec.batch_size == "full" else int(spec.batch_size)
        shared = not set(fields) & OWN_ORDERS
        return start_build(net, n_train, batch, shared, int(n_val > 0) + int(n_test > 0), (spec.problem or "classification") == "classification")
    except Exception:  # a guess only: the groups build what they need themselves
        return None


def warm(
    shapes: Sequence[tuple[str, Spec, tuple[int, ...]]] | None = None, report: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """Build the fused kernels of ``shapes`` (default :data:`WARM_SHAPES`) and the C batch
    orders into the cache, one after another; → one record per kernel: shape, models,
    shared (one batch order), library, built (False: it was there already), seconds, error.
    ``report`` is called with each record as it is done."""
    from torchground.engine.batch_orders import agrees_with_torch, torch_orders
    from torchground.engine.stacked import StackedGroup

    records = []
    for label, base, counts in WARM_SHAPES if shapes is None else shapes:
        for models in counts:
            for shared in (True, False) if models > 1 else (True,):
                specs = [base.replace(init_seed=i, shuffle_seed=0 if shared else i) for i in range(models)]
                pre = StackedGroup(specs, fused=True)._prebuild
                if pre is None:
                    continue
                pre.wait()
                record = {"shape": label, "models": models, "shared": shared, "library": pre.name, "built": not pre.cached,
                          "seconds": round(pre.seconds, 3), "error": pre.error}
                records.append(record)
                if report is not None:
                    report(record)
    agrees_with_torch(torch_orders)  # builds the batch orders' library (and checks it on this machine)
    return records
