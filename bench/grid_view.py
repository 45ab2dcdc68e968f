"""The grid view's speed: frames per second with 64 networks training side by side.

Starts the real server (as ``bench/ui.py`` does: ``create_app`` in a subprocess), then
measures, on the same machine and settings:

1. the server alone: a WebSocket client sends ``init``, ``fps``, ``grid`` (learning rate ×
   initial seed, the page's default values: 8 × 8 = 64 networks) and ``play``, and counts
   the ``grid_frame`` messages that arrive (each a finished epoch of all 64 networks, with
   their 64 maps and losses) and their size;
2. the page: headless Chromium (Debian's ``/usr/bin/chromium``) opens the page, opens the
   grid view (the same 64 networks), presses play and reads the frames it drew and the
   epoch it shows.

Each is measured over ``--seconds`` after a warm-up second; the target is at least 30
frames/s with 64 networks.

    python bench/grid_view.py [--seconds 5] [--fps 75] [--axes "lr=...;init_seed=0..7"] [--no-page]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from ui import CHROMIUM, LAUNCH_ARGS, TOKEN, drain, free_port, start_server
from websockets.sync.client import connect

from torchground.server.grid_axes import GRID_FIELDS

TARGET_FPS = 30


def parse_axes(text: str) -> list[dict[str, str]]:
    """``"lr=0.1,1;init_seed=0..7"`` → the ``grid`` message's axes."""
    axes = []
    for item in filter(None, (p.strip() for p in text.split(";"))):
        field, _, values = item.partition("=")
        axes.append({"field": field.strip(), "values": values.strip()})
    return axes


def server_alone(port: int, axes: list[dict[str, str]], fps: int, seconds: float) -> dict[str, float]:
    """Grid frames/s (and epochs/s, bytes per frame) a client that only counts them receives."""
    origin = f"http://127.0.0.1:{port}"
    with connect(f"ws://127.0.0.1:{port}/ws?token={TOKEN}", origin=origin, max_size=None) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "init", "query": "", "lang": "en"}))
        while json.loads(ws.recv())["type"] != "frame":
            pass
        ws.send(json.dumps({"type": "fps", "value": fps}))
        ws.send(json.dumps({"type": "grid", "axes": axes}))
        tiles = 0
        while True:
            msg = json.loads(ws.recv())
            if msg["type"] == "error":
                raise SystemExit(f"server: {msg['message']}")
            if msg["type"] == "grid_state":
                tiles = len(msg["tiles"])
            if msg["type"] == "grid_frame":
                break
        ws.send(json.dumps({"type": "play"}))
        frames: list[tuple[float, int, int]] = []
        end = time.monotonic() + 1.0 + seconds
        while time.monotonic() < end:
            raw = ws.recv()
            msg = json.loads(raw)
            if msg["type"] == "grid_frame":
                frames.append((time.monotonic(), msg["epoch"], len(raw)))
            elif msg["type"] == "error":
                raise SystemExit(f"server: {msg['message']}")
        ws.send(json.dumps({"type": "pause"}))
        drain(ws)
    start = next(i for i, (t, _, _) in enumerate(frames) if t >= frames[0][0] + 1.0)  # after the warm-up second
    kept = frames[start:]
    dt = kept[-1][0] - kept[0][0]
    return {
        "tiles": tiles,
        "frames_per_s": (len(kept) - 1) / dt,
        "epochs_per_s": (kept[-1][1] - kept[0][1]) / dt,
        "frame_bytes": sum(b for _, _, b in kept) / len(kept),
    }


def page_speed(port: int, seconds: float) -> dict[str, float]:
    """Grid frames/s drawn and epochs/s shown by the page while the grid plays."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        # bypass_csp: the bench evaluates JavaScript in the page (as the browser tests do); the page keeps its CSP
        page = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        page.wait_for_function("window.__tg && window.__tg.framesDrawn > 0", timeout=60_000)
        page.get_by_test_id("grid-open").click()
        page.wait_for_function("window.__tg.grid.tiles > 0 && window.__tg.grid.framesDrawn > 0", timeout=60_000)
        tiles = page.evaluate("window.__tg.grid.tiles")
        page.get_by_test_id("grid-play").click()
        page.wait_for_timeout(1000)
        read = "() => [performance.now(), window.__tg.grid.framesDrawn, window.__tg.grid.framesReceived, window.__tg.grid.epoch]"
        t0, d0, r0, e0 = page.evaluate(read)
        page.wait_for_timeout(seconds * 1000)
        t1, d1, r1, e1 = page.evaluate(read)
        page.get_by_test_id("grid-play").click()
        quiet = "() => { const n = window.__tg.grid.framesReceived; return new Promise((ok) => setTimeout(() => ok(n), 1000)); }"
        while page.evaluate(quiet) != page.evaluate("window.__tg.grid.framesReceived"):
            pass  # the pause is answered before the page closes
        browser.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    dt = (t1 - t0) / 1000
    return {"tiles": tiles, "frames_drawn_per_s": (d1 - d0) / dt, "frames_received_per_s": (r1 - r0) / dt,
            "epochs_shown_per_s": (e1 - e0) / dt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time of each run (default 5)")
    parser.add_argument("--fps", type=int, default=75, help="fps asked of the server alone (default 75, the page's least)")
    parser.add_argument("--axes", default=f"lr={GRID_FIELDS['lr']};init_seed={GRID_FIELDS['init_seed']}",
                        help="the grid, as field=values;field=values (default: learning rate × initial seed, 64 networks)")
    parser.add_argument("--no-page", action="store_true", help="measure the server alone (no browser)")
    args = parser.parse_args()
    if not args.no_page and not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium, or pass --no-page")
    axes = parse_axes(args.axes)
    load = os.getloadavg()
    port = free_port()
    server = start_server(port)
    try:
        alone = server_alone(port, axes, args.fps, args.seconds)
        page = None if args.no_page else page_speed(port, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"set-up: {args.axes} · {len(os.sched_getaffinity(0))} cores · {args.seconds:g} s each · "
          f"load average before {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, after {os.getloadavg()[0]:.1f}")
    print(f"server alone (fps {args.fps}, {alone['tiles']:.0f} networks): {alone['frames_per_s']:6.1f} grid frames/s, "
          f"{alone['epochs_per_s']:.1f} epochs/s, {alone['frame_bytes'] / 1024:.0f} KiB a frame")
    shown = alone["frames_per_s"]
    if page is not None:
        print(f"page ({page['tiles']:.0f} networks): {page['frames_drawn_per_s']:6.1f} frames/s drawn, "
              f"{page['frames_received_per_s']:.1f} frames/s received, {page['epochs_shown_per_s']:.1f} epochs/s shown")
        shown = page["frames_drawn_per_s"]
    print(f"target ≥ {TARGET_FPS} frames/s with 64 networks: {'ok' if shown >= TARGET_FPS else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
