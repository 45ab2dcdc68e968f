"""How many intra-op threads a CPU run uses: one rule for the eager trainer and the stacked engine.

PyTorch (and our fused C kernel, which shares torch's OpenMP pool) splits an operation
over its threads and waits at the end for the last of them. When another process holds a
core, the thread on that core waits for the scheduler, and every split operation waits with
it: for the playground's tiny operations that wait is far longer than the operation itself,
so a run of thousands of them slows down many times more than the share of CPU it lost
(measured in ``bench/busy.py``; figures in ``bench/RESULTS.md``).

The rule: split only work that gives each thread at least :data:`GRAIN` elements between two
synchronisations — many scheduler time slices of work per thread, so that a thread waiting
for a descheduled sibling loses a small part of the run. Callers give their work between
two synchronisations (:func:`threads_for`):

* the eager trainer: one step's operation, the batch's rows × the widest layer;
* the stacked engine, eager steps: one operation, models × batch × the widest layer
  (its fused kernel: :func:`kernel_threads`, below).

Deterministic by construction: the count depends only on the work's size and the cores
this process may run on (:func:`cores`, its CPU affinity), never on the measured load, so
the same spec and seeds on the same machine always run with the same count. (The stacked
engine's results are also bitwise the same for any count — the fused kernel computes each
model in one thread, and the eager steps' batched products and per-model sums keep their
order; ``tests/train/test_threads.py`` holds both to it — while the eager trainer's large
reductions may round differently when split.)

The one exception, :func:`kernel_threads`, is for work whose results cannot depend on the
count: the fused kernel's epoch, which hands whole vectors of models to threads as they
come free (OpenMP's dynamic schedule). It takes the cores no other process is using at that
moment (:func:`others_running`), so an idle machine gets every core and a busy one a single
thread that waits for no sibling.

``TORCHGROUND_THREADS`` overrides the rule: a whole number of threads for all CPU training,
or ``auto`` (the rule; also when unset). A forced count other than the rule's may change the
float rounding of large reductions in the eager trainer.

Example:
    >>> rule(10_000, cores=2), rule(2 * GRAIN, cores=2), rule(64 * GRAIN, cores=4)
    (1, 2, 4)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping

import torch

from torchground.errors import TorchgroundError

__all__ = ["ENV", "GRAIN", "MAX_THREADS", "cores", "forced", "intra_op_threads", "kernel_threads", "others_running", "rule", "threads_for"]

#: Elements each thread must get between two synchronisations before work is split.
GRAIN = 1 << 25
#: The environment variable that overrides the rule.
ENV = "TORCHGROUND_THREADS"
#: The largest count ``TORCHGROUND_THREADS`` accepts.
MAX_THREADS = 1024


def cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not every OS has affinities
        return max(1, os.cpu_count() or 1)


def rule(work: int, cores: int) -> int:
    """Threads for ``work`` elements between two synchronisations on ``cores`` cores:
    one thread per :data:`GRAIN` elements, at least one, at most one per core."""
    return max(1, min(cores, int(work) // GRAIN))


def forced(environ: Mapping[str, str] | None = None) -> int | None:
    """The count ``TORCHGROUND_THREADS`` forces, or None (unset, empty or ``auto``: the rule).

    Raises:
        TorchgroundError: ``threads.bad_env`` for anything but ``auto`` or a whole number
            from 1 to :data:`MAX_THREADS`, naming the value.
    """
    value = (os.environ if environ is None else environ).get(ENV, "").strip()
    if value.lower() in ("", "auto"):
        return None
    if value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_THREADS:
        return int(value)
    raise TorchgroundError("threads.bad_env", name=ENV, value=value, most=MAX_THREADS)


def threads_for(work: int, device_type: str = "cpu") -> int | None:
    """The intra-op threads for CPU work of ``work`` elements between two synchronisations
    (see the module docstring); None off the CPU (the device's own parallelism)."""
    if device_type != "cpu":
        return None
    n = forced()
    return n if n is not None else rule(work, cores())


#: Where Linux says how many tasks are runnable, and lists this process's threads.
LOADAVG, TASKS = "/proc/loadavg", "/proc/self/task"


def others_running() -> int:
    """Threads of other processes running or waiting for a core right now: the kernel's count
    of runnable tasks (``/proc/loadavg``, Linux) less this process's own; 0 where the OS does not say."""
    try:
        with open(LOADAVG) as f:
            runnable = int(f.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir(TASKS):
            try:
                with open(os.path.join(TASKS, task, "stat")) as f:
                    stat = f.read()
            except OSError:  # the thread ended meanwhile
                continue
            own += stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "R"  # the state follows the name
        return max(0, runnable - own)
    except (OSError, ValueError, IndexError):
        return 0


#: Seconds a reading of :func:`others_running` is reused for (a reading lists this process's threads).
_FRESH_S = 0.05
_reading: list[float] = [-1.0, 0.0]  # when, and the free cores then


def kernel_threads(splittable: bool = True) -> int:
    """Threads for work whose results do not depend on the count (see the module docstring):
    ``TORCHGROUND_THREADS`` if set, else the machine's cores no other process uses now, at most
    those this process may run on (at least one); one where the work cannot be split
    (``splittable`` False), without looking.

    The runnable count is the whole machine's (in a container, often the host's), so on a
    busy host a process confined to a few idle cores may get fewer threads than it could use;
    and two such calls running at once in one process each see the other's threads as its
    own."""
    n = forced()
    if n is not None or not splittable:
        return n or 1
    now = time.monotonic()
    if now - _reading[0] > _FRESH_S:  # the machine's idle cores, as many as this process may use
        _reading[:] = [now, max(1, min(cores(), (os.cpu_count() or 1) - others_running()))]
    return int(_reading[1])


@contextlib.contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (``None``: leave as is), then restore."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
