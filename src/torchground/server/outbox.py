"""A session's answers on their way to the client, sent in order by a task of their own.

A session builds its answers while it holds a turn of the server's scheduler
(:mod:`~torchground.server.scheduler`); sending one may wait on the network, when a client
reads slowly and its socket backs up. :class:`Outbox` takes the answers in order and sends
them from its own task, so no turn is held while a socket drains. :meth:`Outbox.flush`,
which the session awaits holding no turn (after each client message, before each play turn),
waits until everything is sent: a slow reader still slows its own session down, and answers
cannot pile up.

Example:
    >>> import asyncio
    >>> async def demo():
    ...     sent = []
    ...     async def send(text):
    ...         sent.append(text)
    ...     box = Outbox(send)
    ...     box.put("a"); box.put("b")
    ...     await box.flush()
    ...     return sent
    >>> asyncio.run(demo())
    ['a', 'b']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Awaitable, Callable

__all__ = ["Outbox"]

log = logging.getLogger("torchground.server")


class Outbox:
    """Messages sent in order by a task of their own; see the module docstring.

    Args:
        send: coroutine that sends one text message to the client.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self._send = send
        self._queue: deque[str] = deque()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        """Messages not yet sent (the one being sent included)."""
        return len(self._queue)

    def put(self, text: str) -> None:
        """Queue ``text``; it is sent after everything queued before it."""
        self._queue.append(text)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def flush(self) -> None:
        """Wait until every queued message is sent."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])  # (a cancelled caller leaves the sending task be)

    async def close(self) -> None:
        """Drop what is not sent yet and stop sending."""
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while self._queue:
            try:
                await self._send(self._queue[0])
            except Exception as exc:  # a client gone mid-answer: the rest is dropped by whoever sends
                log.debug("answer not sent: %r", exc)
            if self._queue:  # (close may have emptied it meanwhile)
                self._queue.popleft()
