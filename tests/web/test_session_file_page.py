"""The page's session files: "Save session" downloads a .tgsession file, "Open session" continues
it where it was saved (same epoch and weights, then the same numbers as straight training);
a foreign file is refused with the server's message, in the page's language.

Runs the real server and Debian's Chromium through Playwright; skipped where either is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Tab, serve
from torchground.i18n import t

pytestmark = pytest.mark.browser

TOKEN = "session-file-token"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(TOKEN) as url:
        yield url


def _steps(pg: Any, upto: int) -> None:
    while pg.evaluate("window.__tg.epoch") < upto:
        n = pg.evaluate("window.__tg.epoch")
        pg.get_by_test_id("step").click()
        pg.wait_for_function(f"window.__tg.epoch === {n + 1}", timeout=30_000)


def test_save_then_open_continues_the_session(chromium: Any, base_url: str, tmp_path: Path) -> None:
    straight = Tab(chromium, base_url, TOKEN)
    pg = straight.open()
    _steps(pg, 5)
    five = pg.evaluate("window.__tg.params")
    straight.close()

    tab = Tab(chromium, base_url, TOKEN)
    pg = tab.open()
    assert pg.get_by_test_id("session-save").text_content() == t("web.session_save", "en")
    assert pg.get_by_test_id("session-open").text_content() == t("web.session_open", "en")
    _steps(pg, 3)
    three = pg.evaluate("window.__tg.params")
    with pg.expect_download() as info:
        pg.get_by_test_id("session-save").click()
    download = info.value
    assert download.suggested_filename.endswith("epoch3.tgsession")
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    pg.get_by_test_id("reset").click()
    pg.wait_for_function("window.__tg.epoch === 0", timeout=30_000)

    with pg.expect_file_chooser() as chooser:
        pg.get_by_test_id("session-open").click()
    chooser.value.set_files(str(saved))
    pg.wait_for_function("window.__tg.epoch === 3", timeout=30_000)
    assert pg.evaluate("window.__tg.params") == three
    _steps(pg, 5)
    assert pg.evaluate("window.__tg.params") == five

    foreign = tmp_path / "foreign.tgsession"
    foreign.write_bytes(b"PK\x03\x04 not a session")
    pg.get_by_test_id("session-file").set_input_files(str(foreign))
    head = t("server.session.bad_file", "en", reason="").split("(")[0]
    pg.wait_for_function(
        "(head) => document.querySelector('[data-testid=\"error-toast\"]').textContent.startsWith(head)", arg=head, timeout=30_000
    )
    assert pg.get_by_test_id("error-toast").is_visible()
    assert pg.evaluate("window.__tg.epoch") == 5  # the session goes on as it was
    errors = [e for e in tab.errors if "status of 400" not in e]  # the refusal itself, as the browser logs it
    assert not errors, errors
    tab.close()
