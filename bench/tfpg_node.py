"""One model, the curriculum's recipe: torchground's engines against TensorFlow Playground's own
engine in node, side by side in one run.

TensorFlow Playground's engine is its ``src/nn.ts`` compiled to JavaScript; it is not part
of torchground (Apache-2.0, not committed). Make it once, from a checkout of
``tensorflow/playground``, with TypeScript from the npm registry::

    python bench/tfpg_node.py --build-from /path/to/playground --tfpg /tmp/tfpg   # compile nn.ts once
    python bench/tfpg_node.py --tfpg /tmp/tfpg [--epochs 100] [--repeats 5]

The recipe (circle, 500 points, 250 for training, 2-3-3-1 tanh, tanh output, squared
error, SGD lr 0.03 with L2 0.03, batch 15) runs in four ways, alternating so that all see
the same machine state; medians are reported:

* ``loop`` — the curriculum's plain ``DataLoader`` loop (``bench/seed_recipe.py``);
* ``engine`` / ``engine --no-fused`` — torchground's stacked engine on one model
  (``train --engine fast``: the fused C kernel by default; ``--no-fused``: its eager steps);
* ``tfpg node`` — TensorFlow Playground's loop in node: for each training point
  ``forwardProp`` and ``backProp``, ``updateWeights`` every 15 points, and after each
  epoch the loss of the whole training and test sets, as its page does.

Each prints optimiser steps per second (TF Playground: weight updates per second) and its
ratio to the plain loop and to TF Playground. Data and initial weights are made before
the clock starts in every way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from torchground import Spec, make_data

from engine import default_one  # noqa: E402  (bench/ is on the path when run as a script)
from seed_recipe import plain_loop  # noqa: E402

# The driver node runs: TF Playground's own loop (playground.ts: oneStep and getLoss) on the
# points given as JSON on stdin; prints {"seconds": …, "steps": …, "losses": […]}.
DRIVER = r"""
const nn = require(process.argv[2]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const act = nn.Activations.TANH, reg = nn.RegularizationFunction.L2;
const net = nn.buildNetwork([2, ...input.hidden, 1], act, act, reg, ["x", "y"], false);
const loss = (points) => {
  let s = 0;
  for (const p of points) s += nn.Errors.SQUARE.error(nn.forwardProp(net, [p[0], p[1]]), p[2]);
  return s / points.length;
};
const losses = [];
let steps = 0;
const start = process.hrtime.bigint();
for (let e = 0; e < input.epochs; e++) {
  input.train.forEach((p, i) => {
    nn.forwardProp(net, [p[0], p[1]]);
    nn.backProp(net, p[2], nn.Errors.SQUARE);
    if ((i + 1) % input.batch === 0) { nn.updateWeights(net, input.lr, input.l2); steps++; }
  });
  losses.push([loss(input.train), loss(input.test)]);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ seconds, steps, losses }));
"""


def build(checkout: Path, out: Path) -> None:
    """Compile ``checkout/src/nn.ts`` to ``out/nn.js`` (CommonJS) with TypeScript from npm."""
    source = checkout / "src" / "nn.ts"
    if not source.is_file():
        sys.exit(f"no src/nn.ts in {checkout}")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(source, Path(tmp) / "nn.ts")
        subprocess.run(["npm", "install", "--silent", "--prefix", tmp, "typescript@5"], check=True)
        tsc = Path(tmp) / "node_modules" / ".bin" / "tsc"
        subprocess.run([str(tsc), "--module", "commonjs", "--target", "es2017", "--outDir", str(out), str(Path(tmp) / "nn.ts")], check=True)
    print(f"compiled {source} -> {out / 'nn.js'}")


def tfpg_node(folder: Path, spec: Spec) -> tuple[float, int, list[tuple[float, float]]]:
    """TF Playground's loop in node on the spec's data: (seconds, weight updates, per-epoch losses)."""
    data = make_data(spec)
    payload = {
        "hidden": list(spec.hidden), "epochs": spec.epochs, "batch": spec.batch_size, "lr": spec.lr, "l2": spec.weight_decay,
        "train": [[*p, float(y)] for p, y in zip(data.train.points.tolist(), data.train.labels.tolist())],
        "test": [[*p, float(y)] for p, y in zip(data.val.points.tolist(), data.val.labels.tolist())],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(DRIVER)
    try:
        done = subprocess.run(["node", f.name, str((folder / "nn.js").resolve())], input=json.dumps(payload), capture_output=True, text=True, check=True)
    finally:
        Path(f.name).unlink()
    out = json.loads(done.stdout)
    return out["seconds"], out["steps"], [tuple(x) for x in out["losses"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tfpg", type=Path, required=True, help="folder holding TF Playground's nn.js")
    parser.add_argument("--build-from", type=Path, help="a tensorflow/playground checkout: compile its src/nn.ts into --tfpg first")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.build_from:
        build(args.build_from, args.tfpg)
    if not (args.tfpg / "nn.js").is_file():
        sys.exit(f"no nn.js in {args.tfpg}: run with --build-from CHECKOUT first")
    spec = Spec(epochs=args.epochs)
    ways = {
        "loop": lambda: plain_loop(spec),
        "engine": lambda: default_one(spec),
        "engine --no-fused": lambda: default_one(spec, fused=False),
        "tfpg node": lambda: tfpg_node(args.tfpg, spec),
    }
    for way in ways.values():  # warm-up: imports, the kernel build, node's JIT
        way()
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, way in ways.items():
            seconds, steps, _ = way()
            rates[name].append(steps / seconds)
    median = {name: statistics.median(r) for name, r in rates.items()}
    import torch

    print(f"one model, curriculum recipe, {args.epochs} epochs, {args.repeats} repeats (medians); torch {torch.__version__}, "
          f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
    print(f"{'way':<18}{'steps/s':>12}{'x loop':>9}{'x tfpg':>9}")
    for name, rate in median.items():
        print(f"{name:<18}{rate:>12.0f}{rate / median['loop']:>9.2f}{rate / median['tfpg node']:>9.2f}")
    started = time.strftime("%Y-%m-%d")
    print(f"(date {started}; steps = optimiser steps, TF Playground: weight updates)")


if __name__ == "__main__":
    main()
