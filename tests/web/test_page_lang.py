"""The page starts in the language of the one rule: its URL's, else serve's --lang /
TORCHGROUND_LANG, else the browser's (a Japanese browser gets Japanese labels and comments)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from conftest import Tab

pytestmark = pytest.mark.browser

TOKEN = "page-lang-token"


class _Server:
    """The real server in a thread, started with ``page_lang`` as ``torchground serve`` passes it."""

    def __init__(self, page_lang: str | None) -> None:
        import uvicorn

        from torchground.server.app import create_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        port = self.sock.getsockname()[1]
        app = create_app(TOKEN, lang="en", port=port, page_lang=page_lang)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


def _page_lang(browser: Any, page_lang: str | None, locale: str, query: str = "") -> str:
    server = _Server(page_lang)
    tab = Tab(browser, server.url, TOKEN, locale=locale)
    try:
        page = tab.open(query)
        shown = page.evaluate("document.documentElement.lang")
        assert tab.errors == []
        return shown
    finally:
        tab.context.close()
        server.close()


@pytest.mark.parametrize(
    ("page_lang", "locale", "query", "expected"),
    [
        ("ja", "en-US", "", "ja"),  # serve --lang ja: Japanese even in an English browser
        ("en", "ja-JP", "", "en"),  # TORCHGROUND_LANG=en: English even in a Japanese browser
        (None, "ja-JP", "", "ja"),  # nothing chosen: the browser's language
        (None, "en-US", "", "en"),
        ("ja", "en-US", "lang=en", "en"),  # the URL's language (the page's switch) first
    ],
)
def test_the_page_follows_the_language_rule(chromium: Any, page_lang: str | None, locale: str, query: str,
                                            expected: str) -> None:
    assert _page_lang(chromium, page_lang, locale, query) == expected
