"""The widget's session: the server's :class:`~torchground.server.session.Session`, whose queued
messages can be awaited, so that a command from Python waits its turn behind the page's.

The page's messages and Python's (``w.step()``, ``w.set(...)``) go through the one queue the
session handles in order; Python then waits until its own message has been handled. A
setting the page sent just before ``w.step()`` is thus in force when the step trains.

A view of the widget that opens (the cell's output, a second view of it, the widget shown
again in a later cell) joins the session as it is: :data:`ATTACH` in the queue sends it the
state and a frame, where a page's ``init`` would start over from the URL state at epoch 0.
"""

from __future__ import annotations

import asyncio

from torchground.server.session import Session

__all__ = ["ATTACH", "TurnSession"]

#: A queued entry that sends the state and a frame as they are (not JSON: no page sends it).
ATTACH = "\x00attach"


class TurnSession(Session):
    """A :class:`Session` that numbers what is submitted and tells when a number was handled."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._submitted = 0
        self._handled = 0
        self._turn = asyncio.Condition()

    async def submit(self, raw: str | bytes) -> int:  # type: ignore[override]
        """Queue ``raw`` as :meth:`Session.submit` does; → its number in the queue."""
        self._submitted += 1
        number = self._submitted
        await super().submit(raw)
        return number

    async def receive(self, raw: str | bytes) -> None:
        try:
            if raw == ATTACH:
                async with self._work:
                    await self._send_state_and_frame()
                await self._outbox.flush()  # sent before the next message, as receive() does
            else:
                await super().receive(raw)
        finally:
            self._handled += 1
            async with self._turn:
                self._turn.notify_all()

    async def run(self, raw: str | bytes) -> None:
        """Queue ``raw`` and return once it has been handled (after everything queued before it)."""
        number = await self.submit(raw)
        async with self._turn:
            await self._turn.wait_for(lambda: self._handled >= number)
