"""What the page's browser tests share: a real server in a thread, Debian's Chromium through
Playwright (never a downloaded browser), a page with its console errors, and screenshots
kept as test artefacts in ``test-artifacts/screenshots/`` (``$TG_ARTIFACTS`` moves them)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from browser_support import ARTIFACTS, CHROMIUM, LAUNCH_ARGS  # noqa: F401  (tests/ is on the path)


@contextlib.contextmanager
def serve(token: str, port: int = 0) -> Iterator[str]:
    """The real server (:func:`torchground.server.app.create_app`) on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    from torchground.server.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(token, lang="en", port=port), log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class RestartableServer:
    """The real server on a fixed free port that a test can stop and start again (same or new token)."""

    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self.server: Any = None

    def start(self, token: str) -> None:
        import uvicorn

        from torchground.server.app import create_app

        self.token = token
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(create_app(token, lang="en", port=self.port), log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
        self.server = None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless (the tests are skipped without it or Playwright).

    One per test module: Playwright's sync API keeps an event loop running in the main thread
    while it is open, and the tests that follow (``asyncio.run``, other Playwright users)
    need it closed."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's /usr/bin/chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


class Tab:
    """A page in a browser context of its own (``width`` × ``height``), its console errors collected."""

    def __init__(self, browser: Any, base_url: str, token: str, width: int = 1440, height: int = 900, locale: str = "en-US") -> None:
        # bypass_csp: the tests evaluate JavaScript in the page; the page itself keeps its CSP
        self.context = browser.new_context(locale=locale, viewport={"width": width, "height": height}, bypass_csp=True)
        self.page = self.context.new_page()
        self.base_url, self.token = base_url, token
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, query: str = "", url: str | None = None) -> Any:
        """Load the page (with the token and ``query``, or ``url`` as it is) and wait for its first frame."""
        self.page.goto(url or f"{self.base_url}/?token={self.token}" + (f"&{query}" if query else ""))
        self.page.wait_for_function("window.__tg && window.__tg.framesDrawn > 0 && window.__tg.spec", timeout=30_000)
        return self.page

    def by(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def box(self, test_id: str) -> dict[str, float]:
        return self.by(test_id).bounding_box()

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        """Save a screenshot (the whole page, or what the viewport shows) as a test artefact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()
