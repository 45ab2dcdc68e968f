"""The browser playground's speed: epochs (and frames) per second the page shows while playing.

Starts the real server (``create_app``, in a subprocess as ``torchground serve`` runs it),
then, on the same machine and settings, measures side by side:

1. the page: headless Chromium (Debian's ``/usr/bin/chromium``) opens the page, every heat
   map on (features, neurons, output; training, validation and test points drawn), presses
   play and reads the epoch counter the page shows and the frames it drew; then it parses
   and draws the last frame again 200 times to time the page's own work per frame;
2. the server alone: a WebSocket client without a browser sends ``init``, the same ``fps``
   as the page and ``play``, and counts the frames that arrive (each frame is one epoch).

Each is measured over ``--seconds`` after a warm-up second; the target is at least 60
epochs/s on screen at the default set-up (the Playground's one epoch per animation frame).
``--cpus 2`` pins the server and the browser to two cores, as on a small laptop.

    python bench/ui.py [--seconds 5] [--query "dataset=spiral&hidden=8,8,8"] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from websockets.sync.client import connect

CHROMIUM = "/usr/bin/chromium"
TOKEN = "bench-ui-token"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SERVER = """
import sys, uvicorn
from torchground.server.app import create_app
uvicorn.run(create_app(sys.argv[1], lang="en"), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", access_log=False, lifespan="off")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, TOKEN, str(port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def server_alone(port: int, query: str, fps: int, seconds: float) -> float:
    """Epochs/s the server sends to a client that only counts frames."""
    origin = f"http://127.0.0.1:{port}"
    with connect(f"ws://127.0.0.1:{port}/ws?token={TOKEN}", origin=origin, max_size=None) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "init", "query": query, "lang": "en"}))
        while json.loads(ws.recv())["type"] != "frame":
            pass
        ws.send(json.dumps({"type": "fps", "value": fps}))
        ws.send(json.dumps({"type": "play"}))
        epochs: list[tuple[float, int]] = []
        end = time.monotonic() + 1.0 + seconds
        while time.monotonic() < end:
            msg = json.loads(ws.recv())
            if msg["type"] == "frame":
                epochs.append((time.monotonic(), msg["epoch"]))
            elif msg["type"] in ("diverged", "error"):
                raise SystemExit(f"server: {msg['message']}")
        ws.send(json.dumps({"type": "pause"}))
        drain(ws)
    start = next(i for i, (t, _) in enumerate(epochs) if t >= epochs[0][0] + 1.0)  # after the warm-up second
    (t0, e0), (t1, e1) = epochs[start], epochs[-1]
    return (e1 - e0) / (t1 - t0)


def drain(ws: object, quiet_s: float = 1.0) -> None:
    """Read until the server has been quiet for ``quiet_s``: the pause is answered before
    the socket closes (the server logs a traceback for an answer to a closed socket)."""
    while True:
        try:
            ws.recv(timeout=quiet_s)  # type: ignore[attr-defined]
        except TimeoutError:
            return


def page_speed(port: int, query: str, seconds: float) -> dict[str, float]:
    """Epochs/s shown, frames/s drawn and frames/s received by the page while playing."""
    from playwright.sync_api import sync_playwright

    view = "show_train=1&show_val=1&show_test=1"
    url = f"http://127.0.0.1:{port}/?token={TOKEN}" + (f"&{query}" if query else "") + f"&{view}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_function("window.__tg && window.__tg.framesDrawn > 0", timeout=60_000)
        page.get_by_test_id("play").click()
        page.wait_for_timeout(1000)
        read = "() => [performance.now(), window.__tg.framesDrawn, window.__tg.framesReceived," \
               " Number(document.querySelector('[data-testid=epoch]').textContent.replace(',', ''))]"
        fps_asked = page.evaluate("window.__tg.fps")
        t0, d0, r0, shown0 = page.evaluate(read)
        page.wait_for_timeout(seconds * 1000)
        t1, d1, r1, shown1 = page.evaluate(read)
        # the page's own cost: parse and draw the last frame again, main thread only
        per_frame_ms = page.evaluate("window.__tg.replay(200)")
        # responsiveness while playing: how long a click on a control takes to be handled
        click_start = time.monotonic()
        page.get_by_test_id("show-test").click()
        click_ms = (time.monotonic() - click_start) * 1000
        page.get_by_test_id("play").click()
        quiet = "() => { const n = window.__tg.framesReceived; return new Promise((ok) => setTimeout(() => ok(n), 1000)); }"
        while page.evaluate(quiet) != page.evaluate("window.__tg.framesReceived"):
            pass  # as in drain(): the pause is answered before the page closes
        browser.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    dt = (t1 - t0) / 1000
    return {
        "epochs_shown_per_s": (shown1 - shown0) / dt,
        "frames_drawn_per_s": (d1 - d0) / dt,
        "frames_received_per_s": (r1 - r0) / dt,
        "click_ms": click_ms,
        "page_ms_per_frame": per_frame_ms,
        "fps_asked": fps_asked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time of each run (default 5)")
    parser.add_argument("--query", default="", help="URL state to measure (default: the playground's defaults)")
    parser.add_argument("--fps", type=int, default=0, help="fps asked of the server alone (default: what the page asked)")
    parser.add_argument("--cpus", type=int, default=0, help="pin everything to this many cores (default: all)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium")
    if args.cpus:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cpus]))  # children inherit it
    cores = len(os.sched_getaffinity(0))
    port = free_port()
    server = start_server(port)
    try:
        page = page_speed(port, args.query, args.seconds)
        fps = args.fps or int(page["fps_asked"])
        alone = server_alone(port, args.query, fps, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"set-up: {args.query or 'defaults'} · {cores} cores · {args.seconds:g} s each")
    print(f"server alone (fps {fps}, no browser):   {alone:6.1f} epochs/s")
    print(f"page (fps {page['fps_asked']:.0f}, every heat map on): {page['epochs_shown_per_s']:6.1f} epochs/s shown, "
          f"{page['frames_drawn_per_s']:.1f} frames/s drawn, {page['frames_received_per_s']:.1f} frames/s received")
    ms = page["page_ms_per_frame"]
    print(f"page work per frame:      {ms:6.2f} ms main thread (JSON.parse + decode + draw + layout: "
          f"{1000 / ms:.0f} frames/s possible)")
    print(f"a click while playing:    {page['click_ms']:6.0f} ms (Playwright's round trip)")
    target = 60
    verdict = "ok" if page["epochs_shown_per_s"] >= target else "BELOW TARGET"
    print(f"target ≥ {target} epochs/s on screen: {verdict}")


if __name__ == "__main__":
    main()
