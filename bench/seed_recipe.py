"""Trainer vs. a plain curriculum-style DataLoader loop on the default spec, side by side.

Both train the curriculum's recipe (circle, 2-3-3-1 tanh, SGD lr 0.03 weight_decay 0.03,
MSE, batch 15, 100 epochs, validation every epoch) from the same initial weights and batch
order; the script checks that their per-epoch losses agree and prints steps/s of each and
the ratio. Runs alternate (plain, trainer, plain, trainer, …) so both see the same machine
state; the median of the repeats is reported.

    python bench/seed_recipe.py [--repeats 5] [--epochs 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from torchground import Spec, build_model, make_data
from torchground.model import discretize
from torchground.train import Trainer, build_optimizer, to_tensors


def plain_loop(spec: Spec) -> tuple[float, int, list[tuple[float, float]]]:
    """The curriculum's loop, with the loss averaged correctly. Returns (seconds, steps, losses)."""
    data = make_data(spec)
    x_train, y_train = to_tensors(data.train, spec.features, torch.float32)
    x_val, y_val = to_tensors(data.val, spec.features, torch.float32)
    loader_train = DataLoader(
        TensorDataset(x_train, y_train), batch_size=spec.batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(spec.shuffle_seed),
    )
    loader_valid = DataLoader(TensorDataset(x_val, y_val), batch_size=spec.batch_size)
    model = build_model(spec)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    losses, steps = [], 0
    start = time.perf_counter()
    for _ in range(spec.epochs):
        train_loss, train_correct = 0.0, 0
        for xb, yb in loader_train:
            model.train()
            pred = model(xb)
            optimizer.zero_grad()
            loss = criterion(pred, yb)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                train_correct += int((discretize(pred) == yb).sum().item())
            train_loss += loss.item() * len(yb)
            steps += 1
        model.eval()
        val_loss, val_correct = 0.0, 0
        with torch.no_grad():
            for xb, yb in loader_valid:
                pred = model(xb)
                val_loss += criterion(pred, yb).item() * len(yb)
                val_correct += int((discretize(pred) == yb).sum().item())
        losses.append((train_loss / len(x_train), val_loss / len(x_val)))
    return time.perf_counter() - start, steps, losses


def bare_steps(spec: Spec) -> tuple[float, int, list[tuple[float, float]]]:
    """The floor: only forward, zero_grad, loss, backward and optimizer.step on batches sliced
    beforehand — no data handling, no metrics, no validation. No trainer built on nn.Module,
    autograd and torch.optim can take less time per step than this."""
    data = make_data(spec)
    x, y = to_tensors(data.train, spec.features, torch.float32)
    batches = [(x[i : i + spec.batch_size].clone(), y[i : i + spec.batch_size].clone()) for i in range(0, len(x), spec.batch_size)]
    model = build_model(spec)
    criterion = nn.MSELoss()
    optimizer = build_optimizer(spec, model.parameters(), fast=True)  # the trainer's fused SGD
    steps = 0
    start = time.perf_counter()
    for _ in range(spec.epochs):
        for xb, yb in batches:
            pred = model(xb)
            optimizer.zero_grad()
            loss = criterion(pred, yb)
            loss.backward()
            optimizer.step()
            steps += 1
    return time.perf_counter() - start, steps, []


def trainer_loop(spec: Spec) -> tuple[float, int, list[tuple[float, float]]]:
    trainer = Trainer(spec)
    start = time.perf_counter()
    history = trainer.fit()
    wall = time.perf_counter() - start
    return wall, history.steps, [(r["train_loss"], r["val_loss"]) for r in history.rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    spec = Spec(epochs=args.epochs)
    threads = torch.get_num_threads()
    plain_loop(spec.replace(epochs=2)), trainer_loop(spec.replace(epochs=2))  # warm-up
    plain_rates, trainer_rates, bare_rates, worst = [], [], [], 0.0
    for _ in range(args.repeats):
        wp, sp, lp = plain_loop(spec)
        wt, st, lt = trainer_loop(spec)
        torch.set_num_threads(1)  # as the trainer runs small CPU work
        wb, sb, _ = bare_steps(spec)
        torch.set_num_threads(threads)
        bare_rates.append(sb / wb)
        assert sp == st, (sp, st)
        worst = max(worst, max(abs(a - b) for pa, ta in zip(lp, lt) for a, b in zip(pa, ta)))
        plain_rates.append(sp / wp)
        trainer_rates.append(st / wt)
    p, t, b = statistics.median(plain_rates), statistics.median(trainer_rates), statistics.median(bare_rates)
    print(f"spec: circle 2-3-3-1 tanh, sgd lr 0.03 wd 0.03, batch 15, {args.epochs} epochs, {st} steps per run")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {args.repeats}")
    print(f"plain DataLoader loop : {p:9.1f} steps/s (median)")
    print(f"torchground Trainer   : {t:9.1f} steps/s (median)")
    print(f"ratio trainer / plain : {t / p:9.2f}x")
    print(f"bare step loop (floor): {b:9.1f} steps/s (median), {b / p:.2f}x the plain loop: the most any")
    print("  trainer made of nn.Module + autograd + torch.optim steps could reach on this machine")
    print(f"largest per-epoch loss difference: {worst:.3g} ({'identical' if worst <= 1e-6 else 'DIFFERENT'})")


if __name__ == "__main__":
    main()
