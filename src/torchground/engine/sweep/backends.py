"""Where groups run: in this process (``local``) or as Ray tasks (``ray``).

A backend takes the groups (lists of specs) and gives back each group's
:class:`~torchground.engine.stacked.ModelResult` list, calling ``done(models)`` as models
finish. Ray is an optional extra (``pip install "torchground[ray]"``) imported only here,
when the ray backend is used; each group becomes one task, and a task's results are the
same as the local backend's (a group's numbers do not depend on where it runs).

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

__all__ = ["BACKENDS", "Backend", "LocalBackend", "RayBackend", "get_backend", "run_group"]

Progress = Callable[[float], None]


def run_group(specs: Sequence[Spec], progress: Callable[[int, int], None] | None = None, compile: bool = False) -> list[ModelResult]:
    """Train one group (what a Ray task runs)."""
    return StackedGroup(list(specs), compile=compile).run(progress)


class Backend(abc.ABC):
    """Runs groups; ``done(n)`` is told each time ``n`` more models (maybe fractional) are done.

    ``compile``: compile each group's epochs with ``torch.compile`` (see :class:`StackedGroup`).
    """

    name = "?"

    def __init__(self, compile: bool = False) -> None:
        self.compile = compile

    @abc.abstractmethod
    def run(self, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        """Train every group and return each group's results, in order."""


class LocalBackend(Backend):
    """The groups one after another in this process; progress per epoch."""

    name = "local"

    def run(self, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        out = []
        for specs in groups:
            last = [0.0]

            def progress(epoch: int, epochs: int, size: int = len(specs)) -> None:
                now = size * epoch / epochs
                done(now - last[0])
                last[0] = now

            out.append(run_group(specs, progress, self.compile))
            done(len(specs) - last[0])
        return out


class RayBackend(Backend):
    """Each group a Ray task (``ray.init()`` with defaults unless Ray is already running)."""

    name = "ray"

    def __init__(self, compile: bool = False, **init_args: Any) -> None:
        super().__init__(compile)
        self.init_args = init_args

    def run(self, groups: Sequence[Sequence[Spec]], done: Progress) -> list[list[ModelResult]]:
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(**{"include_dashboard": False, "log_to_driver": False, **self.init_args})
        task = ray.remote(run_group)
        refs = [task.remote(list(specs), None, self.compile) for specs in groups]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[list[ModelResult] | None] = [None] * len(refs)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                i = index[ref]
                results[i] = ray.get(ref)
                done(len(groups[i]))
        return [r for r in results if r is not None]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise TorchgroundError("engine.ray_missing") from None
    return ray


BACKENDS: dict[str, type[Backend]] = {"local": LocalBackend, "ray": RayBackend}


def get_backend(name: str, **options: Any) -> Backend:
    """The backend called ``name`` (local or ray)."""
    if name not in BACKENDS:
        raise TorchgroundError("engine.unknown_backend", value=name, allowed=", ".join(BACKENDS))
    return BACKENDS[name](**options)
