"""Soak bench: N browser-like sessions for T minutes through the real server (``torchground
serve`` in a subprocess), recording the server's memory and CPU and every client's step latency.

Each playing client opens a WebSocket, builds the default playground and plays; its frame
interval is the time between two frames of its play loop (how smoothly a playing tab animates;
with more tabs than CPUs each gets its share, so this grows with the number of tabs). At a
quarter, half and three quarters of the run a *fresh tab* opens while the others play: it
measures its first frame (``init`` to the first ``frame``), then sends ``step`` messages one
at a time, a user's pace apart, and times each one from the ``step`` sent to the frame that
answers it: the issue's "step p95 while the others train". At the end all tabs close and the
time until the server's CPU is back to idle is measured.

Reports: errors (``error`` messages, dropped connections), the fresh tabs' first frames and
step latency p50/p95/max, the playing tabs' frame interval p50/p95/max and frames per second,
server RSS after the first minute (or the first sixth of a shorter run), at the end, the
largest, and its growth per minute after that point (a least-squares line), CPU while
playing, seconds to idle after the last tab closed, and the machine's load average before and
after (the CPU may be shared with other work).

Usage::

    .venv/bin/python bench/soak.py --sessions 20 --minutes 10        # the full soak
    .venv/bin/python bench/soak.py --sessions 6 --minutes 1          # a short one
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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


def ws_connect(port: int, token: str) -> Any:
    return connect(f"ws://127.0.0.1:{port}/ws?token={token}", origin=f"http://127.0.0.1:{port}",
                   max_size=1 << 23, open_timeout=60)


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
        return ws_connect(self.port, self.token)

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
    """One playing tab: init, play, and time every frame of the play loop until told to stop."""

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
                    raw = ws.recv(timeout=60)
                    head = raw[:80]  # only the head is read: parsing every frame would load this process
                    if not head.startswith('{"type":"frame"'):
                        msg = json.loads(raw)
                        if msg["type"] == "error":
                            self.errors.append(msg["message"][:200])
                    elif '"running":true' in head:
                        now = time.monotonic()
                        if last is not None:
                            self.latencies.append(now - last)
                        last = now
        except Exception as exc:  # a dropped connection counts as an error
            self.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def fresh_tab(port: int, token: str, steps: int, think: float) -> tuple[float, list[float], list[str]]:
    """A tab opened while the others play: seconds to its first frame, each step's seconds
    (``step`` sent to its answering frame), and any errors. Runs in a process of its own, so
    the playing clients' threads do not delay its clock readings."""
    errors: list[str] = []
    latencies: list[float] = []
    started = time.monotonic()
    try:
        with ws_connect(port, token) as ws:
            ws.send(json.dumps({"type": "init"}))
            while (msg := json.loads(ws.recv(timeout=120)))["type"] != "frame":
                if msg["type"] == "error":
                    errors.append(msg["message"][:200])
            first = time.monotonic() - started
            epoch = msg["epoch"]
            for _ in range(steps):
                time.sleep(think)
                sent = time.monotonic()
                ws.send(json.dumps({"type": "step"}))
                while True:
                    msg = json.loads(ws.recv(timeout=120))
                    if msg["type"] == "error":
                        errors.append(msg["message"][:200])
                        break
                    if msg["type"] == "frame" and msg["epoch"] > epoch:
                        latencies.append(time.monotonic() - sent)
                        epoch = msg["epoch"]
                        break
    except Exception as exc:  # a dropped connection counts as an error
        errors.append(f"{type(exc).__name__}: {exc}"[:200])
        first = float("nan")
    return first, latencies, errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def ms(values: list[float]) -> dict[str, float]:
    return {"count": len(values), "p50": 1000 * percentile(values, 0.5), "p95": 1000 * percentile(values, 0.95),
            "max": 1000 * max(values, default=float("nan"))}


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return None
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return 60.0 * sum((t - mt) * (v - mv) for t, v in points) / den if den else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--probe-steps", type=int, default=40, help="steps each fresh tab times")
    parser.add_argument("--think", type=float, default=0.2, help="seconds a fresh tab waits between steps")
    parser.add_argument("--json", type=Path, help="write the report here")
    opts = parser.parse_args()
    seconds = opts.minutes * 60
    load_before = os.getloadavg()
    server = Server()
    stop = threading.Event()
    clients = [Client(server, stop) for _ in range(opts.sessions)]
    for c in clients:
        c.start()
    samples: list[tuple[float, float, float]] = []  # (t, rss MB, cpu %)
    start = time.monotonic()
    probes: list[tuple[float, list[float], list[str]]] = []
    probe_at = [seconds * q for q in (0.25, 0.5, 0.75)]
    pool = multiprocessing.get_context("spawn").Pool(1)  # started now, before it is timed
    probe: Any = None
    settle = min(60.0, seconds / 6)
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(1.0)
        samples.append((elapsed, server.rss_mb(), server.cpu_percent()))
        if probe is not None and probe.ready():
            probes.append(probe.get())
            probe = None
        if probe_at and elapsed >= probe_at[0] and probe is None:
            probe_at.pop(0)
            probe = pool.apply_async(fresh_tab, (server.port, server.token, opts.probe_steps, opts.think))
    if probe is not None:
        probes.append(probe.get(timeout=300))
    pool.close()
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
    intervals = [x for c in clients for x in c.latencies]
    errors = [e for c in clients for e in c.errors] + [e for p in probes for e in p[2]]
    after_settle = [s for s in samples if s[0] >= settle]
    import torch  # only for the report (the server runs in its own process)

    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "torch": torch.__version__,
        "cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "sessions": opts.sessions, "minutes": opts.minutes, "errors": len(errors), "error_examples": errors[:5],
        "fresh_tab_first_frame_s": [p[0] for p in probes],
        "fresh_tab_step_ms": ms([x for p in probes for x in p[1]]),
        "play_frame_interval_ms": ms(intervals),
        "play_frames_per_tab_per_s": len(intervals) / max(seconds, 1e-9) / max(opts.sessions, 1),
        "rss_mb": {"after_settle": after_settle[0][1] if after_settle else None, "end": samples[-1][1] if samples else None,
                   "max": max((s[1] for s in samples), default=None),
                   "growth_per_min_after_settle": slope_per_minute([(s[0], s[1]) for s in after_settle])},
        "cpu_percent_mean": statistics.fmean(s[2] for s in samples) if samples else None,
        "idle_after_close_s": idle_after,
    }
    print(json.dumps(report, indent=2))
    if opts.json:
        opts.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
