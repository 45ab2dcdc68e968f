"""The widget in real Jupyter front ends, JupyterLab 4 and Notebook 7, each headless in Debian's
Chromium (Playwright): a cell makes the widget (in Japanese), Play in the widget trains in the
kernel (the epoch counter rises, the loss falls), a saved session is downloaded and opened
again, the graph and code tabs show, a CSV file chosen in the widget's upload
input reaches the kernel as the data, and a setting changed from the next cell shows in the
widget; running the first cell again replaces the output, and the old widget stops training.
One server and one browser page per app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.slow]

pytest.importorskip("anywidget")
sync_api = pytest.importorskip("playwright.sync_api")

from browser_support import ARTIFACTS, CHROMIUM, LAUNCH_ARGS  # noqa: E402  (tests/ is on the path)
from jupyter_support import NotebookPage, jupyter_server  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip("Debian's /usr/bin/chromium is not installed", allow_module_level=True)

CELLS = [
    'import torchground as tg\nw = tg.Playground(dataset="xor", hidden=(4,), lr=0.1, lang="ja", height=820)\nw',
    'w.set(lr=0.3)\nprint("tg:", w.spec.dataset, w.spec.classes, w.spec.lr)',
    'old = w\nold.play()\nprint("tg-playing:", old.running)',
    # the kernel's thread waits here; the widget's own thread is the one that pauses it
    'import time\nfor _ in range(600):\n    if not old.running:\n        break\n    time.sleep(0.1)\nprint("tg-old:", old.running)',
]
#: three classes, as a learner's own file might hold them
THREE = "x1,x2,label\n" + "".join(
    f"{10 * (i % 3) + (i % 5) * 0.3},{20 + 8 * ((i % 3) == 2) + (i % 7) * 0.2},{('ant', 'bee', 'cow')[i % 3]}\n" for i in range(90)
)


@pytest.fixture(scope="module", params=["lab", "notebook"])
def notebook(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, NotebookPage]]:
    app = request.param
    pytest.importorskip({"lab": "jupyterlab", "notebook": "notebook"}[app])
    with jupyter_server(app, tmp_path_factory.mktemp(app), CELLS) as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield app, NotebookPage(browser.new_page(viewport={"width": 1400, "height": 1000}), url)
        finally:
            browser.close()


def _wait(nb: NotebookPage, pred: Any, what: str) -> None:
    nb.wait(pred, what, seconds=120)


def test_the_widget_trains_uploads_and_follows_python(notebook: tuple[str, NotebookPage], tmp_path: Path) -> None:
    app, nb = notebook
    nb.run(0)
    widget, frame = nb.widget()
    loss = widget.locator('[data-testid="loss-train"]')
    _wait(nb, lambda: loss.text_content() not in ("–", ""), "no frame from the kernel")
    first = float(loss.text_content())
    assert widget.locator('[data-i18n="web.data"]').text_content() == "データ"  # the widget's language

    def epoch() -> int:
        return int(widget.locator('[data-testid="epoch"]').text_content().replace(",", ""))

    play = widget.locator('[data-testid="play"]')
    play.click()
    _wait(nb, lambda: epoch() >= 20, "playing did not train")
    play.click()  # pause
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nb.page.screenshot(path=str(ARTIFACTS / f"jupyter-{app}-widget.png"), full_page=True)
    assert float(loss.text_content()) < first

    # a saved session (downloaded from the widget) opened again: its bytes travel over the channel
    with nb.page.expect_download() as download:
        widget.locator('[data-testid="session-save"]').click()
    bundle = tmp_path / "widget.tgsession"
    download.value.save_as(bundle)
    # the epoch saved, from the file's name (the page may show a frame that lands after the pause late)
    saved = int(re.search(r"epoch(\d+)", download.value.suggested_filename).group(1))
    _wait(nb, lambda: epoch() == saved, "the page does not show the saved epoch")
    widget.locator('[data-testid="step"]').click()
    _wait(nb, lambda: epoch() == saved + 1, "the step button did not step")
    widget.locator('[data-testid="session-file"]').set_input_files(str(bundle))
    _wait(nb, lambda: epoch() == saved, "the saved session did not open")

    # the autograd graph (Graphviz: a module the page asks the kernel for on first use) and the code
    widget.locator('[data-testid="graph-tab"]').click()
    widget.locator('[data-testid="graph-svg"]').wait_for(timeout=120_000)
    widget.locator('[data-testid="code-tab"]').click()
    _wait(nb, lambda: "class Net" in (widget.locator('[data-testid="code-text"]').text_content() or ""), "no code")

    # the learner's own file, chosen in the widget: its bytes travel over the widget's channel
    csv = tmp_path / "three.csv"
    csv.write_text(THREE, encoding="utf-8")
    widget.locator('[data-testid="data-upload-input"]').set_input_files(str(csv))
    frame.wait_for_function("window.__tg.spec && window.__tg.spec.classes === 3", timeout=60_000)
    assert [t.strip() for t in widget.locator('[data-testid="class-legend"] .class-item').all_text_contents()] == ["ant", "bee", "cow"]

    # the next cell: the kernel has the file's data, and a setting made in Python shows in the widget
    nb.run(1)
    assert "tg: csv 3 0.3" in nb.output(1, "tg:")
    frame.wait_for_function("window.__tg.spec.lr === 0.3", timeout=60_000)
    assert widget.locator('[data-testid="lr"]').input_value() == "0.3"

    # closing the output stops its training: the first cell run again replaces it
    nb.run(2)
    assert "tg-playing: True" in nb.output(2, "tg-playing:")
    nb.run(0)
    nb.run(3)
    assert "tg-old: False" in nb.output(3, "tg-old:")
