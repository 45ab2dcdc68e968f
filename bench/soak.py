"""Soak bench: N browser-like sessions for T minutes through the real server (``torchground
serve`` in a subprocess), recording the server's memory and CPU and every client's step latency.

Each client opens a WebSocket, builds the default playground and plays; its step latency is the
time between two frames of the play loop. Half-way through, a fresh tab measures its first frame
(``init`` to the first ``frame``) while the others train. At the end all tabs close and the time
until the server's CPU is back to idle is measured.

Reports: errors (``error`` messages, dropped connections), server RSS after the first minute (or
the first sixth of a shorter run) and at the end, CPU while playing, step latency p50/p95/max,
the fresh tab's first frame, seconds to idle after the last tab closed.

Usage::

    .venv/bin/python bench/soak.py --sessions 20 --minutes 10        # the full soak
    .venv/bin/python bench/soak.py --sessions 6 --minutes 1          # a short one
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]


class Server:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TORCHGROUND_LANG": "en"}
        self.proc = subprocess.Popen([sys.executable, "-m", "torchground", "serve", "--port", "0", "--no-open"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = self.proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
        if not found:
            raise SystemExit(f"the server did not start: {line!r}")
        self.port, self.token = int(found.group(1)), found.group(2)
        self._last = (time.monotonic(), self.cpu_seconds())

    def connect(self) -> Any:
        return connect(f"ws://127.0.0.1:{self.port}/ws?token={self.token}", origin=f"http://127.0.0.1:{self.port}",
                       max_size=1 << 23, open_timeout=60)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_percent(self) -> float:
        now, cpu = time.monotonic(), self.cpu_seconds()
        before_t, before_cpu = self._last
        self._last = (now, cpu)
        return 100.0 * (cpu - before_cpu) / max(now - before_t, 1e-9)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Client(threading.Thread):
    """One tab: init, play, and time every frame of the play loop until told to stop."""

    def __init__(self, server: Server, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.server, self.stop = server, stop
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            with self.server.connect() as ws:
                ws.send(json.dumps({"type": "init"}))
                ws.send(json.dumps({"type": "play"}))
                last = None
                while not self.stop.is_set():
                    msg = json.loads(ws.recv(timeout=60))
                    if msg["type"] == "error":
                        self.errors.append(msg["message"][:200])
                    elif msg["type"] == "frame" and msg.get("running"):
                        now = time.monotonic()
                        if last is not None:
                            self.latencies.append(now - last)
                        last = now
        except Exception as exc:  # a dropped connection counts as an error
            self.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def first_frame(server: Server) -> float:
    started = time.monotonic()
    with server.connect() as ws:
        ws.send(json.dumps({"type": "init"}))
        while json.loads(ws.recv(timeout=120))["type"] != "frame":
            pass
    return time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="write the report here")
    opts = parser.parse_args()
    seconds = opts.minutes * 60
    server = Server()
    stop = threading.Event()
    clients = [Client(server, stop) for _ in range(opts.sessions)]
    for c in clients:
        c.start()
    samples: list[tuple[float, float, float]] = []  # (t, rss MB, cpu %)
    start = time.monotonic()
    fresh = None
    settle = min(60.0, seconds / 6)
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(1.0)
        samples.append((elapsed, server.rss_mb(), server.cpu_percent()))
        if fresh is None and elapsed >= seconds / 2:
            fresh = first_frame(server)
    stop.set()
    for c in clients:
        c.join(timeout=120)
    closed = time.monotonic()
    server.cpu_percent()
    idle_after = None
    while time.monotonic() - closed < 60:
        time.sleep(0.25)
        if server.cpu_percent() < 5.0:
            idle_after = time.monotonic() - closed
            break
    server.stop()
    latencies = [x for c in clients for x in c.latencies]
    errors = [e for c in clients for e in c.errors]
    after_settle = [s for s in samples if s[0] >= settle]
    report = {
        "sessions": opts.sessions, "minutes": opts.minutes, "errors": len(errors), "error_examples": errors[:5],
        "steps": len(latencies),
        "step_latency_ms": {"p50": 1000 * percentile(latencies, 0.5), "p95": 1000 * percentile(latencies, 0.95),
                            "max": 1000 * max(latencies, default=float("nan"))},
        "fresh_tab_first_frame_s": fresh,
        "rss_mb": {"after_settle": after_settle[0][1] if after_settle else None, "end": samples[-1][1] if samples else None,
                   "max": max((s[1] for s in samples), default=None)},
        "cpu_percent_mean": statistics.fmean(s[2] for s in samples) if samples else None,
        "idle_after_close_s": idle_after,
    }
    print(json.dumps(report, indent=2))
    if opts.json:
        opts.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
