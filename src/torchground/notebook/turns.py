"""The widget's session: the server's :class:`~torchground.server.session.Session`, whose queued
messages can be awaited, so that a command from Python waits its turn behind the page's.

The page's messages and Python's (``w.step()``, ``w.set(...)``) go through the one queue the
session handles in order; Python then waits until its own message has been handled. A
setting the page sent just before ``w.step()`` is thus in force when the step trains.

A view of the widget that opens (the cell's output, a second view of it, the widget shown
again in a later cell) joins the session as it is: :data:`ATTACH` in the queue sends it the
state and a frame, where a page's ``init`` would start over from the URL state at epoch 0.

A refusal the session answers to one of Python's messages (a setting beyond the page's caps,
say) is also kept for the caller: :meth:`TurnSession.run` returns it, and the widget raises it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from torchground.errors import TorchgroundError
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
        self._waited: set[int] = set()  # the numbers :meth:`run` waits for: their refusals are kept
        self._refusals: dict[int, TorchgroundError] = {}
        self._refusal: TorchgroundError | None = None  # of the message being handled
        self._handlers = {name: self._noting(handler) for name, handler in self._handlers.items()}

    def _noting(self, handler: Any) -> Any:
        """``handler``, noting the refusal it raises (the session still answers it with an ``error``)."""

        async def handle(message: Any) -> None:
            try:
                await handler(message)
            except TorchgroundError as exc:
                self._refusal = exc
                raise

        return handle

    async def submit(self, raw: str | bytes) -> int:  # type: ignore[override]
        """Queue ``raw`` as :meth:`Session.submit` does; → its number in the queue."""
        self._submitted += 1
        number = self._submitted
        await super().submit(raw)
        return number

    async def receive(self, raw: str | bytes) -> None:
        self._refusal = None
        try:
            if raw == ATTACH:
                async with self._work:
                    await self._send_state_and_frame()
                await self._outbox.flush()  # sent before the next message, as receive() does
            else:
                await super().receive(raw)
        finally:
            self._handled += 1
            if self._handled in self._waited:
                self._waited.discard(self._handled)
                if self._refusal is not None:
                    self._refusals[self._handled] = self._refusal
            async with self._turn:
                self._turn.notify_all()

    async def run(self, raw: str | bytes) -> TorchgroundError | None:
        """Queue ``raw`` and return once it has been handled (after everything queued before it);
        → the refusal the session answered it with, if any."""
        self._waited.add(self._submitted + 1)  # submit() numbers it so before it awaits anything
        number = await self.submit(raw)
        async with self._turn:
            await self._turn.wait_for(lambda: self._handled >= number)
        return self._refusals.pop(number, None)
