"""Tests for the server's scheduler: interactive requests are served before play slices, play
turns go round robin, a running play slice parks when interactive work waits, cancelled or
closed work gives its turn back, and sessions sharing one scheduler answer a tab's step
before the others' next play turns. Nothing here depends on timing: orders and counts only.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from torchground.server.scheduler import MAX_STREAK, MIN_SLICE_SECONDS, STEP_SLICES, Scheduler, SessionWork
from torchground.server.session import Session
from torchground.server.slices import EpochSlicer


async def _settle() -> None:
    """Let every ready callback of the loop run (a grant is delivered with call_soon)."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_an_interactive_request_queued_behind_play_requests_runs_next() -> None:
    async def scenario() -> list[str]:
        s = Scheduler(workers=1)
        order: list[str] = []
        await s.acquire(interactive=False)  # a play slice is running

        async def request(name: str, interactive: bool) -> None:
            async with s.turn(interactive):
                order.append(name)

        tasks = [asyncio.create_task(request(f"play{i}", False)) for i in range(5)]
        await _settle()
        tasks.append(asyncio.create_task(request("step", True)))
        await _settle()
        assert s.waiting == (1, 5) and s.interactive_waiting
        s.release(False)
        await asyncio.gather(*tasks)
        assert s.busy == 0 and s.waiting == (0, 0)
        return order

    assert asyncio.run(scenario()) == ["step", "play0", "play1", "play2", "play3", "play4"]


def test_no_play_turn_starts_while_interactive_work_runs() -> None:
    async def scenario() -> None:
        s = Scheduler(workers=2)
        await s.acquire(interactive=True)
        play = asyncio.create_task(s.acquire(interactive=False))
        await _settle()
        assert not play.done() and s.busy == 1 and s.waiting == (0, 1)  # a worker is free, yet play waits
        s.release(True)
        await play
        assert s.busy == 1 and s.interactive_busy == 0
        s.release(False)

    asyncio.run(scenario())


def test_a_tab_sending_requests_without_pause_cannot_stop_play() -> None:
    async def scenario() -> list[str]:
        s = Scheduler(workers=1)
        order: list[str] = []
        await s.acquire(interactive=True)

        async def request(name: str, interactive: bool) -> None:
            async with s.turn(interactive):
                order.append(name)

        tasks = [asyncio.create_task(request("play", False))]
        tasks += [asyncio.create_task(request(f"i{i}", True)) for i in range(MAX_STREAK + 2)]
        await _settle()
        s.release(True)  # taken before play waited: not part of the streak
        await asyncio.gather(*tasks)
        return order

    order = asyncio.run(scenario())
    assert order == [*(f"i{i}" for i in range(MAX_STREAK)), "play", "i4", "i5"]


def test_play_turns_go_round_robin() -> None:
    async def scenario() -> list[str]:
        s = Scheduler(workers=1)
        order: list[str] = []

        async def player(name: str) -> None:
            for _ in range(3):
                async with s.turn(interactive=False):
                    order.append(name)
                    await asyncio.sleep(0)

        await s.acquire(interactive=False)
        tasks = [asyncio.create_task(player(n)) for n in "abc"]
        await _settle()
        s.release(False)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == list("abcabcabc")


def test_at_most_workers_turns_at_once() -> None:
    async def scenario() -> int:
        s = Scheduler(workers=2)
        held, most = 0, 0

        async def work() -> None:
            nonlocal held, most
            async with s.turn(interactive=False):
                held += 1
                most = max(most, held)
                await asyncio.sleep(0)
                held -= 1

        await asyncio.gather(*(work() for _ in range(10)))
        return most

    assert asyncio.run(scenario()) == 2


def test_a_cancelled_waiter_gives_its_turn_back() -> None:
    async def scenario() -> None:
        s = Scheduler(workers=1)
        await s.acquire(interactive=False)
        waiting = asyncio.create_task(s.acquire(interactive=True))
        after = asyncio.create_task(s.acquire(interactive=False))
        await _settle()
        waiting.cancel()  # cancelled while queued
        await _settle()
        assert s.waiting == (0, 1)
        s.release(False)
        await after
        assert s.busy == 1
        s.release(False)
        # cancelled after its turn was granted but before it could run: the turn comes back
        await s.acquire(interactive=False)
        late = asyncio.create_task(s.acquire(interactive=False))
        await _settle()
        s.release(False)  # granted to `late` (delivered on the loop's next round)
        late.cancel()
        with pytest.raises(asyncio.CancelledError):
            await late
        await _settle()
        assert s.busy == 0 and s.waiting == (0, 0)
        await asyncio.wait_for(s.acquire(interactive=True), 5)  # free at once
        assert s.busy == 1

    asyncio.run(scenario())


def test_play_budget_shrinks_when_more_sessions_play_than_there_are_workers() -> None:
    s = Scheduler(workers=2, target=0.05)
    with s.player(), s.player():
        assert s.play_budget() == 0.05
        with s.player(), s.player():
            assert s.play_budget() == pytest.approx(0.025)
    assert s.playing == 0
    many = Scheduler(workers=2, target=0.05)
    many.playing = 1000
    assert many.play_budget() == MIN_SLICE_SECONDS


def test_session_work_takes_the_turn_before_the_lock_and_asks_play_to_yield() -> None:
    async def scenario() -> None:
        s = Scheduler(workers=1)
        a, b = SessionWork(s), SessionWork(s)
        async with a.lane(interactive=False):
            assert not a.should_yield() and a.locked()
            other = asyncio.create_task(b.__aenter__())  # another tab's request waits for the turn
            await _settle()
            assert a.should_yield() and not b.locked()
        await other
        assert b.locked() and a.should_yield()  # interactive work runs: play parks
        await b.__aexit__()
        assert not a.should_yield()
        async with a.lane(interactive=False):
            # this tab's own request: holding a turn of its own (two workers), it waits for the lock
            s.workers = 2
            mine = asyncio.create_task(a.__aenter__())
            await _settle()
            assert a.wanted == 1 and a.should_yield() and s.busy == 2
        await mine
        assert a.wanted == 0 and a.locked()
        await a.__aexit__()
        assert s.busy == 0 and s.interactive_busy == 0

    asyncio.run(scenario())


def test_a_slice_parks_when_told_to_yield_and_takes_the_same_steps() -> None:
    steps: list[int] = []
    yield_now = threading.Event()

    def epoch(slicer: EpochSlicer) -> str:
        for i in range(6):
            steps.append(i)
            if i == 2:
                yield_now.set()
            slicer.on_batch_end(None, i, 0.0)
        return "end"

    async def scenario() -> list[tuple[str, object]]:
        slicer = EpochSlicer(budget=1e9)  # never parks by time
        first = await slicer.run_slice(lambda: epoch(slicer), yield_to=yield_now.is_set)
        rest = await slicer.run_slice(lambda: epoch(slicer))
        return [first, rest]

    assert asyncio.run(scenario()) == [("parked", None), ("done", "end")]
    assert steps == [0, 1, 2, 3, 4, 5]  # parked after step 2, then the rest: each step once, in order


def test_a_step_is_answered_before_the_other_tabs_next_play_turns() -> None:
    """Three tabs play on one worker; a fourth tab's step comes before their next turns."""

    async def scenario() -> tuple[int, Scheduler]:
        s = Scheduler(workers=1)
        log: list[tuple[str, dict]] = []

        def sender(name: str):
            async def send(text: str) -> None:
                log.append((name, json.loads(text)))
            return send

        players = [Session(sender(f"p{i}"), scheduler=s) for i in range(3)]
        tab = Session(sender("tab"), scheduler=s)
        for session in (*players, tab):
            await session.receive(json.dumps({"type": "init"}))
        for session in players:
            await session.submit(json.dumps({"type": "play"}))
        while sum(1 for n, m in log if n.startswith("p") and m.get("running")) < 6:  # all three play
            await asyncio.sleep(0.01)
        start = len(log)
        await tab.submit(json.dumps({"type": "step"}))
        while not any(n == "tab" and m["type"] == "frame" for n, m in log[start:]):
            await asyncio.sleep(0.001)
        answered = next(i for i, (n, m) in enumerate(log[start:]) if n == "tab")
        between = sum(1 for n, m in log[start:start + answered] if m["type"] == "frame")
        for session in (*players, tab):
            await session.close()
        return between, s

    between, s = asyncio.run(scenario())
    assert between <= 2  # the slice in flight (and its frame), never a round of the other tabs
    assert s.busy == 0 and s.playing == 0 and s.waiting == (0, 0)  # closed tabs leave nothing behind


def _lanes_of(message: dict, mid_epoch: bool) -> tuple[list[bool], list[dict]]:
    """The lanes (interactive or not) of every turn a tab takes to answer ``message``, and its
    answers; one optimiser step a slice (``mid_epoch``: one step already taken before)."""

    async def scenario() -> tuple[list[bool], list[dict]]:
        s = Scheduler(workers=1, target=0.0)  # a play slice is one step
        lanes: list[bool] = []
        acquire = s.acquire

        async def logged(interactive: bool) -> None:
            lanes.append(interactive)
            await acquire(interactive)

        s.acquire = logged  # type: ignore[method-assign]
        answers: list[dict] = []

        async def send(text: str) -> None:
            answers.append(json.loads(text))

        tab = Session(send, scheduler=s)
        await tab.receive(json.dumps({"type": "init"}))
        assert tab.trainer is not None
        next(c for c in tab.trainer.callbacks if isinstance(c, EpochSlicer)).budget = 0.0  # a slice is one step
        if mid_epoch:
            async with tab._work:
                assert not await tab._advance()  # one step in: the epoch is under way
        lanes.clear()
        await tab.receive(json.dumps(message))
        await tab.close()
        return lanes, answers

    return asyncio.run(scenario())


def test_a_step_stays_interactive_for_its_first_slices_then_yields() -> None:
    """A step whose epoch needs many slices: the first STEP_SLICES are interactive, the rest play-lane."""
    lanes, frames = _lanes_of({"type": "step"}, mid_epoch=False)
    steps = frames[-1]["steps"]
    assert frames[-1]["type"] == "frame" and frames[-1]["epoch"] == 1 and steps > STEP_SLICES
    # one slice per step, and one that ends the epoch (it parks after its last step too)
    assert lanes == [True] * STEP_SLICES + [False] * (steps + 1 - STEP_SLICES)


def test_a_save_finishes_the_epoch_in_progress_as_a_step_would() -> None:
    """Saving mid-epoch: the rest of the epoch in slices (interactive, then play lane), then the file."""
    lanes, answers = _lanes_of({"type": "save"}, mid_epoch=True)
    assert answers[-1]["type"] == "saved" and answers[-2]["type"] == "frame" and answers[-2]["epoch"] == 1
    steps = answers[-2]["steps"]  # 1 step before the save, the rest and one slice that ends the epoch during it
    assert lanes == [True] * STEP_SLICES + [False] * (steps - STEP_SLICES) + [True]


def test_opening_the_grid_finishes_the_epoch_in_progress_as_a_step_would() -> None:
    """The grid view opened mid-epoch: the session's epoch is finished in slices (interactive,
    then play lane), so a slow spec's epoch holds no other tab's turn; then the grid is made."""
    lanes, answers = _lanes_of({"type": "grid", "axes": [{"field": "lr", "values": "0.03, 0.3"}]}, mid_epoch=True)
    kinds = [a["type"] for a in answers]
    assert kinds[-2:] == ["grid_state", "grid_frame"], kinds
    epoch_end = answers[-3]  # the session's whole epoch, before the grid
    assert epoch_end["type"] == "frame" and epoch_end["epoch"] == 1
    steps = epoch_end["steps"]
    assert lanes == [True] * STEP_SLICES + [False] * (steps - STEP_SLICES) + [True]
