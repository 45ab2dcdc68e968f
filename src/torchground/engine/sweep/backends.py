"""Where groups run: in this process (``local``) or as Ray tasks on a cluster (``ray``).

A backend takes the groups (lists of specs) and gives back each group's
:class:`~torchground.engine.stacked.ModelResult` list, calling ``done(models)`` as models
finish; after a run, :attr:`Backend.report` holds what it has to say about where the work
ran (``None`` for ``local``; for ``ray`` the tasks, nodes and retries, see
:mod:`~torchground.engine.sweep.ray_backend`). Ray is an optional extra
(``pip install "torchground[ray]"``), imported only when the ray backend runs. A model's
results are the same whichever backend trains it.

Example:
    >>> from torchground.spec import Spec
    >>> results = get_backend("local").run([[Spec(epochs=1)]], lambda n: None)
    >>> [[r.status for r in group] for group in results]
    [['completed']]
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Sequence

from torchground.engine.stacked import ModelResult, StackedGroup
from torchground.errors import TorchgroundError
from torchground.spec import Spec

__all__ = ["BACKENDS", "Backend", "LocalBackend", "get_backend", "run_group", "import_ray"]

Progress = Callable[[float], None]

#: The backends' names.
BACKENDS = ("local", "ray")


def run_group(
    specs: Sequence[Spec], progress: Callable[[int, int], None] | None = None, compile: bool = False, fused: bool = True
) -> tuple[list[ModelResult], str]:
    """Train one group → its results and :attr:`~torchground.engine.stacked.StackedGroup.path`."""
    group = StackedGroup(list(specs), compile=compile, fused=fused)
    return group.run(progress), group.path


class Backend(abc.ABC):
    """Runs groups; ``done(n)`` is told each time ``n`` more models (maybe fractional) are done.

    ``compile``: compile each group's epochs (fused kernels, else ``torch.compile``, see
    :class:`StackedGroup`); ``fused``: our fused kernels where they cover a group (the
    default), else the eager engine. After a run, :attr:`paths` has each group's path
    where the backend knows it (else None).
    """

    name = "?"

    def __init__(self, compile: bool = False, fused: bool = True) -> None:
        self.compile = compile
        self.fused = fused
        self.report: dict[str, Any] | None = None
        self.paths: list[str] | None = None

    @abc.abstractmethod
    def run(self, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        """Train every group and return each group's results, in order."""


class LocalBackend(Backend):
    """The groups one after another in this process; progress per epoch."""

    name = "local"

    def run(self, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        out, self.paths = [], []
        for specs in groups:
            last = [0.0]

            def progress(epoch: int, epochs: int, size: int = len(specs)) -> None:
                now = size * epoch / epochs
                done(now - last[0])
                last[0] = now

            results, path = run_group(specs, progress, self.compile, self.fused)
            out.append(results)
            self.paths.append(path)
            done(len(specs) - last[0])
        return out


def import_ray() -> Any:
    """The ``ray`` module, or an error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise TorchgroundError("engine.ray_missing") from None
    return ray


def get_backend(name: str, **options: Any) -> Backend:
    """The backend called ``name`` (local or ray) made with ``options``."""
    if name == "local":
        return LocalBackend(**options)
    if name == "ray":
        from torchground.engine.sweep.ray_backend import RayBackend

        return RayBackend(**options)
    raise TorchgroundError("engine.unknown_backend", value=name, allowed=", ".join(BACKENDS))
