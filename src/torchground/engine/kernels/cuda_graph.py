"""One epoch of training steps captured in a CUDA graph and replayed.

A step of a small network is dozens of tiny kernels; launched one by one from Python,
the launches, not the GPU, set the pace. Captured once into a ``torch.cuda.CUDAGraph``
(static input buffers, warm-up on a side stream, capture, then ``replay()``), a whole
epoch of steps runs as a single launch.

What makes a step capturable (kept so in :mod:`~torchground.engine.net` and
:mod:`~torchground.engine.optim`): all state lives in tensors updated in place (the
parameters, gradients, optimiser state, dead-weight mask and the step count, which is a
float64 tensor so that Adam's bias corrections are computed on the device); Python-side
branches depend only on the group's structure, except SGD's first-step momentum
initialisation, which is why, with momentum, capture starts after the first (eager) epoch. The captured
code is ``train_step``, which leaves the optimiser's Python step counter alone; each
replay advances it by the epoch's steps.

CUDA only: the rest of the engine runs without it; nothing here is imported on CPU.
"""

from __future__ import annotations

import torch

from torchground.engine.epoch import split_steps
from torchground.engine.net import StackedNet

__all__ = ["EpochGraph"]

Tensor = torch.Tensor


class EpochGraph:
    """One epoch of ``net.train_step`` calls, captured; :meth:`replay` runs it on new batches.

    Args:
        net: the group's net (its tensors are the graph's state).
        gx, gy: the epoch's gathered inputs (S·M·B, F) and labels (S·M·B, 1), step-major;
            copied into static buffers.
        shapes: per step, the (M, B) of its batch.
    """

    def __init__(self, net: StackedNet, gx: Tensor, gy: Tensor, shapes: list[tuple[int, int]]) -> None:
        assert gx.is_cuda, "CUDA graphs need CUDA tensors"
        self.net, self.shapes = net, list(shapes)
        self.gx, self.gy = gx.clone(), gy.clone()  # static input buffers
        self.xs, self.ys = split_steps(self.gx, self.gy, self.shapes)
        snap = net.snapshot()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up (cuBLAS handles, workspaces) off the capture stream, every batch shape
            for k in sorted({0, 1 % len(self.xs), len(self.xs) - 1}):
                net.train_step(self.xs[k], self.ys[k])
        torch.cuda.current_stream().wait_stream(side)
        net.restore(snap)  # the warm-up steps must not count
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.preds = [net.train_step(x, y) for x, y in zip(self.xs, self.ys)]

    def matches(self, net: StackedNet, shapes: list[tuple[int, int]]) -> bool:
        """Whether this graph replays ``net`` on batches of these shapes."""
        return net is self.net and shapes == self.shapes

    def replay(self, gx: Tensor, gy: Tensor) -> list[Tensor]:
        """Run the captured epoch on new data; returns each step's outputs (static: use before the next replay)."""
        self.gx.copy_(gx)
        self.gy.copy_(gy)
        self.graph.replay()
        self.net.opt.advance(len(self.shapes))
        return self.preds
