"""One kernel build per node: a file lock that the first task of a group configuration holds
through its first epochs, while the node's other tasks of that configuration wait.

With ``compile``, a group's kernels (the fused C steps, or Triton's) are built during its
first fused epochs and cached on the node's disk. Tasks of one sweep that start together
on a node would all build the same kernels at once; :func:`build_turn` lets the first one
build (it holds ``<config>.lock`` until :data:`BUILD_EPOCHS` epochs have run, then leaves
``<config>.built`` beside it) and the others wait, then find the kernels in the cache.
The folder is the node's Ray session folder, so the marks go with the session.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["build_turn", "BUILD_EPOCHS"]

#: Epochs after which a group's kernels are built: the first fused epoch is the first, or
#: the second for SGD with momentum (one eager epoch first).
BUILD_EPOCHS = 2


@contextlib.contextmanager
def build_turn(folder: Path, config: str) -> Iterator[Callable[[int, int], None] | None]:
    """Wait for this node's build of ``config`` (a lock file in ``folder``), or take it.

    Yields None when the kernels were already built on this node (by another task);
    otherwise a progress callback for :meth:`~torchground.engine.stacked.StackedGroup.run`
    that marks the build done and lets the waiting tasks go once :data:`BUILD_EPOCHS` epochs
    (or all of a shorter run's) have run. Left early (an error, every model diverged), the lock is
    released without the mark and the next task takes the turn.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = folder / f"{config}.built"
    if done.exists():
        yield None
        return
    with open(folder / f"{config}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another task of this node builds
        try:
            if done.exists():
                fcntl.flock(lock, fcntl.LOCK_UN)
                yield None
                return
            held = [True]

            def progress(epoch: int, total: int) -> None:
                if held[0] and epoch >= min(total, BUILD_EPOCHS):
                    done.touch()
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    held[0] = False

            yield progress
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
