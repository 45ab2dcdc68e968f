"""The grid view as a mode of a session: the ``grid``, ``grid_pick`` and ``grid_close``
messages, and the grid's training in the session's time slices.

While a session is in grid mode (``session.grid`` is a :class:`GridMode`), its play loop,
``step``, ``pause`` and ``reset`` act on the grid: :meth:`GridMode.advance` runs the grid's
epoch in :class:`~torchground.server.slices.EpochSlicer` slices (a pause between every
optimiser step of every group, the same bound as one trainer), and frames are
``grid_frame`` messages; a ``pause`` finishes the grid's epoch in progress (in background
slices), so a paused grid shows whole epochs. The session's own model waits, whole: an
epoch of it in progress is finished before the grid starts. ``grid_pick`` makes one tile
the session's model (its spec, its weights after the epoch in progress) and leaves grid
mode; ``grid_close`` leaves it unchanged (with no grid open it does nothing).

While the grid is open, the messages that would change the session's own model (a ``set``
of spec fields, ``reinit``, ``regenerate``, ``edit``) or train it (``save`` finishes its
epoch) are refused with an error that says to close the grid or pick a tile first; ``set``
of view options only, ``code``, ``graph``, ``link_of`` and ``fps`` are answered as always
(they read the waiting model or change nothing of it); ``init``, ``open`` and ``link`` start
a new session state and so leave the grid.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import torch

from torchground.server import frames
from torchground.server.grid import GridRun
from torchground.server.protocol import ProtocolError
from torchground.server.slices import EpochSlicer
from torchground.server.urlstate import VIEW_OPTIONS

if TYPE_CHECKING:
    from torchground.server.session import Session

__all__ = ["SINGLE_MODEL", "GridMode", "handlers", "end", "start", "pick", "leave", "pause_grid"]


class GridMode:
    """A session's grid: its :class:`~torchground.server.grid.GridRun` and the slicer that bounds its work."""

    def __init__(self, session: "Session", run: GridRun) -> None:
        self.session, self.run = session, run
        self.slicer = EpochSlicer()

    async def advance(self, playing: bool = False, background: bool = False) -> bool:
        """One slice of the grid's epoch (the session's work lock held), as the session's
        ``_advance`` runs one of its model's: at the epoch's end a frame, and ``True``. A slice
        of the play loop (or of a ``step``'s rest: ``background``) gets the scheduler's play
        budget and parks as soon as interactive work waits; while playing, a parked slice
        sends a progress frame at most every ``PROGRESS_FRAME_SECONDS``."""
        from torchground.server.session import PROGRESS_FRAME_SECONDS  # session imports this module

        session = self.session
        if playing or background:
            slice_ = self.slicer.run_slice(self._epoch, session._work.scheduler.play_budget(), session._work.should_yield)
        else:
            slice_ = self.slicer.run_slice(self._epoch)
        kind, value = await slice_
        if kind == "error":
            raise value
        if kind == "parked":
            if playing and asyncio.get_running_loop().time() - session._last_frame >= PROGRESS_FRAME_SECONDS:
                await session._send_frame(running=True)
            return False
        await session._send_frame(running=playing and session.running)
        return True

    def _epoch(self) -> None:
        self.run.train_epoch(lambda: self.slicer.on_batch_end(None, 0, 0.0))

    async def send_frame(self, running: bool) -> None:
        text = await asyncio.to_thread(lambda: frames.dumps(self.run.frame(running)))
        await self.session._send(text)

    async def send_state(self) -> None:
        await self.session._send(await asyncio.to_thread(lambda: frames.dumps(self.run.state())))

    async def reset(self) -> None:
        """The same grid from its start (weights and data from their seeds)."""
        self.session.running = False
        async with self.session._work:
            self.slicer.cancel()
            self.slicer = EpochSlicer()
            self.run = await asyncio.to_thread(GridRun, self.run.base, self.run.axes)
            await self.send_frame(False)

    def cancel(self) -> None:
        """End the grid's epoch in progress (the grid is being replaced or left)."""
        self.slicer.cancel()


#: Messages that change (or, ``save``, train on) the session's own model: refused while the grid
#: is open, which would otherwise leave it silently or change a model that is not on screen.
SINGLE_MODEL = ("reinit", "regenerate", "edit", "save")


def handlers(session: "Session") -> dict[str, Callable[[Any], Awaitable[None]]]:
    """The session's handlers of the grid's messages, of ``reset`` and ``pause`` (the grid's
    while it is open), and of the messages refused while it is open (:data:`SINGLE_MODEL`,
    and a ``set`` of spec fields; a ``set`` of view options only is answered as always)."""
    plain_reset, plain_pause, plain_set = session._reset, session._pause, session._set

    async def reset(msg: Any) -> None:
        await (session.grid.reset() if session.grid is not None else plain_reset(msg))

    async def pause(msg: Any) -> None:
        await (pause_grid(session) if session.grid is not None else plain_pause(msg))

    async def set_(msg: Any) -> None:
        if session.grid is not None:
            fields = [k for k in msg.changes if k not in VIEW_OPTIONS]
            if fields:
                raise ProtocolError("grid.open_set", fields=", ".join(fields), allowed=", ".join(VIEW_OPTIONS))
        await plain_set(msg)

    def refused_while_open(kind: str) -> Callable[[Any], Awaitable[None]]:
        plain = getattr(session, f"_{kind}")

        async def handle(msg: Any) -> None:
            if session.grid is not None:
                raise ProtocolError("grid.open_refused", type=kind)
            await plain(msg)

        return handle

    return {"grid": lambda m: start(session, m), "grid_pick": lambda m: pick(session, m), "grid_close": lambda m: leave(session, m),
            "reset": reset, "pause": pause, "set": set_, **{kind: refused_while_open(kind) for kind in SINGLE_MODEL}}


async def pause_grid(session: "Session") -> None:
    """``pause`` in grid mode: the epoch in progress is finished (in background slices), so a
    paused grid shows whole epochs and each tile's loss is that of the weights a pick takes."""
    session.running = False
    async with session._work:
        if not await _finish_epoch(session):
            await session._send_frame()


async def _finish_epoch(session: "Session") -> bool:
    """Finish the grid's epoch in progress (work lock held); whether one was (its frame is sent)."""
    grid = session.grid
    finished = False
    while grid is not None and grid.slicer.in_progress:
        finished = await grid.advance(background=True)
    return finished


def end(grid: GridMode | None) -> None:
    """End ``grid``'s epoch in progress, if there is a grid; the session's new ``grid`` (none)."""
    if grid is not None:
        grid.cancel()
    return None


async def start(session: "Session", msg: Any) -> None:
    """``grid``: the session's spec with the message's axes varied, as a new grid (refused
    grids leave the session as it was); answered with ``grid_state`` and a ``grid_frame``."""
    assert session.spec is not None and session.trainer is not None
    session.running = False
    axes = [(axis.field, axis.values) for axis in msg.axes]
    if session.grid is None:  # the session's model waits whole: its epoch in progress finished, by turns
        await session.finish_epoch()
    async with session._work:
        base = session.grid.run.base if session.grid is not None else session.spec
        run = await asyncio.to_thread(GridRun, base, axes)
        if session.grid is not None:
            session.grid.cancel()
        session.grid = GridMode(session, run)
        await session.grid.send_state()
        await session.grid.send_frame(False)


async def pick(session: "Session", msg: Any) -> None:
    """``grid_pick``: tile ``index`` becomes the session's model (its spec, its weights now);
    answered with ``state`` and ``frame`` as after ``init``."""
    grid = session.grid
    if grid is None:
        raise ProtocolError("grid.not_open")
    session.running = False
    async with session._work:
        await _finish_epoch(session)  # whole epochs, as the tiles show them
        spec, params = grid.run.pick(msg.index)
        trainer, _ = await asyncio.to_thread(session._build, spec, [], False)
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(params.to(next(trainer.model.parameters()).dtype), trainer.model.parameters())
        session._end_epoch()  # the grid and the model's epoch in progress, if any
        session.trainer, session.edits = trainer, {}
        session.spec, session._grads = spec, None
        await session._send_state_and_frame()


async def leave(session: "Session", msg: Any) -> None:
    """``grid_close``: back to the session's model as it was (``state`` and ``frame``); with no
    grid open, nothing to do and no answer (closing is idempotent)."""
    if session.grid is None:
        return
    session.running = False
    async with session._work:
        session._end_epoch()
        await session._send_state_and_frame()
