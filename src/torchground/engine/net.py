"""M networks of one shape as stacked tensors, with a hand-written training step.

All parameters of the M models live in one (M, P) tensor, each row laid out as
``torch.cat([p.flatten() for p in model.parameters()])`` of a
:class:`~torchground.model.PlaygroundNet` (``layer1.weight``, ``layer1.bias``, …,
``layer_out.bias``); the layers' weights (M, out, in) and biases (M, 1, out) are views
into it, and the gradients are written into views of a twin tensor. One step is a
batched forward (``torch.baddbmm``), the loss gradient, the backward written out layer
by layer (``bmm`` for weight gradients, a sum for biases, the activation's own autograd
kernel in between), the Playground L1/L2 penalties on weights, the stacked optimiser's
update and the L1 dead-weight rule: about four tensor ops per layer and a handful for the
update, whatever M is.

Two layouts of the same numbers. *Models first* (the default, eager and CUDA graphs):
parameters (M, P), activations (M, B, width), matrix products by ``bmm``. *Models last*
(:meth:`StackedNet.models_last`, for ``torch.compile``): parameters (P, M), activations
(B, width, M), matrix products written as broadcast products and sums. With M the
innermost, contiguous dimension every operation is element-wise across models, which
TorchInductor fuses into loops vectorised over M; in the models-first layout the same
code reduces over tiny inner dimensions and runs far slower for many models. The
optimiser's update and the penalties are element-wise and serve both layouts.

Example:
    >>> from torchground.engine.optim import StackedOptimizer
    >>> from torchground.spec import Spec
    >>> specs = [Spec(hidden=(4,)), Spec(hidden=(4,), lr=0.1)]
    >>> net = StackedNet.build(specs, torch.zeros(2, param_count((2, 4, 1))), torch.float32, "cpu")
    >>> net.step(torch.ones(2, 5, 2), torch.ones(2, 5, 1)).shape
    torch.Size([2, 5, 1])
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import torch

from torchground.engine.kernels.rule_text import TORCH as RULE
from torchground.engine.ops import LOSS_OPS, activation_ops
from torchground.engine.optim import StackedOptimizer
from torchground.data.spec_data import n_outputs
from torchground.spec import Spec

__all__ = ["StackedNet", "param_count", "layer_sizes", "layer_layout"]

Tensor = torch.Tensor


def layer_sizes(spec: Spec) -> tuple[int, ...]:
    """Widths from input to output: ``(F, *hidden, 1)``, or ``(F, *hidden, K)`` for K classes."""
    return (spec.n_inputs, *spec.hidden, n_outputs(spec))


def param_count(sizes: Sequence[int]) -> int:
    """Parameters per model of a network with these widths."""
    return sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))


def layer_layout(sizes: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Per layer of a network with these widths: (weight offset, out, in, bias offset) in a
    parameter row (weights (out, in) row-major, then biases), as ``model.parameters()``."""
    out, off = [], 0
    for i, o in zip(sizes[:-1], sizes[1:]):
        out.append((off, o, i, off + o * i))
        off += o * i + o
    return out


class StackedNet:
    """Parameters, gradients, optimiser and penalties of M models; :meth:`step` trains them.

    Args:
        sizes: layer widths ``(F, *hidden, 1)``.
        activation, output_activation, loss: registry names (one per group).
        params: (M, P) initial parameters (taken over, not copied).
        opt: the group's :class:`~torchground.engine.optim.StackedOptimizer`.
        l1, l2: (M, 1) penalty rates, or ``None`` when every model's is 0.
    """

    def __init__(
        self, sizes: Sequence[int], activation: str, output_activation: str, loss: str,
        params: Tensor, opt: StackedOptimizer, l1: Tensor | None, l2: Tensor | None, dead: Tensor | None = None,
    ) -> None:
        self.sizes, self.activation, self.output_activation, self.loss_name = tuple(sizes), activation, output_activation, loss
        self.loss = LOSS_OPS[loss]
        self.params, self.opt, self.l1, self.l2 = params, opt, l1, l2
        self.last = False  # models-last layout (see the module docstring and models_last)
        self.grads = torch.zeros_like(params)
        is_weight = torch.zeros(1, params.shape[1], dtype=torch.bool, device=params.device)
        for w_off, o, i, _ in self._layout():
            is_weight[:, w_off : w_off + o * i] = True
        # The Playground L1 rule applies to the weights of models with l1 > 0 only (where l1w > 0).
        self.dead = dead if dead is not None or l1 is None else torch.zeros_like(params, dtype=torch.bool)
        weight = is_weight.to(params.dtype)
        self.l1w = l1 * weight if l1 is not None else None  # (M, P): l1 on weights, 0 on biases
        self.l2w = l2 * weight if l2 is not None else None
        self._views()

    @classmethod
    def build(cls, specs: Sequence[Spec], params: Tensor, dtype: torch.dtype, device: torch.device | str) -> "StackedNet":
        """The net of ``specs`` (one group) starting from ``params`` (M, P)."""
        s0 = specs[0]
        opt = StackedOptimizer.build(specs, params.shape[1], dtype, device)

        def rates(name: str) -> Tensor | None:
            values = [getattr(s, name) for s in specs]
            if not any(values):
                return None
            return torch.tensor(values, dtype=torch.float64).reshape(-1, 1).to(device=device, dtype=dtype)

        assert s0.output_activation is not None
        params = params.to(device=device, dtype=dtype)
        return cls(layer_sizes(s0), s0.activation, s0.output_activation, s0.loss, params, opt, rates("l1"), rates("l2"))

    # -- layout -----------------------------------------------------------------------------
    def _layout(self) -> list[tuple[int, int, int, int]]:
        """Per layer: (weight offset, out, in, bias offset) in a parameter row (:func:`layer_layout`)."""
        return layer_layout(self.sizes)

    def _views(self) -> None:
        """Per layer (bias, weight, weightᵀ, activation) as views of ``params``, output layer last.

        Models last, the views are made afresh on each use (:meth:`layers`): kept on the
        object, they would reach compiled code as inputs aliasing ``params``, which
        torch.compile handles on a slower path each call.
        """
        hidden, out = activation_ops(self.activation, self.last), activation_ops(self.output_activation, self.last)
        self._acts = [hidden] * (len(self.sizes) - 2) + [out]
        self._layers = None if self.last else self._make_layers()

    def _make_layers(self) -> list[tuple[Tensor, Tensor, Tensor, Any]]:
        layers = []
        for (w_off, o, i, b_off), act in zip(self._layout(), self._acts):
            if self.last:
                w = self.params[w_off : w_off + o * i].unflatten(0, (o, i))  # (out, in, M)
                layers.append((self.params[b_off : b_off + o], w, w, act))  # bias (out, M); no transpose is needed
            else:
                M = self.params.shape[0]
                w = self.params[:, w_off : w_off + o * i].view(M, o, i)  # (M, out, in) as nn.Linear's weight
                layers.append((self.params[:, b_off : b_off + o].view(M, 1, o), w, w.transpose(1, 2), act))  # bias (M, 1, out)
        return layers

    def layers(self) -> list[tuple[Tensor, Tensor, Tensor, Any]]:
        """Per layer (bias, weight, weightᵀ, activation) as views of ``params``, output layer last."""
        return self._layers if self._layers is not None else self._make_layers()

    @property
    def n_models(self) -> int:
        return self.params.shape[1 if self.last else 0]

    # -- the models-last twin -------------------------------------------------------------------
    _PER_MODEL = ("params", "grads", "l1w", "l2w", "dead")

    def models_last(self) -> "StackedNet":
        """A twin in the models-last layout: every (M, P) tensor as a (P, M) contiguous copy,
        hyper-parameter columns (M, 1) as (1, M) views. Sync with :meth:`load_from`.

        For M = 1 both layouts are the same memory: the twin's tensors are this net's.
        """
        assert not self.last
        twin = copy.copy(self)
        twin.last = True
        for name in self._PER_MODEL:
            value = getattr(self, name)
            setattr(twin, name, None if value is None else value.t().contiguous())
        twin.l1 = None if self.l1 is None else self.l1.t()
        twin.l2 = None if self.l2 is None else self.l2.t()
        twin.opt = self.opt.models_last()
        twin._views()
        return twin

    def load_from(self, other: "StackedNet") -> None:
        """Copy ``other``'s training state (the other layout, same models) into this net's tensors, in place."""
        assert other.last != self.last
        for name in ("params", "dead"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and theirs is not None and mine.data_ptr() != theirs.data_ptr():
                mine.copy_(theirs.t())
        self.opt.load_from(other.opt)

    # -- copies -----------------------------------------------------------------------------
    def select(self, idx: Tensor) -> "StackedNet":
        """A net of the models ``idx`` only (parameters and state copied)."""
        pick = lambda t: None if t is None else t.index_select(0, idx)  # noqa: E731
        return StackedNet(
            self.sizes, self.activation, self.output_activation, self.loss_name, self.params.index_select(0, idx),
            self.opt.select(idx), pick(self.l1), pick(self.l2), pick(self.dead),
        )

    def snapshot(self, into: tuple[Tensor, StackedOptimizer, Tensor | None] | None = None) -> tuple[Tensor, StackedOptimizer, Tensor | None]:
        """Parameters, optimiser state and dead-weight mask, copied (to go back to later).

        ``into``: an earlier snapshot of a net of the same shape, overwritten in place
        (no allocation: a group takes one every epoch).
        """
        if into is None or into[0].shape != self.params.shape:
            return self.params.clone(), self.opt.clone(), None if self.dead is None else self.dead.clone()
        into[0].copy_(self.params)
        into[1].load(self.opt)
        if self.dead is not None and into[2] is not None:
            into[2].copy_(self.dead)
        return into

    def restore(self, snap: tuple[Tensor, StackedOptimizer, Tensor | None]) -> None:
        """Put a :meth:`snapshot` back, in place."""
        self.params.copy_(snap[0])
        self.opt.load(snap[1])
        if self.dead is not None and snap[2] is not None:
            self.dead.copy_(snap[2])

    def with_state(self, snap: tuple[Tensor, StackedOptimizer, Tensor | None]) -> "StackedNet":
        """A new net with this one's settings and a copy of ``snap``'s state."""
        new = copy.copy(self)
        new.params, new.opt = snap[0].clone(), snap[1].clone()
        new.dead = None if snap[2] is None else snap[2].clone()
        new.grads = torch.zeros_like(new.params)
        new._views()
        return new

    # -- compute ----------------------------------------------------------------------------
    # No tensor here requires grad, so autograd records nothing: no ``no_grad`` needed.
    def forward(self, x: Tensor) -> Tensor:
        """Outputs of every model, in either layout. Shape: x (M, N, F) (or (1, N, F), broadcast) → (M, N, 1)."""
        out = self.outputs(x)
        if out.ndim == 3:  # K outputs (models first): (M, N, K)
            return out
        return (out.t() if self.last else out).unsqueeze(-1)

    def outputs(self, x: Tensor) -> Tensor:
        """Outputs of every model as a table in the net's layout.

        Shape: x (M, N, F) (or (1, N, F), broadcast) → (M, N), models last (N, M).
        """
        if self.last:
            a = x.permute(1, 2, 0)  # (N, F, M or 1)
            for b, w, _, act in self.layers():
                a = act.forward(_linear_last(a, w, b))[0]
            return a[:, 0, :]
        a = x
        for b, _, wt, act in self.layers():
            if a.shape[0] != b.shape[0]:
                a = a.expand(b.shape[0], *a.shape[1:])
            a = act.forward(torch.baddbmm(b, a, wt))[0]  # (M, N, out)
        return a[..., 0] if a.shape[-1] == 1 else a  # (M, N), or (M, N, K) for K classes

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        """One optimiser step of every model on its batch; returns the outputs before the step.

        Shape:
            x (M, B, F), y (M, B, 1) → (M, B, 1); models last: x (B, F, M), y (B, 1, M) → (B, 1, M).
        """
        out = self.train_step(x, y)
        self.opt.advance(1)
        return out

    def train_step(self, x: Tensor, y: Tensor) -> Tensor:
        """:meth:`step` without counting it: only tensor work, for CUDA graphs and ``torch.compile``."""
        layers = self.layers()  # per layer: (bias, weight, weightᵀ, activation), output layer last
        last = self.last
        inputs, saved = [], []
        a = x
        for b, w, wt, act in layers:
            inputs.append(a)
            a, ctx = act.forward(_linear_last(a, w, b) if last else torch.baddbmm(b, a, wt))  # (M, B, out) | (B, out, M)
            saved.append(ctx)
        g = self.loss.grad(a, y, x.shape[0 if last else 1])  # d(mean batch loss)/d(output)
        parts: list[Tensor] = [g] * (2 * len(layers))
        for layer in range(len(layers) - 1, -1, -1):
            w, act = layers[layer][1], layers[layer][3]
            delta = act.backward(g, saved[layer])  # (M, B, out) | (B, out, M)
            if last:
                parts[2 * layer] = (delta.unsqueeze(2) * inputs[layer].unsqueeze(1)).sum(0).flatten(0, 1)  # (out·in, M)
                parts[2 * layer + 1] = delta.sum(0)  # (out, M)
                if layer:
                    g = (delta.unsqueeze(2) * w.unsqueeze(0)).sum(1)  # (B, in, M)
            else:
                # Into fresh tensors, then one cat: bmm writing into a strided view of the
                # gradient rows falls back to a per-model loop.
                parts[2 * layer] = torch.bmm(delta.transpose(1, 2), inputs[layer]).flatten(1)  # (M, out·in)
                parts[2 * layer + 1] = delta.sum(1)  # (M, out)
                if layer:
                    g = torch.bmm(delta, w)  # (M, B, in)
        # (M, P) | (P, M), laid out as the parameters. Eagerly into the kept buffer (no
        # allocation); compiled, a fresh tensor (writing a kept input costs a copy-back per call).
        grads = torch.cat(parts, dim=0) if last else torch.cat(parts, dim=1, out=self.grads)
        p = self.params
        if self.l1w is not None:
            grads.addcmul_(p.sign(), self.l1w)  # d(l1·Σ|w|)/dw
        if self.l2w is not None:
            grads.addcmul_(p, self.l2w)  # d(l2·0.5·Σw²)/dw
        before = p.clone() if self.dead is not None else None
        self.opt.update(p, grads)
        if self.dead is not None:
            assert before is not None and self.l1w is not None
            # Playground L1 rule: a weight that crosses 0 is set to 0 and stays dead (rules.py's l1_dead).
            after, dead = RULE.l1_dead(p, before, self.dead, self.l1w)
            self.dead.copy_(dead)
            p.copy_(after)
        return a


def _linear_last(a: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``a @ wᵀ + b`` per model, models last: a (B, in, M or 1), w (out, in, M), b (out, M) → (B, out, M)."""
    return b + (a.unsqueeze(1) * w.unsqueeze(0)).sum(2)
