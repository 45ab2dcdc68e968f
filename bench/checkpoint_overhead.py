"""What checkpoints cost while training: the trainer with and without a Checkpointer, interleaved.

Usage: ``python bench/checkpoint_overhead.py [--epochs 100] [--repeats 5] [--every 2.0]``.
Each repeat trains the default spec once without and once with
:class:`torchground.train.checkpoint.Checkpointer` (which copies the state every epoch and
writes a file every ``--every`` seconds); prints the median and minimum wall time of each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from torchground.spec import Spec
from torchground.train import Trainer
from torchground.train.checkpoint import Checkpointer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--every", type=float, default=2.0)
    args = parser.parse_args()
    spec = Spec(epochs=args.epochs, device="cpu")
    folder = Path(tempfile.mkdtemp())
    times: dict[str, list[float]] = {"without": [], "with checkpoints": []}
    for _ in range(args.repeats):
        for name in times:
            callbacks = [Checkpointer(folder / "c.safetensors", every_s=args.every)] if name != "without" else []
            trainer = Trainer(spec, callbacks=callbacks)
            start = time.perf_counter()
            trainer.fit()
            times[name].append(time.perf_counter() - start)
    print(f"torch {torch.__version__}, {args.epochs} epochs of the default spec, {args.repeats} repeats")
    for name, values in times.items():
        print(f"{name:>18}: median {statistics.median(values):.3f} s, min {min(values):.3f} s")


if __name__ == "__main__":
    main()
