"""Tests for the server's promises under hostile or unlucky use, against the real server
(``torchground serve`` in a subprocess): security headers, the Host check and the port-bound
cookie; a tab cannot take the server (closing it cancels its work, pause answers, another
tab gets its first frame, SIGTERM stops the server).

Waits have generous limits (seconds, where the work is milliseconds): a limit is only hit
when the promise is broken, as it was before (a closed tab kept a CPU busy for half an hour;
a new tab got no frame for minutes).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.sync.client import connect

from torchground.server.urlstate import UrlState, to_query
from torchground.spec import Spec

pytestmark = pytest.mark.slow  # subprocesses: tens of seconds on a small CPU

#: An L-BFGS spec within every cap whose epoch takes minutes (a step is tens of milliseconds, 1000 steps).
SLOW = to_query(UrlState(Spec(optimizer="lbfgs", optimizer_args={"max_iter": 100}, n_samples=2000, batch_size=1,
                              hidden=(8,) * 6, lr=0.1), (), {}))


class Server:
    """``torchground serve --port 0 --no-open`` in a subprocess; its port and token read from its output."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "TORCHGROUND_LANG": "en"}
        self.proc = subprocess.Popen([sys.executable, "-c", "import sys; from torchground.cli import main; sys.exit(main())",
                                      "serve", "--port", "0", "--no-open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        line = self.proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", line)
        assert found, line + self.proc.stderr.read()
        self.port, self.token = int(found.group(1)), found.group(2)

    def get(self, path: str, host: str | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{self.port}"})
        response = conn.getresponse()
        response.read()
        return response

    def ws(self) -> Any:
        return connect(f"ws://127.0.0.1:{self.port}/ws?token={self.token}", origin=f"http://127.0.0.1:{self.port}",
                       max_size=1 << 22, open_timeout=30)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def until(ws: Any, kind: str, timeout: float = 60.0, **match: Any) -> dict[str, Any]:
    """The next message of type ``kind`` (matching ``match``), within ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        msg = json.loads(ws.recv(timeout=max(end - time.monotonic(), 0.01)))
        if msg["type"] == kind and all(msg.get(k) == v for k, v in match.items()):
            return msg


def start_slow(s: Server) -> Any:
    ws = s.ws()
    ws.send(json.dumps({"type": "init", "query": SLOW}))
    until(ws, "state")
    until(ws, "frame")
    ws.send(json.dumps({"type": "play"}))
    until(ws, "frame", running=True)  # a slice in: the epoch is under way
    return ws


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the server's CPU time from /proc")
def test_security_headers_host_check_and_cookie(server):
    ok = server.get(f"/api/options?token={server.token}")
    assert ok.status == 200
    for response in (ok, server.get("/api/options")):  # the refusal too
        assert "frame-ancestors 'none'" in response.getheader("content-security-policy")
        assert "script-src 'self'" in response.getheader("content-security-policy")
        assert response.getheader("x-frame-options") == "DENY"
    cookie = ok.getheader("set-cookie")
    assert cookie.startswith(f"tg_token_{server.port}={server.token};") and "HttpOnly" in cookie
    assert server.get(f"/api/options?token={server.token}", host=f"evil.example:{server.port}").status == 400  # DNS rebinding
    assert server.get(f"/api/options?token={server.token}", host=f"127.0.0.1:{server.port + 1}").status == 400
    assert server.get(f"/api/options?token={server.token}", host=f"localhost:{server.port}").status == 200
    with pytest.raises(Exception):  # a WebSocket under a foreign Host is closed before it opens
        with connect(f"ws://127.0.0.1:{server.port}/ws?token={server.token}", origin=f"http://evil.example:{server.port}",
                     additional_headers={"Host": f"evil.example:{server.port}"}, open_timeout=30) as ws:
            ws.recv(timeout=30)


@pytest.mark.slow
def test_closing_a_flooding_tab_cancels_its_work(server):
    ws = start_slow(server)
    for _ in range(30):
        ws.send(json.dumps({"type": "step"}))
    ws.close()
    time.sleep(1.0)  # the slice in flight ends (a fraction of a second)
    before = server.cpu_seconds()
    time.sleep(2.0)
    assert server.cpu_seconds() - before < 0.5  # idle, where the queued epochs would keep a CPU busy


@pytest.mark.slow
def test_pause_answers_and_another_tab_gets_its_first_frame(server):
    tabs = [start_slow(server) for _ in range(3)]
    fresh = server.ws()
    started = time.monotonic()
    fresh.send(json.dumps({"type": "init"}))
    until(fresh, "state", timeout=30)
    until(fresh, "frame", timeout=30)
    first_frame = time.monotonic() - started
    tabs[0].send(json.dumps({"type": "pause"}))
    paused = until(tabs[0], "frame", timeout=30, running=False)
    assert paused["epoch"] == 0  # answered mid-epoch, without waiting for the minutes-long epoch
    assert first_frame < 30
    for ws in (*tabs, fresh):
        ws.close()


@pytest.mark.slow
def test_sigterm_stops_a_busy_server():
    server = Server()
    try:
        tabs = [start_slow(server) for _ in range(2)]
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) is not None
        for ws in tabs:
            ws.close()
    finally:
        server.stop()
