"""Tests for the sessions' outbox: answers are sent in order by a task of their own, flush
waits for them, close drops what is left, and a client that does not read holds no turn of
the scheduler (another tab is still answered). No timing: events and orders only."""

from __future__ import annotations

import asyncio
import json

from torchground.server.outbox import Outbox
from torchground.server.scheduler import Scheduler
from torchground.server.session import Session


def test_answers_go_in_order_and_flush_waits_for_them() -> None:
    async def scenario() -> tuple[list[str], list[str], int]:
        sent: list[str] = []
        gate = asyncio.Event()

        async def send(text: str) -> None:
            await gate.wait()
            sent.append(text)

        box = Outbox(send)
        for text in "abc":
            box.put(text)
        flushed = asyncio.create_task(box.flush())
        for _ in range(10):
            await asyncio.sleep(0)
        before = list(sent)
        assert not flushed.done() and len(box) == 3
        gate.set()
        await flushed
        return before, sent, len(box)

    assert asyncio.run(scenario()) == ([], ["a", "b", "c"], 0)


def test_close_drops_what_is_not_sent() -> None:
    async def scenario() -> tuple[list[str], int]:
        sent: list[str] = []
        never = asyncio.Event()

        async def send(text: str) -> None:
            await never.wait()
            sent.append(text)

        box = Outbox(send)
        box.put("a")
        box.put("b")
        await asyncio.sleep(0)
        await box.close()
        await box.flush()  # nothing left to wait for
        return sent, len(box)

    assert asyncio.run(scenario()) == ([], 0)


def test_a_tab_that_does_not_read_holds_no_turn() -> None:
    """One worker; tab A's client stops reading mid-answer; tab B is still answered."""

    async def scenario() -> list[str]:
        s = Scheduler(workers=1)
        reading = asyncio.Event()
        reading.set()
        got_b: list[str] = []

        blocked = asyncio.Event()

        async def send_a(text: str) -> None:
            if not reading.is_set():
                blocked.set()
            await reading.wait()

        async def send_b(text: str) -> None:
            got_b.append(json.loads(text)["type"])

        a, b = Session(send_a, scheduler=s), Session(send_b, scheduler=s)
        await a.receive(json.dumps({"type": "init"}))
        reading.clear()  # A's client stops reading
        await a.submit(json.dumps({"type": "step"}))  # its answer cannot go out
        await asyncio.wait_for(blocked.wait(), 60)
        await asyncio.wait_for(b.receive(json.dumps({"type": "init"})), 20)
        answered = list(got_b)
        reading.set()
        for session in (a, b):
            await session.close()
        assert s.busy == 0
        return answered

    assert asyncio.run(scenario()) == ["state", "frame"]
