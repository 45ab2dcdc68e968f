"""Sharing the CPU between sessions: a fixed number of turns at once, interactive work first.

Every piece of a session's CPU work (a slice of training, a frame, a rebuild) runs during a
*turn* of the server's one :class:`Scheduler`: at most ``workers`` turns are held at once
(one per usable CPU by default). Waiting requests are served in two lanes:

* the *interactive* lane (a tab's ``init``, ``step``, ``pause``, edits, settings: what a user
  waits for) is served first, and while interactive work waits or runs no play turn starts,
  so it has the CPU to itself (but see :data:`MAX_STREAK`);
* the *play* lane (slices of the play loops) is served in arrival order; a play loop asks
  again after each slice, so the playing sessions take turns round robin and each gets a fair
  share of the CPU, not a core of its own.

A running play slice does not hold its turn against interactive work: the session's
:class:`~torchground.server.slices.EpochSlicer` asks :meth:`SessionWork.should_yield`
(:attr:`Scheduler.interactive_active`) between optimiser steps and parks at once when it is
true. When more sessions play than there are workers, a play slice's time budget shrinks
(:meth:`Scheduler.play_budget`), so a round of all playing sessions stays short whatever
their specs. A ``step`` (or a save finishing an epoch) is interactive for its first
:data:`STEP_SLICES` slices, then goes on in the play lane. A session takes its turns through
:class:`SessionWork`, its work lock.

Scheduling decides only *when* a session's work runs, never what it is: each session still
takes the same steps in the same order.

The scheduler is thread-safe and serves event loops of any thread (a test client may run
each WebSocket on a loop of its own): a waiter is woken on its own loop.

Example:
    >>> import asyncio
    >>> async def demo():
    ...     s = Scheduler(workers=1)
    ...     async with s.turn(interactive=False):
    ...         return s.busy
    >>> asyncio.run(demo())
    1
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator

from torchground.server.slices import SLICE_SECONDS

__all__ = ["Scheduler", "SessionWork", "MIN_SLICE_SECONDS", "MAX_STREAK", "PROGRESS_FRAME_SECONDS", "STEP_SLICES", "usable_cpus"]

#: Shortest budget of a play slice, however many sessions play (a slice still ends at a step).
MIN_SLICE_SECONDS = 0.005
#: Interactive turns given in a row while play waits before play gets the next one.
MAX_STREAK = 4
#: Slices of a ``step`` served as interactive work (a busy CPU may need several for a small
#: epoch); the rest of a longer epoch goes in the play lane, so a slow spec's step cannot hold
#: the interactive lane.
STEP_SLICES = 10
#: While playing, a slice that ends mid-epoch sends a frame if the last one is at least this
#: old (a playing tab's share of the CPU goes to training, not to frames nobody can see).
PROGRESS_FRAME_SECONDS = 0.1


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS says, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class _Waiter:
    __slots__ = ("loop", "future", "interactive", "granted")

    def __init__(self, loop: asyncio.AbstractEventLoop, interactive: bool) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.interactive = interactive
        self.granted = False


class Scheduler:
    """At most ``workers`` turns at once; interactive requests first, play requests in arrival order.

    While interactive work waits or runs, no play turn starts (the interactive work has the
    CPU to itself), except that after :data:`MAX_STREAK` interactive turns given while play
    waited, the next free turn goes to play: a tab sending requests without pause slows the
    playing tabs down but cannot stop them.

    Args:
        workers: turns held at once (default: :func:`usable_cpus`).
        target: a play slice's budget while no more sessions play than there are workers.
    """

    def __init__(self, workers: int | None = None, target: float = SLICE_SECONDS) -> None:
        self.workers = workers if workers is not None else usable_cpus()
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        self.target = target
        self.busy = 0  # turns held
        self.interactive_busy = 0  # of which interactive
        self.playing = 0
        self._streak = 0  # interactive turns given since play last got one, while play waited
        self._lock = threading.Lock()
        self._interactive: deque[_Waiter] = deque()
        self._play: deque[_Waiter] = deque()

    @property
    def interactive_waiting(self) -> bool:
        """Whether an interactive request waits for a turn."""
        return bool(self._interactive)

    @property
    def interactive_active(self) -> bool:
        """Whether interactive work waits or runs (a play slice then parks at its next step)."""
        return bool(self._interactive) or self.interactive_busy > 0

    @property
    def waiting(self) -> tuple[int, int]:
        """Requests waiting: (interactive, play)."""
        return len(self._interactive), len(self._play)

    def play_budget(self) -> float:
        """Time budget of one play slice: ``target``, or while more sessions play than there
        are workers, ``target · workers / playing`` (at least :data:`MIN_SLICE_SECONDS`)."""
        if self.playing <= self.workers:
            return self.target
        return max(MIN_SLICE_SECONDS, self.target * self.workers / self.playing)

    @contextlib.contextmanager
    def player(self) -> Iterator[None]:
        """Counts a play loop as playing while the block runs (see :meth:`play_budget`)."""
        with self._lock:
            self.playing += 1
        try:
            yield
        finally:
            with self._lock:
                self.playing -= 1

    @contextlib.asynccontextmanager
    async def turn(self, interactive: bool) -> AsyncIterator[None]:
        """Wait for a turn in the interactive or the play lane; hold it while the block runs."""
        await self.acquire(interactive)
        try:
            yield
        finally:
            self.release(interactive)

    async def acquire(self, interactive: bool) -> None:
        """Wait for a turn in the interactive or the play lane (give it back with
        :meth:`release`, saying the same lane)."""
        waiter = _Waiter(asyncio.get_running_loop(), interactive)
        lane = self._interactive if interactive else self._play
        with self._lock:
            lane.append(waiter)
            granted = self._grant()
        if waiter in granted:  # at once: no need to wait for the loop's next round
            granted.remove(waiter)
            waiter.future.set_result(None)
        self._wake(granted)
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                if not waiter.granted:
                    lane.remove(waiter)
                    return_turn = False
                else:  # granted: give the turn back, unless _settle saw the cancelled future and did
                    return_turn = waiter.future.done() and not waiter.future.cancelled()
            if return_turn:
                self.release(interactive)
            raise

    def release(self, interactive: bool) -> None:
        """Give a turn of the given lane back; the next waiter (interactive first) gets it."""
        with self._lock:
            self.busy -= 1
            self.interactive_busy -= interactive
            granted = self._grant()
        self._wake(granted)

    def _grant(self) -> list[_Waiter]:
        """Hand free turns to waiters (lock held); returns them, to be woken."""
        granted = []
        while self.busy < self.workers:
            starved = bool(self._play) and self._streak >= MAX_STREAK
            if self._interactive and not starved:
                waiter = self._interactive.popleft()
                self.interactive_busy += 1
                self._streak += bool(self._play)
            elif self._play and (starved or not self.interactive_active):
                waiter = self._play.popleft()
                self._streak = 0
            else:
                break
            waiter.granted = True
            self.busy += 1
            granted.append(waiter)
        return granted

    def _wake(self, granted: list[_Waiter]) -> None:
        for waiter in granted:
            try:
                waiter.loop.call_soon_threadsafe(self._settle, waiter)
            except RuntimeError:  # its loop is closed: nobody waits for this turn any more
                self.release(waiter.interactive)

    def _settle(self, waiter: _Waiter) -> None:
        if waiter.future.done():  # cancelled before it could start: the turn goes to the next
            self.release(waiter.interactive)
        else:
            waiter.future.set_result(None)


class SessionWork:
    """A session's work lock, taken together with a turn of the :class:`Scheduler`.

    ``async with work:`` waits for an interactive turn, then for the lock;
    ``async with work.lane(interactive=False):`` does the same in the play lane. The turn is
    always taken before the lock and never while holding it, so sessions cannot deadlock on
    turns and locks. :meth:`should_yield` tells a running play slice to park: interactive work
    waits or runs (any session's), or waits for this session's lock.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.wanted = 0  # interactive requests of this session not yet holding the lock
        self._lock = asyncio.Lock()

    def locked(self) -> bool:
        return self._lock.locked()

    def should_yield(self) -> bool:
        """Whether a play slice of this session should park now (asked from the epoch's thread)."""
        return self.wanted > 0 or self.scheduler.interactive_active

    def lane(self, interactive: bool) -> _Lane:
        """The lock with a turn in the given lane, as an ``async with`` block."""
        return _Lane(self, interactive)

    async def __aenter__(self) -> None:
        await self._enter(True)

    async def __aexit__(self, *exc: object) -> None:
        self._leave(True)

    async def _enter(self, interactive: bool) -> None:
        if interactive:
            self.wanted += 1
        try:
            await self.scheduler.acquire(interactive)
            try:
                await self._lock.acquire()
            except BaseException:
                self.scheduler.release(interactive)
                raise
        finally:
            if interactive:
                self.wanted -= 1

    def _leave(self, interactive: bool) -> None:
        self._lock.release()
        self.scheduler.release(interactive)


class _Lane:
    __slots__ = ("work", "interactive")

    def __init__(self, work: SessionWork, interactive: bool) -> None:
        self.work, self.interactive = work, interactive

    async def __aenter__(self) -> None:
        await self.work._enter(self.interactive)

    async def __aexit__(self, *exc: object) -> None:
        self.work._leave(self.interactive)
