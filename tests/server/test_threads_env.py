"""``TORCHGROUND_THREADS`` (train/threads.py's rule and override) applies to the server's
training too: a session's epochs, the grid's groups and maps; a bad value is refused when the
app is made (``serve``, the notebook widget); ``serve`` shows the engine's notices as plain lines."""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any

import pytest
import torch

from torchground.cli import main
from torchground.errors import TorchgroundError
from torchground.server import create_app
from torchground.server.grid import GridRun
from torchground.server.session import Session
from torchground.server.urlstate import DEFAULT_SPEC
from torchground.train import Trainer


def test_a_bad_thread_count_is_refused_when_the_app_is_made(monkeypatch):
    monkeypatch.setenv("TORCHGROUND_THREADS", "abc")
    with pytest.raises(TorchgroundError, match="TORCHGROUND_THREADS=abc"):
        create_app("token")


def test_a_session_trains_with_the_forced_count(monkeypatch):
    monkeypatch.setenv("TORCHGROUND_THREADS", "3")
    seen: list[int] = []
    real = Trainer.run_epoch

    def spy(self: Trainer, *args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run_epoch", spy)

    async def run() -> None:
        async def send(text: str) -> None:
            json.loads(text)

        session = Session(send, "en")
        await session.receive(json.dumps({"type": "init", "query": ""}))
        await session.receive(json.dumps({"type": "step"}))
        await session.close()

    before = torch.get_num_threads()
    asyncio.run(run())
    assert seen and set(seen) == {3} and torch.get_num_threads() == before


def test_the_grid_trains_and_draws_with_the_forced_count(monkeypatch):
    run = GridRun(DEFAULT_SPEC, [("lr", "0.03, 0.3")])
    monkeypatch.setenv("TORCHGROUND_THREADS", "2")
    seen: list[int] = []
    run.train_epoch(lambda: seen.append(torch.get_num_threads()))
    assert seen and set(seen) == {2}
    import torchground.server.grid as grid

    real = grid._outputs
    monkeypatch.setattr(grid, "_outputs", lambda net, inputs: (seen.append(torch.get_num_threads()), real(net, inputs))[1])
    seen.clear()
    run.maps()
    assert seen and set(seen) == {2}


def test_serve_shows_engine_notices_as_plain_lines(monkeypatch, capsys):
    import uvicorn

    def fake_run(self: Any, sockets: Any = None) -> None:
        warnings.warn("the fused steps are not used (a reason); the engine trains on eagerly", RuntimeWarning, stacklevel=1)

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    assert main(["serve", "--no-open", "--port", "0"]) in (0, None)
    err = capsys.readouterr().err
    assert "the fused steps are not used (a reason); the engine trains on eagerly" in err
    assert "RuntimeWarning" not in err and ".py:" not in err


def test_the_notebook_widget_refuses_a_bad_thread_count(monkeypatch):
    pytest.importorskip("anywidget")
    from torchground.notebook.playground import Playground

    monkeypatch.setenv("TORCHGROUND_THREADS", "abc")
    with pytest.raises(TorchgroundError, match="TORCHGROUND_THREADS=abc"):
        Playground()
