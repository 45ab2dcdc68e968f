"""The grid view's networks: up to 64 variants of the session's spec trained together in the
stacked engine, epoch by epoch, with each one's output map and loss for the page.

:class:`GridRun` takes the session's spec and one or two axes
(:func:`~torchground.server.grid_axes.grid_settings`), puts the variants that share a shape
into :class:`~torchground.engine.stacked.StackedGroup` s (built once: data, initial weights,
optimiser, batch orders) and trains them with the engine's own epoch functions
(:mod:`torchground.engine.epoch`) step by step: :meth:`GridRun.train_epoch` calls
``pause()`` after every step, so the session's time slices
(:mod:`~torchground.server.slices`) bound it as they bound one trainer. The grid plays on
without an end; a network whose loss stops being finite goes back to its weights from before
that epoch, stays there and says so. Nothing here knows about sockets; :mod:`~torchground.server.grid_mode` drives it.

A frame's maps are one block of bytes: tile after tile, each ``size × size`` cells in the
layout of :func:`~torchground.server.frames.encode_map` (row 0 at the top), byte ``b``
standing for ``b / 127.5 − 1``: the main output map's colour scale.

Example:
    >>> from torchground.server.urlstate import DEFAULT_SPEC
    >>> run = GridRun(DEFAULT_SPEC, [("lr", "0.03, 0.3")])
    >>> run.train_epoch(lambda: None)
    >>> run.epoch, len(run.maps()) == 2 * GRID_MAP_SIZE ** 2, run.loss_set
    (1, True, 'test')
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from torchground.data.features import feature_matrix
from torchground.engine.epoch import (
    epoch_stats,
    gather,
    split_steps,
    stat_names,
    step_shapes,
)
from torchground.engine.kernels.fused_steps import FusedSteps
from torchground.engine.net import StackedNet
from torchground.engine.stacked import StackedGroup, check_supported
from torchground.engine.sweep.runner import group_specs
from torchground.errors import TorchgroundError
from torchground.i18n import Text
from torchground.server.frames import data_view, metric_values
from torchground.server.grid_axes import GRID_MAP_SIZE, GRID_MAX_STEPS, grid_settings
from torchground.server.protocol import check_caps
from torchground.spec import Spec
from torchground.train.run import intra_op_threads
from torchground.train.threads import threads_for

__all__ = ["GRID_FUSED_SHAPES", "GRID_POINTS", "GridRun"]

#: Training points per data set sent for the tiles (the first ones: enough to see the shape).
GRID_POINTS = 200
#: Most network shapes (stacked groups) of a grid that train in the engine's fused kernel.
GRID_FUSED_SHAPES = 4


class _Group:
    """One stacked group of the grid and where its models sit among the tiles."""

    def __init__(self, tiles: list[int], group: StackedGroup, inputs: torch.Tensor) -> None:
        self.tiles = tiles  # tile index of each model of the group
        self.group = group
        self.inputs = inputs  # (1, R², F): the map's cells as the models' inputs
        self.which: torch.Tensor | None = None  # per model, its batch order among the distinct ones
        self.compiled: Any = None  # the group's fused epoch (engine.kernels.dispatch.CompiledEpoch), once steady
        self.fused = group.compile and FusedSteps.covers(group.net.models_last())  # the fused kernel covers the group


class GridRun:
    """The grid's networks and their training; see the module docstring.

    Args:
        base: the session's spec (every tile starts from it).
        axes: one or two (field, values text) pairs.

    Raises:
        TorchgroundError: axes the grid refuses (:func:`grid_settings`), a variant beyond the
            server's caps, a setting the stacked engine cannot train (``grid.unsupported``,
            with the engine's reason), K classes, or more work per epoch than
            :data:`~torchground.server.grid_axes.GRID_MAX_STEPS`, tiles of both problem kinds
            (classification and regression data sets on a ``dataset`` axis).
    """

    def __init__(self, base: Spec, axes: Sequence[tuple[str, str]]) -> None:
        self.axes = [(field, text) for field, text in axes]
        self.shown, self.specs = grid_settings(base, self.axes)
        problems = {spec.problem for spec in self.specs}
        if len(problems) > 1:  # one loss scale, one colour scale and one metric per grid
            names = {p: ", ".join(dict.fromkeys(s.dataset for s in self.specs if s.problem == p)) for p in problems}
            raise TorchgroundError("grid.mixed_problems", classification=names["classification"], regression=names["regression"])
        for spec in self.specs:
            check_caps(spec)
            try:
                check_supported(spec)
            except TorchgroundError as exc:
                if exc.key != "engine.unsupported":
                    raise
                raise TorchgroundError("grid.unsupported", **exc.params) from None
            if (spec.classes or 2) > 2:  # the one K-class refusal (classes.two_only), said for the grid view
                raise TorchgroundError("classes.two_only", where=Text("classes.where.grid"), classes=spec.classes,
                                       instead=Text("classes.instead.grid"))
        indices = group_specs(self.specs)
        steps = sum(len(step_shapes(1, self.specs[g[0]].n_train, _batch(self.specs[g[0]]))) for g in indices)
        if steps > GRID_MAX_STEPS:
            raise TorchgroundError("grid.too_much_work", steps=steps, max=GRID_MAX_STEPS, groups=len(indices))
        self.base = base
        self.problem = self.specs[0].problem or "classification"  # the tiles', not the base's: dataset may be an axis
        self.groups: list[_Group] = []
        for tiles in indices:
            # the fused kernel of each shape builds in the background (once: it is cached); a
            # grid of many shapes trains eagerly rather than start a compiler for each
            group = StackedGroup([self.specs[i] for i in tiles], fused=len(indices) <= GRID_FUSED_SHAPES)
            self.groups.append(_Group(tiles, group, self._cells(group)))
        n = len(self.specs)
        first = self.groups[0].group
        self.loss_set = "test" if first.n_test else "val" if first.n_val else "train"
        self.epoch = 0
        self.losses = np.full(n, np.nan)  # each tile's loss on :attr:`loss_set`, last epoch
        self.train_losses = np.full(n, np.nan)
        self.frozen: dict[int, torch.Tensor] = {}  # diverged tiles: their last finite weights

    # -- training ---------------------------------------------------------------------------
    def train_epoch(self, pause: Callable[[], None]) -> None:
        """One epoch of every network; ``pause()`` is called after every optimiser step."""
        for g in self.groups:  # each group's threads by the rule, or TORCHGROUND_THREADS (StackedGroup._thread_count)
            with intra_op_threads(g.group._thread_count()):
                self._group_epoch(g, pause)
        self.epoch += 1

    def _group_epoch(self, g: _Group, pause: Callable[[], None]) -> None:
        group, net = g.group, g.group.net
        perms, which = group.orders.next_epoch()
        M, N, B = len(g.tiles), group.n_train, group.batch
        if g.which is None:
            g.which = which
        order = perms.expand(M, N) if len(perms) == 1 else perms.index_select(0, g.which)  # (M, N)
        x, y = group.data.sets["train"]
        before = net.params.clone()  # (M, P): the epoch's start, for a network that diverges
        args = (group.evals, group.data.train_sst, self.problem == "classification")
        S = len(step_shapes(M, N, B))
        if g.fused and net.opt.steady and (g.compiled is None or g.compiled.path.value != "eager") and _built(group):
            # the whole epoch in the engine's fused kernel where it covers the group (its first
            # epoch checked against the eager steps), else the eager steps below from then on
            from torchground.engine.kernels.dispatch import CompiledEpoch

            if g.compiled is None:
                g.compiled = CompiledEpoch(group.device.type, fused=None, fallback="eager")
            stats = g.compiled.run(net, x, y, order, B, *args).numpy()
            pause()
        else:
            xs, ys = split_steps(*gather(x, y, order, B), step_shapes(M, N, B))
            preds = []
            for xb, yb in zip(xs, ys):
                preds.append(net.step(xb, yb))
                pause()
            stats = epoch_stats(net, preds, ys, *args).numpy()
        names = stat_names(self.problem, [e[0] for e in group.evals])
        values = stats[:, S:]  # (M, K)
        finite = np.isfinite(stats[:, :S]).all(axis=1) & np.isfinite(values[:, 0])
        shown = values[:, names.index(f"{self.loss_set}_loss")]
        for j, tile in enumerate(g.tiles):
            if tile in self.frozen:
                continue
            if not finite[j]:
                self.frozen[tile] = before[j].clone()
                continue
            self.losses[tile], self.train_losses[tile] = shown[j], values[j, 0]
        for j, tile in enumerate(g.tiles):  # a diverged network stays as it last was
            if tile in self.frozen:
                net.params[j].copy_(self.frozen[tile])
        if group.schedule is not None:
            ids = list(range(M))
            lrs = group.schedule.step(ids, values[:, 0].tolist())
            net.opt.set_lr(lrs, [float(s.weight_decay or 0.0) for s in group.specs])

    # -- what the page draws -----------------------------------------------------------------
    def _cells(self, group: StackedGroup) -> torch.Tensor:
        """The map's cells (row 0 at the top, as encode_map lays them out) as the group's inputs: (1, R², F)."""
        x0, x1, y0, y1 = data_view(self.base, group.data.splits[0])["box"]
        xs = np.linspace(x0, x1, GRID_MAP_SIZE)
        ys = np.linspace(y1, y0, GRID_MAP_SIZE)  # from the top down
        gx, gy = np.meshgrid(xs, ys)  # (R, R)
        points = np.column_stack([gx.ravel(), gy.ravel()])  # (R², 2)
        features = feature_matrix(points, group.specs[0].features)  # (R², F)
        return torch.as_tensor(features, dtype=group.dtype).unsqueeze(0)

    def maps(self) -> bytes:
        """Every tile's output map, tile after tile: (tiles · R · R) bytes, row 0 at the top."""
        out = np.empty((len(self.specs), GRID_MAP_SIZE * GRID_MAP_SIZE), dtype=np.float64)
        with torch.no_grad():
            for g in self.groups:
                with intra_op_threads(threads_for(len(g.tiles) * g.inputs.shape[1] * max(g.group.net.sizes))):  # the rule
                    values = _outputs(g.group.net, g.inputs)  # (M, R²)
                out[g.tiles] = values.to(torch.float64).numpy()
        out = np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        return np.rint((out + 1.0) * 127.5).astype(np.uint8).tobytes()

    def frame(self, running: bool) -> dict[str, Any]:
        """The ``grid_frame`` message (see ``docs/serve-protocol.md``)."""
        return {
            "type": "grid_frame",
            "epoch": self.epoch,
            "running": running,
            "size": GRID_MAP_SIZE,
            "maps": base64.b64encode(self.maps()).decode("ascii"),
            "losses": [_number(v) for v in self.losses.tolist()],
            "train_losses": [_number(v) for v in self.train_losses.tolist()],
            "diverged": sorted(self.frozen),
        }

    def state(self) -> dict[str, Any]:
        """The ``grid_state`` message: the axes, each tile's setting, the tiles' points."""
        keys: dict[bytes, int] = {}
        points: list[list[list[float]]] = []
        tiles = []
        for g in self.groups:
            for j, tile in enumerate(g.tiles):
                train = g.group.data.splits[j].train
                rows = np.column_stack([train.points, train.labels])[:GRID_POINTS]  # (≤ GRID_POINTS, 3)
                key = rows.tobytes()
                if key not in keys:
                    keys[key] = len(points)
                    points.append(np.round(rows, 3).tolist())
                tiles.append((tile, keys[key]))
        data_of = dict(tiles)
        view = data_view(self.base, self.groups[0].group.data.splits[0])
        return {
            "type": "grid_state",
            "axes": [{"field": f, "values": list(dict.fromkeys(str(s[f]) for s in self.shown))} for f, _ in self.axes],
            "texts": [text for _, text in self.axes],
            "tiles": [{"setting": {k: str(v) for k, v in s.items()}, "data": data_of[i]} for i, s in enumerate(self.shown)],
            "points": points,
            "box": view["box"],
            "problem": self.problem,
            "loss_set": self.loss_set,
            "size": GRID_MAP_SIZE,
        }

    # -- a tile to the normal view -----------------------------------------------------------
    def pick(self, tile: int) -> tuple[Spec, torch.Tensor]:
        """Tile ``tile``'s spec and its weights now, ``(P,)`` ordered as ``model.parameters()``."""
        if not 0 <= tile < len(self.specs):
            raise TorchgroundError("grid.no_tile", index=tile, count=len(self.specs))
        for g in self.groups:
            if tile in g.tiles:
                return self.specs[tile], g.group.net.params[g.tiles.index(tile)].detach().clone()
        raise AssertionError("every tile is in a group")


def _outputs(net: StackedNet, cells: torch.Tensor) -> torch.Tensor:
    """Every model's output at the map's cells: the net's forward (its layers and activation
    ops), with the bias added after a plain batched product; ``baddbmm`` on these shapes
    (thousands of rows, a few columns) took several times as long. Shape: (1, R², F) → (M, R²)."""
    a = cells
    for b, _, wt, act in net.layers():
        a = act.forward(torch.matmul(a, wt) + b)[0]  # (M, R², out)
    return a[..., 0]


def _built(group: StackedGroup) -> bool:
    """Whether the group's fused kernel is not being built now: an epoch does not wait for
    the compiler (it trains eagerly, in slices, meanwhile)."""
    build = getattr(group, "_prebuild", None)  # the engine's record of the build it started
    thread = getattr(build, "thread", None)
    return thread is None or not thread.is_alive()


def _batch(spec: Spec) -> int:
    return spec.n_train if spec.batch_size == "full" else int(spec.batch_size)


def _number(value: float) -> Any:
    """A loss for JSON: not yet measured is ``None``; a non-finite one says which (frames.metric_values)."""
    if math.isnan(value):
        return None
    return metric_values({"v": value})["v"]
