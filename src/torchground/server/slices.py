"""Training in time slices: one epoch of a session's trainer runs in its own thread and stops
at a step boundary once its slice's time is up, so no piece of a session's work holds the
event loop, the work lock or a shared worker thread for long, whatever the spec.

:class:`EpochSlicer` is a :class:`~torchground.train.callbacks.Callback` given to the
session's :class:`~torchground.train.trainer.Trainer`. :meth:`EpochSlicer.run_slice` starts
an epoch (or resumes the one in progress) and returns when it ends (``("done", outcome)``)
or when a step ends after its budget (:data:`SLICE_SECONDS` unless told), or once its
``yield_to`` says other work waits (``("parked", None)``): the epoch's thread
then waits, using no CPU, for the next slice. While it is parked, the model sits between two
steps and other work of the session (frames, edits, live settings) may use it.
:meth:`EpochSlicer.cancel` ends a parked or running epoch at its next step boundary (the
trainer is then mid-epoch: the session builds a new one or goes away).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

from torchground.train.callbacks import Callback

__all__ = ["EpochSlicer", "SLICE_SECONDS"]

#: Longest a slice of training runs before its thread parks (checked between optimiser steps).
SLICE_SECONDS = 0.05


def _never() -> bool:
    return False


class _Cancelled(BaseException):
    """Raised in the epoch's thread, at a step boundary, to end a cancelled epoch."""


class EpochSlicer(Callback):
    """Runs ``work`` (one epoch of training) in slices; see the module docstring.

    Args:
        budget: seconds a slice may run before it parks at the next step boundary.
    """

    def __init__(self, budget: float = SLICE_SECONDS) -> None:
        self.budget = budget
        self._deadline = 0.0
        self._resume = threading.Event()
        self._cancelled = False
        self._thread: threading.Thread | None = None
        self._yield_to: Callable[[], bool] = _never
        self._notify: Callable[[tuple[str, Any]], None] = lambda result: None

    @property
    def in_progress(self) -> bool:
        """Whether an epoch is started and parked (or running)."""
        return self._thread is not None

    async def run_slice(self, work: Callable[[], Any], budget: float | None = None,
                        yield_to: Callable[[], bool] | None = None) -> tuple[str, Any]:
        """Run ``work`` (a new epoch, or the rest of the parked one) for at most one slice.

        Args:
            budget: this slice's seconds (default: the slicer's ``budget``).
            yield_to: asked after every step (in the epoch's thread); when it answers true,
                the slice parks at once, budget left or not.

        Returns:
            ``("done", value)`` with ``work``'s result, ``("error", exc)`` if it raised, or
            ``("parked", None)`` when the slice's time ran out mid-epoch.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[str, Any]] = loop.create_future()

        def notify(result: tuple[str, Any]) -> None:
            def settle() -> None:
                if not answer.done():
                    answer.set_result(result)
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the loop is closed: nobody waits for this slice any more
                pass

        self._notify = notify
        self._yield_to = yield_to or _never
        self._deadline = time.monotonic() + (self.budget if budget is None else budget)
        if self._thread is None:
            self._cancelled = False
            self._thread = threading.Thread(target=self._main, args=(work,), name="torchground-epoch", daemon=True)
            self._thread.start()
        else:
            self._resume.set()
        return await answer

    def cancel(self) -> None:
        """End the epoch in progress at its next step boundary (at once if it is parked)."""
        self._cancelled = True
        self._resume.set()

    def on_batch_end(self, trainer: Any, step: int, loss: float) -> None:
        if self._cancelled:
            raise _Cancelled
        if time.monotonic() < self._deadline and not self._yield_to():
            return
        self._resume.clear()
        self._notify(("parked", None))
        self._resume.wait()
        if self._cancelled:
            raise _Cancelled

    def _main(self, work: Callable[[], Any]) -> None:
        try:
            result: tuple[str, Any] = ("done", work())
        except _Cancelled:
            self._thread = None
            return
        except Exception as exc:  # handed to the session, which reports it
            result = ("error", exc)
        self._thread = None
        self._notify(result)
