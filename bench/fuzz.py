"""Long fuzz runs: the CI fuzz targets (``tests/fuzz/targets.py``) with many more cases, and
fuzzed ``torchground`` command lines in subprocesses.

Reports, per target and in total: cases run, tracebacks (anything but the project's own errors;
grouped by type and first line), hangs (a case over ``--case-timeout`` seconds) and, for the
command lines, files created outside ``--out`` (each command runs in an empty folder with
``--out`` inside a folder of its own; anything else new in that folder is counted).

Usage::

    .venv/bin/python bench/fuzz.py --cases 10000 --cli 40 [--seed 0] [--json report.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.fuzz.targets import TARGETS, check  # noqa: E402


class _Hang(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang


def fuzz_target(name: str, cases: int, case_timeout: float, seed: int) -> dict[str, Any]:
    """Run ``cases`` generated inputs through target ``name``; findings are recorded, not raised."""
    _, strategy = TARGETS[name]
    found: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    count = {"cases": 0, "hangs": 0}

    @settings(max_examples=cases, deadline=None, database=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value: Any) -> None:
        count["cases"] += 1
        signal.setitimer(signal.ITIMER_REAL, case_timeout)
        try:
            check(name, value)
        except _Hang:
            count["hangs"] += 1
            examples.setdefault("hang", repr(value)[:300])
        except Exception as exc:  # a finding: a traceback a user would see
            key = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
            found[key] += 1
            examples.setdefault(key, repr(value)[:300] + "\n" + "".join(traceback.format_exception(exc))[-1500:])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    random.seed(seed)
    run()
    return {"cases": count["cases"], "tracebacks": sum(found.values()), "hangs": count["hangs"], "kinds": dict(found),
            "examples": examples}


# ----------------------------------------------------------------------------- command lines
_COMMANDS = [["train", "--epochs", "1"], ["sweep", "--grid", "lr=0.1,0.3", "--epochs", "1"], ["data", "circle"], ["graph"],
             ["grad"], ["lesson", "1"], ["explore"], ["info"]]
_FLAGS = ["--lr", "--epochs", "--hidden", "--optimizer", "--opt", "--activation", "--loss", "--batch-size", "--n-samples",
          "--noise", "--dataset", "--features", "--seed", "--dtype", "--device", "--grid", "--config", "--lang", "--patience",
          "--val-pct", "--test-pct", "--init", "--weight-decay", "--url"]
_VALUES = ["0", "-1", "1e308", "nan", "inf", "", " ", "x", "9" * 5000, "\udcff", "relu", "lbfgs", "history_size=-1",
           "line_search_fn=a", "dampening=x", "alpha=1e30", "step_sizes=0", "8,8,8,8,8,8,8,8,8", "../../etc/passwd",
           "/dev/null", "circle", "full", "ja", "sgd", "momentum=2", "seed=0..99999", "lr=" + ",".join(["0.1"] * 50),
           "a" * 300, "tf-playground", "https://playground.tensorflow.org/#x", "1" * 20]


def fuzz_cli(cases: int, timeout: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    found: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    hangs = outside = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TORCHGROUND_LANG": "en", "MPLBACKEND": "Agg"}
    for _ in range(cases):
        argv = list(rng.choice(_COMMANDS))
        for _ in range(rng.randint(0, 3)):
            argv += [rng.choice(_FLAGS), rng.choice(_VALUES)]
        with tempfile.TemporaryDirectory() as cwd:
            out_root = Path(cwd) / "out"
            out_root.mkdir()
            target = out_root / ("points.csv" if argv[0] == "data" else "run")
            if argv[0] not in ("explore", "info"):
                argv += ["--out", str(target)]
            args = [a.encode("utf-8", "surrogateescape") for a in argv]
            try:
                done = subprocess.run([sys.executable, "-m", "torchground", *args], cwd=cwd, env=env, capture_output=True,
                                      timeout=timeout)
            except subprocess.TimeoutExpired:
                hangs += 1
                examples.setdefault("hang", " ".join(argv)[:300])
                continue
            err = done.stderr.decode("utf-8", "replace")
            if "Traceback" in err:
                last = err.strip().splitlines()[-1][:160]
                found[last] += 1
                examples.setdefault(last, " ".join(argv)[:300])
            made = [p.name for p in Path(cwd).iterdir() if p.name != "out"]
            if made:
                outside += 1
                examples.setdefault("outside", " ".join(argv)[:300] + " -> " + ", ".join(made))
    return {"cases": cases, "tracebacks": sum(found.values()), "hangs": hangs, "files_outside_out": outside,
            "kinds": dict(found), "examples": examples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="in-process cases in all, shared by the targets")
    parser.add_argument("--cli", type=int, default=40, help="fuzzed command lines (subprocesses)")
    parser.add_argument("--case-timeout", type=float, default=20.0, help="seconds before an in-process case counts as a hang")
    parser.add_argument("--cli-timeout", type=float, default=120.0, help="seconds before a command counts as a hang")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the full report here")
    opts = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    report: dict[str, Any] = {"targets": {}}
    per = max(opts.cases // len(TARGETS), 1)
    started = time.monotonic()
    for name in sorted(TARGETS):
        t0 = time.monotonic()
        result = fuzz_target(name, per, opts.case_timeout, opts.seed)
        report["targets"][name] = result
        print(f"{name:16s} cases {result['cases']:6d}  tracebacks {result['tracebacks']:4d}  hangs {result['hangs']:3d}  "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        for kind, n in result["kinds"].items():
            print(f"    {n:5d} × {kind}")
    if opts.cli:
        t0 = time.monotonic()
        report["cli"] = cli = fuzz_cli(opts.cli, opts.cli_timeout, opts.seed)
        print(f"{'command lines':16s} cases {cli['cases']:6d}  tracebacks {cli['tracebacks']:4d}  hangs {cli['hangs']:3d}  "
              f"files outside --out {cli['files_outside_out']}  ({time.monotonic() - t0:.0f} s)", flush=True)
        for kind, n in cli["kinds"].items():
            print(f"    {n:5d} × {kind}")
    targets = report["targets"].values()
    total = {"cases": sum(r["cases"] for r in targets) + report.get("cli", {}).get("cases", 0),
             "tracebacks": sum(r["tracebacks"] for r in targets) + report.get("cli", {}).get("tracebacks", 0),
             "hangs": sum(r["hangs"] for r in targets) + report.get("cli", {}).get("hangs", 0),
             "files_outside_out": report.get("cli", {}).get("files_outside_out", 0),
             "seconds": round(time.monotonic() - started)}
    report["total"] = total
    print("total:", json.dumps(total))
    if opts.json:
        opts.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 1 if total["tracebacks"] or total["hangs"] or total["files_outside_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
