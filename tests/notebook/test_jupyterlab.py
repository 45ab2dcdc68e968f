"""The widget in a real JupyterLab: a headless server, a notebook cell run in Debian's Chromium
(Playwright), Play pressed in the widget, the epoch counter rising and the loss falling."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.browser, pytest.mark.slow]

pytest.importorskip("anywidget")
pytest.importorskip("jupyterlab")
sync_api = pytest.importorskip("playwright.sync_api")

from browser_support import ARTIFACTS, CHROMIUM, LAUNCH_ARGS  # noqa: E402  (tests/ is on the path)

if not CHROMIUM.exists():
    pytest.skip("Debian's /usr/bin/chromium is not installed", allow_module_level=True)

TOKEN = "jupyter-test-token"
CELL = 'import torchground as tg\nw = tg.Playground(dataset="xor", hidden=(4,), lr=0.1, lang="ja", height=820)\nw'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("lab")
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "widget", "metadata": {}, "outputs": [], "source": CELL}],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    (root / "widget.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    port = _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".config"), "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    proc = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(root / ".runtime", ignore_errors=True)


def test_play_in_the_widget_trains_in_the_kernel(lab: str) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab}/lab/tree/widget.ipynb?token={TOKEN}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
            page.wait_for_function("document.body.innerText.includes('Idle')", timeout=120_000)  # the kernel is up
            page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
            page.keyboard.press("Shift+Enter")
            page.locator('iframe[data-testid="tg-widget"]').wait_for(timeout=180_000)
            frame = page.frame_locator('iframe[data-testid="tg-widget"]')
            play = frame.locator('[data-testid="play"]')
            play.wait_for(timeout=180_000)
            loss = frame.locator('[data-testid="loss-train"]')
            deadline = time.monotonic() + 120
            while loss.text_content() in ("–", ""):  # the first frame from the kernel
                assert time.monotonic() < deadline, "no frame"
                time.sleep(0.25)
            first = float(loss.text_content())
            assert frame.locator('[data-i18n="web.data"]').text_content() == "データ"  # the widget's language
            play.click()

            def epoch() -> int:
                return int(frame.locator('[data-testid="epoch"]').text_content().replace(",", ""))

            deadline = time.monotonic() + 120
            while epoch() < 20:
                assert time.monotonic() < deadline, f"epoch {epoch()}"
                time.sleep(0.25)
            play.click()  # pause
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-widget.png"), full_page=True)
            assert epoch() >= 20
            assert float(loss.text_content()) < first
        finally:
            browser.close()
