"""Jupyter in a browser, for the widget's tests: a headless server of one app (JupyterLab 4 or
Notebook 7) holding a notebook of given cells, cells run as a learner runs them (click,
Shift+Enter), their output read back, and the widget's frame found.

One server per app and module: :func:`jupyter_server` starts it in its own folder (config and
runtime folders too, so nothing of the machine's Jupyter set-up leaks in) and stops it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from browser_support import ARTIFACTS

TOKEN = "jupyter-test-token"
NOTEBOOK = "widget.ipynb"
#: app -> the page of a notebook in it.
APPS = {"lab": "/lab/tree/" + NOTEBOOK, "notebook": "/notebooks/" + NOTEBOOK}
WIDGET = 'iframe[data-testid="tg-widget"]'
_WAIT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path, cells: list[str]) -> None:
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [], "source": src}
                  for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")


@contextmanager
def jupyter_server(app: str, root: Path, cells: list[str]) -> Iterator[str]:
    """Serve ``root`` (holding a notebook of ``cells``) with ``jupyter <app>``; → the notebook's URL."""
    _write_notebook(root / NOTEBOOK, cells)
    port = _free_port()
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".config"), "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    quiet = ["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"] if app == "lab" else []
    proc = subprocess.Popen(
        [str(jupyter), app, "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True", *quiet],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, f"jupyter {app} did not start"
                time.sleep(0.5)
        yield f"{base}{APPS[app]}?token={TOKEN}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root / ".runtime", ignore_errors=True)


def _kernel_idle(url: str) -> bool:
    base = url.split("/lab/")[0].split("/notebooks/")[0]
    try:
        with urllib.request.urlopen(f"{base}/api/kernels?token={TOKEN}", timeout=5) as answer:
            kernels = json.load(answer)
    except OSError:  # the server is still setting the kernel up
        return False
    return bool(kernels) and all(k.get("execution_state") == "idle" for k in kernels)


class NotebookPage:
    """A notebook open in a Playwright page: run its cells, read their output, find the widget."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        #: uncaught errors of the page and its frames, and console errors: said when a wait fails
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"{exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.goto(url)
        self.cells = page.locator(".jp-Notebook .jp-Cell")
        self.cells.first.wait_for(timeout=_WAIT_MS)
        deadline = time.monotonic() + _WAIT_MS / 1000
        while not _kernel_idle(url):  # the kernel the page started is up
            assert time.monotonic() < deadline, "the kernel did not start"
            time.sleep(0.25)
        # the page's own connection to it: the kernel's status shown as idle
        page.wait_for_function(
            "() => document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]') !== null"
            " || document.body.innerText.includes('Idle')", timeout=_WAIT_MS)

    def run(self, index: int) -> None:
        """Run cell ``index`` as a learner does: click into it, Shift+Enter."""
        self.cells.nth(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")

    def wait(self, pred: Callable[[], Any], what: str, seconds: float = _WAIT_MS / 1000) -> None:
        """Wait until ``pred()``; else fail with ``what``, the page's errors and a screenshot."""
        deadline = time.monotonic() + seconds
        while not pred():
            if time.monotonic() > deadline:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shot = ARTIFACTS / f"jupyter-failed-{int(time.time())}.png"
                self.page.screenshot(path=str(shot), full_page=True)
                raise AssertionError(f"{what}; errors in the page: {self.errors}; screenshot: {shot}")
            time.sleep(0.25)

    def output(self, index: int, contains: str) -> str:
        """Cell ``index``'s output text, once it contains ``contains``."""
        out = self.cells.nth(index).locator(".jp-OutputArea-output")
        self.wait(lambda: contains in " ".join(out.all_text_contents()),
                  f"cell {index}'s output has no {contains!r}: {' '.join(out.all_text_contents())!r}")
        return " ".join(out.all_text_contents())

    def widget(self) -> tuple[Any, Any]:
        """The widget's page, once it shows: (its frame locator, its Frame for ``evaluate``)."""
        locator = self.page.frame_locator(WIDGET)
        self.wait(lambda: locator.locator('[data-testid="play"]').count() == 1, "the widget did not show")
        frame = self.page.locator(WIDGET).element_handle().content_frame()
        return locator, frame
