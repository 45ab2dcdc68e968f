"""Fixtures shared by the notebook tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def widgets() -> Iterator[Callable[..., Any]]:
    """Makes :class:`~torchground.notebook.Playground` widgets (same arguments); each is closed
    after the test, so no session thread outlives it."""
    pytest.importorskip("anywidget")
    from torchground.notebook import Playground

    made: list[Playground] = []

    def make(*args: Any, **kwargs: Any) -> Playground:
        made.append(Playground(*args, **kwargs))
        return made[-1]

    yield make
    for w in made:
        w.close()
