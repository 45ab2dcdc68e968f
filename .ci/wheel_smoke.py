"""Smoke test of an installed wheel (``make test-wheel``): train two epochs and start the server.

Run with the fresh virtual environment's Python from an empty folder:
``venv/bin/python wheel_smoke.py``. Exits non-zero, saying what failed, when the package
does not train, does not save the run, or the server does not answer its page.
"""

import json
import pathlib
import re
import signal
import subprocess
import sys
import urllib.request

bin_dir = pathlib.Path(sys.executable).parent
cli = str(bin_dir / "torchground")


def check(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"wheel smoke test failed: {what}")


done = subprocess.run([cli, "train", "--epochs", "2", "--out", "run", "--quiet", "--device", "cpu"], capture_output=True, text=True)
check(done.returncode == 0, f"train exited {done.returncode}: {done.stderr[-2000:]}")
summary = json.loads(pathlib.Path("run/summary.json").read_text())
check(summary["status"] == "completed" and summary["epochs"] == 2, f"summary {summary}")
version = subprocess.run([sys.executable, "-m", "torchground", "--version"], capture_output=True, text=True)
check(version.returncode == 0 and version.stdout.startswith("torchground "), f"--version: {version.stdout!r}")

server = subprocess.Popen([cli, "serve", "--port", "0", "--no-open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    url = None
    for line in server.stdout:  # the first lines name the URL with its token
        found = re.search(r"http://\S+", line)
        if found:
            url = found.group(0)
            break
    check(url is not None, "serve printed no URL")
    with urllib.request.urlopen(url, timeout=60) as answer:
        page = answer.read().decode("utf-8", "replace")
    check(answer.status == 200 and "<html" in page.lower(), f"serve answered {answer.status}")
finally:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
print("wheel smoke test: train, --version and serve all work from the installed wheel")
