"""One training session: the model, data and play loop behind one WebSocket.

A :class:`Session` turns validated client messages into work on its own
:class:`~torchground.train.trainer.Trainer` and answers with ``state``, ``frame``, ``diverged``,
``code``, ``graph`` and ``error`` messages (``docs/serve-protocol.md``). Training runs as
an asyncio task, one epoch per tick and a frame after each, at most ``fps`` ticks a second.
All CPU work (epochs, rebuilding, frames) runs in a worker thread (``asyncio.to_thread``)
under the session's work lock, so the event loop stays free and at most one piece of work
is in flight per session; every answer is queued while that lock is held, so frames arrive in
order. Nothing here knows about HTTP or sockets: the app hands a ``send(text)`` coroutine in.

No tab can take the server: an epoch runs in time slices in a thread of its own
(:mod:`~torchground.server.slices`), so the work lock is never held for more than a slice
and no shared worker thread is held by training; messages wait in a short queue handled by
the session's own task (:meth:`Session.submit`), a ``pause`` takes effect on arrival, and
:meth:`Session.close` (the tab went away) drops the queue and ends the epoch in progress.
The work lock comes with a turn of the server's :mod:`~torchground.server.scheduler` (a tab's
requests first, play loops by turns); answers go out through an :mod:`~torchground.server.outbox`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import logging
from typing import Any, Awaitable, Callable

import torch

from torchground.codegen import to_script
from torchground.errors import TorchgroundError
from torchground.i18n import t
from torchground.server import frames, grid_mode
from torchground.server.bundles import BundleStore, bundle_name, make_bundle
from torchground.train.threads import intra_op_threads
from torchground.server.protocol import DEFAULT_FPS, MAX_EDIT_VALUE, ProtocolError, check_caps, parse_message
from torchground.server.outbox import Outbox
from torchground.server.rows import CompactRows
from torchground.server.scheduler import PROGRESS_FRAME_SECONDS, STEP_SLICES, Scheduler, SessionWork
from torchground.server.slices import EpochSlicer
from torchground.server.uploads import check_data_file
from torchground.server.urlstate import Edit, UrlState, parse_query, set_changes, to_query, view_value, VIEW_OPTIONS
from torchground.spec import MAX_SEED, SPEC_FIELDS, Spec
from torchground.train import Trainer
from torchground.train.checkpoint import checkpointable, restore
from torchground.data.tfpg_random import fresh_seed
from torchground.train.tfpg_run import link_of, spec_from_link

__all__ = ["Session", "LIVE_FIELDS"]

log = logging.getLogger("torchground.server")

#: Spec fields a ``set`` applies to the running model (weights kept); the rest rebuild at epoch 0.
LIVE_FIELDS = Trainer.LIVE_FIELDS

Send = Callable[[str], Awaitable[None]]
#: Client messages waiting for their turn; a tab that sends faster waits (its socket backs up).
MAX_QUEUED = 32


class Session:
    """One independent playground: its spec, trainer, weight edits, view options and play loop.

    Args:
        send: coroutine that sends one text message to the client.
        lang: language of messages until ``init`` (or ``set`` of ``lang``) says otherwise.
        bundles: the session files posted to ``POST /api/session`` that ``open`` may name.
        scheduler: the server's scheduler, shared by its sessions (default: one of its own).
    """

    def __init__(self, send: Send, lang: str = "en", bundles: BundleStore | None = None, scheduler: Scheduler | None = None) -> None:
        self._outbox = Outbox(send)  # sent by a task of its own: no turn waits on the network
        self.lang = lang
        self.bundles = bundles if bundles is not None else BundleStore()
        self.spec: Spec | None = None
        self.trainer: Trainer | None = None
        self.edits: dict[tuple[str, tuple[int, ...]], Edit] = {}
        self.view: dict[str, bool | str] = {}
        self.fps, self.running = DEFAULT_FPS, False
        self._diverged: tuple[str, dict[str, Any]] | None = None  # the last divergence's catalogue key, values
        self._grads: dict[str, Any] | None = None
        self.grid: grid_mode.GridMode | None = None  # the grid view's networks, while it is open
        self._task: asyncio.Task[None] | None = None
        self._work = SessionWork(scheduler if scheduler is not None else Scheduler())
        self._last_frame = 0.0  # loop time of the last frame sent
        self._queue: asyncio.Queue[tuple[int, str | bytes]] = asyncio.Queue(MAX_QUEUED)
        self._consumer: asyncio.Task[None] | None = None
        self._arrived = 0  # messages submitted so far
        self._stamp = 0  # the arrival number of the message being handled
        self._paused_at = 0  # the arrival number of the last pause
        self._handlers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "init": self._init, "set": self._set, "play": self._play, "pause": self._pause, "step": self._step,
            "reset": self._reset, "reinit": self._reinit, "regenerate": self._regenerate, "edit": self._edit,
            "code": self._code, "graph": self._graph, "fps": self._fps, "link": self._link, "link_of": self._link_of,
            "save": self._save, "open": self._open,
            **grid_mode.handlers(self),  # grid, grid_pick, grid_close; reset while the grid is open
        }

    # -- entry points -------------------------------------------------------------------------
    async def receive(self, raw: str | bytes) -> None:
        """Handle one raw client message; every problem becomes an ``error`` answer."""
        try:
            message = parse_message(raw)
            if message.type not in ("init", "fps") and self.trainer is None:
                raise ProtocolError("server.no_session")
            await self._handlers[message.type](message)
        except TorchgroundError as exc:
            await self._error(exc.message(self.lang))
        except Exception as exc:  # a bug must not end the session: report it and go on
            log.exception("session command failed")
            await self._error(t("server.internal", self.lang, detail=f"{type(exc).__name__}: {exc}"))
        await self._outbox.flush()  # the answers are sent (no turn held) before the next message

    async def submit(self, raw: str | bytes) -> None:
        """Queue one raw client message; the session's own task handles them in order.

        A ``pause`` takes effect on arrival: playing stops at the end of the current slice,
        and a ``play`` or ``step`` that arrived before it is dropped (a ``step`` under way
        stops between slices); the pause itself is answered with a frame in its turn.
        Waits while :data:`MAX_QUEUED` messages are queued.
        """
        if self._consumer is None:
            self._consumer = asyncio.create_task(self._serve())
        self._arrived += 1
        if _is_pause(raw):
            self._paused_at, self.running = self._arrived, False
        await self._queue.put((self._arrived, raw))

    async def _serve(self) -> None:
        while True:
            self._stamp, raw = await self._queue.get()
            await self.receive(raw)

    async def close(self) -> None:
        """Stop everything: queued messages are dropped, the play loop and the message task
        cancelled, and an epoch in progress ends at its next step boundary."""
        self.running = False
        for task in (self._consumer, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._end_epoch()
        await self._outbox.close()

    def query(self) -> str:
        """The session's URL state: spec, weight edits made at epoch 0, view options."""
        assert self.spec is not None
        return to_query(UrlState(self.spec, tuple(self.edits.values()), self.view))

    # -- commands -----------------------------------------------------------------------------
    async def _init(self, msg: Any) -> None:
        self.running = False
        if msg.lang:
            self.lang = msg.lang
        state = parse_query(msg.query)
        if not msg.lang and isinstance(state.view.get("lang"), str):
            self.lang = str(state.view["lang"])
        check_caps(state.spec)
        check_data_file(state.spec)
        async with self._work:
            trainer, edits = await asyncio.to_thread(self._build, state.spec, state.edits, True)
            self._end_epoch()
            self.trainer, self.edits = trainer, edits
            self.spec, self.view, self._grads = state.spec, dict(state.view), None
            await self._send_state_and_frame()

    async def _set(self, msg: Any) -> None:
        assert self.spec is not None
        view = {k: view_value(k, v) for k, v in msg.changes.items() if k in VIEW_OPTIONS}
        changes = set_changes({k: v for k, v in msg.changes.items() if k not in VIEW_OPTIONS})
        new = self.spec.replace(**changes) if changes else self.spec
        check_caps(new)
        check_data_file(new)
        self.view = {**self.view, **view}  # a new dict: a frame being built in a thread may read the old one
        if isinstance(view.get("lang"), str):
            self.lang = str(view["lang"])
            if self._diverged is not None:  # its words again, in the new language (the page shows them if on screen)
                await self._send({"type": "diverged", "relabel": True, "message": t(self._diverged[0], self.lang, **self._diverged[1])})
        changed = {f for f in SPEC_FIELDS if getattr(new, f) != getattr(self.spec, f)}
        if changed and not changed <= LIVE_FIELDS:
            await self._rebuild(new, list(self.edits.values()), state=True)
            return
        async with self._work:
            if changed:
                self._apply_live(new)
            await self._send_frame()

    async def _play(self, msg: Any) -> None:
        if self.running or self._stamp < self._paused_at:  # already playing, or a pause came after it
            return
        self.running = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._play_loop())

    async def _pause(self, msg: Any) -> None:
        self.running = False
        async with self._work:
            await self._send_frame()

    async def _step(self, msg: Any) -> None:
        """The rest of the current epoch (or a whole one), slice by slice; a later pause stops it."""
        self.running = False
        stamp, slices = self._stamp, 0
        while self._paused_at <= stamp:  # the user waits for the first slices; a long epoch's rest yields to others
            async with self._work.lane(interactive=(first := slices < STEP_SLICES)):
                if await self._advance(background=not first):
                    return
            slices += 1

    async def _reset(self, msg: Any) -> None:
        assert self.spec is not None
        await self._rebuild(self.spec, list(self.edits.values()), state=False)

    async def _reinit(self, msg: Any) -> None:
        assert self.spec is not None
        await self._rebuild(self.spec.replace(init_seed=(self.spec.init_seed + 1) % (MAX_SEED + 1)), [], state=True)

    async def _regenerate(self, msg: Any) -> None:
        assert self.spec is not None
        if self.spec.tf_playground_seed is not None:  # as TensorFlow Playground does: a fresh seed text
            await self._rebuild(self.spec.replace(tf_playground_seed=fresh_seed()), list(self.edits.values()), state=True)
            return
        await self._rebuild(self.spec.replace(seed=(self.spec.seed + 1) % (MAX_SEED + 1)), list(self.edits.values()), state=True)

    async def _link(self, msg: Any) -> None:
        """Open a TensorFlow Playground link: a fresh trainer in its state; its notes follow."""
        spec, notes = spec_from_link(msg.url, device="cpu")
        check_caps(spec)
        await self._rebuild(spec, [], state=True)
        for note in notes:
            await self._send({"type": "notice", "message": note.render(self.lang)})

    async def _link_of(self, msg: Any) -> None:
        """The session's spec as a TensorFlow Playground link, or why there is none."""
        assert self.spec is not None
        try:
            await self._send({"type": "tf_link", "url": link_of(self.spec), "message": None})
        except TorchgroundError as exc:
            await self._send({"type": "tf_link", "url": None, "message": exc.message(self.lang)})

    async def _edit(self, msg: Any) -> None:
        assert self.trainer is not None
        async with self._work:
            edit = Edit(msg.param, tuple(msg.index), float(msg.value))
            _apply_edit(self.trainer.model, edit)
            if self.trainer.history.steps == 0:  # the URL can rebuild edits of the initial weights only
                self.edits = {**self.edits, (edit.param, edit.index): edit}
            await self._send_frame()
            if self.trainer.history.steps:  # say so, rather than leave it silently out of the link
                await self._send({"type": "notice", "message": t("server.edit_not_in_link", self.lang)})

    async def _code(self, msg: Any) -> None:
        assert self.spec is not None
        script = await asyncio.to_thread(to_script, self.spec, self.lang)
        await self._send({"type": "code", "script": script})

    async def _graph(self, msg: Any) -> None:
        async with self._work:
            await self._send(await asyncio.to_thread(frames.graph_message, self.trainer))

    async def _fps(self, msg: Any) -> None:
        self.fps = int(msg.value)

    async def _save(self, msg: Any) -> None:
        """The session as a ``.tgsession`` file (an epoch under way is finished first)."""
        self.running = False
        await self.finish_epoch()
        async with self._work:
            assert self.trainer is not None
            if not checkpointable(self.trainer):
                raise TorchgroundError("server.session.not_checkpointable")
            data = await asyncio.to_thread(make_bundle, self.trainer, self.query())
            assert self.spec is not None
            name = bundle_name(self.spec, self.trainer.epoch)
            await self._send({"type": "saved", "bundle": base64.b64encode(data).decode("ascii"), "name": name})

    async def _open(self, msg: Any) -> None:
        """Continue a saved session where it was saved: same epoch, weights, optimiser, history."""
        bundle = self.bundles.get(msg.id)
        self.running = False
        async with self._work:
            trainer, edits = await asyncio.to_thread(self._build, bundle.state.spec, bundle.state.edits, False)
            try:  # each open gets its own copies (the stored bundle may be opened again)
                restore(trainer, {k: v.clone() for k, v in bundle.tensors.items()}, copy.deepcopy(bundle.meta))
                trainer.history.rows = CompactRows(trainer.history.rows)
            except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise TorchgroundError("server.session.does_not_fit", detail=str(exc)[:300]) from None
            self._end_epoch()
            self.trainer, self.edits = trainer, edits
            self.spec, self.view, self._grads = bundle.state.spec, dict(bundle.state.view), None
            await self._send_state_and_frame()

    # -- the play loop ------------------------------------------------------------------------
    async def _play_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            next_tick = loop.time()
            with self._work.scheduler.player():
                while self.running:
                    async with self._work.lane(interactive=False):
                        if not self.running:
                            break
                        await self._advance(playing=True)
                    await self._outbox.flush()  # a client that reads slowly slows its own play down
                    next_tick += 1.0 / self.fps  # a fixed schedule; when behind, start afresh (no burst)
                    delay = next_tick - loop.time()
                    if delay < 0:
                        next_tick, delay = loop.time(), 0.0
                    await asyncio.sleep(delay)
        except Exception as exc:  # a closed socket or a bug: stop playing, tell the client if it is there
            self.running = False
            log.debug("play loop stopped: %r", exc)
            with contextlib.suppress(Exception):
                await self._error(t("server.internal", self.lang, detail=f"{type(exc).__name__}: {exc}"))

    async def _advance(self, playing: bool = False, background: bool = False) -> bool:
        """Train one slice of the epoch (work lock held); when the epoch ends send its frame
        (and whether it ended: ``True``); on divergence pause and say why. While playing, a
        slice that ends mid-epoch sends a frame too (at most one per :data:`PROGRESS_FRAME_SECONDS`),
        so a slow epoch shows its progress; a play slice (or the rest of a ``step``:
        ``background``) gets the play budget and parks as soon as interactive work waits.

        A frame of the play loop says ``running: true`` unless the loop stops by itself
        (divergence, early stopping), even when a pause arrived during its epoch: the pause
        is answered by a frame of its own, so the last frame a client sees is ``false``.
        """
        assert self.trainer is not None
        if self.grid is not None:  # grid mode: the grid trains instead
            return await self.grid.advance(playing, background)
        budget, yield_to = (self._work.scheduler.play_budget(), self._work.should_yield) if playing or background else (None, None)
        kind, value = await _slicer(self.trainer).run_slice(self._epoch, budget, yield_to)
        if kind == "parked":
            if playing and asyncio.get_running_loop().time() - self._last_frame >= PROGRESS_FRAME_SECONDS:
                await self._send_frame(running=True)
            return False
        if kind == "error":
            raise value
        outcome, message = value
        if outcome != "ok":
            self.running = False
        if message is not None:
            await self._send({"type": "diverged", "message": message})
        await self._send_frame(running=playing and outcome == "ok")
        return True

    async def finish_epoch(self) -> None:
        """Finish the epoch under way slice by slice, as a step does: the first slices in the
        interactive lane, a long epoch's rest in the play lane (so no other tab waits on it)."""
        slices = 0
        while self.trainer is not None and _slicer(self.trainer).in_progress:
            async with self._work.lane(interactive=(first := slices < STEP_SLICES)):
                slices += 1
                await self._advance(background=not first)

    def _epoch(self) -> tuple[str, str | None]:
        trainer = self.trainer
        assert trainer is not None
        with intra_op_threads(trainer._threads()):  # the rule of train/threads.py, or TORCHGROUND_THREADS
            row = trainer.run_epoch()
        history = trainer.history
        if row is None:  # diverged: the trainer put back the last finite weights
            self._diverged = history.message or ("train.diverged", {})
            trainer.clear_stop()
            return "diverged", t(self._diverged[0], self.lang, **self._diverged[1])
        self._grads = frames.grad_lists(trainer.model) or self._grads
        if trainer.should_stop:  # early stopping (spec.patience): pause, and play on if asked to
            trainer.clear_stop()
            return "stopped", None
        return "ok", None

    # -- building -----------------------------------------------------------------------------
    async def _rebuild(self, spec: Spec, edits: list[Edit], state: bool) -> None:
        """A fresh trainer for ``spec`` at epoch 0 (data and weights from their seeds), edits re-applied."""
        self.running = False
        async with self._work:
            self._end_epoch()
            self.trainer, self.edits = await asyncio.to_thread(self._build, spec, edits, False)
            self.spec, self._grads = spec, None
            if state:
                await self._send_state_and_frame()
            else:
                await self._send_frame()

    @staticmethod
    def _build(spec: Spec, edits: Any, strict: bool) -> tuple[Trainer, dict[tuple[str, tuple[int, ...]], Edit]]:
        trainer = Trainer(spec, callbacks=[EpochSlicer()])  # build_model serialises its use of torch's global RNG
        trainer.history.rows = CompactRows(trainer.history.rows)  # a tab may play for hours
        kept = {}
        for edit in edits:
            try:
                _apply_edit(trainer.model, edit)
            except TorchgroundError:
                if strict:  # from the URL: say so; after a change of shape: drop what no longer fits
                    raise
                continue
            kept[(edit.param, edit.index)] = edit
        return trainer, kept

    def _end_epoch(self) -> None:
        """End the current trainer's epoch in progress, if any (before it is replaced, or at close), and grid mode."""
        self.grid = grid_mode.end(self.grid)
        if self.trainer is not None:
            _slicer(self.trainer).cancel()

    def _apply_live(self, new: Spec) -> None:
        """Apply lr / weight_decay / l1 / l2 / optimizer_args to the running trainer, weights kept."""
        assert self.trainer is not None
        self.trainer.update_hyperparameters(new)
        self.spec = new

    # -- answers ------------------------------------------------------------------------------
    def _state_message(self) -> str:
        assert self.spec is not None and self.trainer is not None
        spec = self.spec
        return frames.dumps({
            "type": "state",
            "spec": spec.to_dict(),
            "query": self.query(),
            "data": frames.data_points(self.trainer.data),
            "network": {"features": list(spec.features), "widths": [*spec.hidden, spec.classes if (spec.classes or 2) > 2 else 1]},
            "feature_maps": frames.feature_maps(),
            "view": frames.data_view(spec, self.trainer.data),
        })

    def _frame_message(self, running: bool) -> str:
        trainer = self.trainer
        assert trainer is not None and self.spec is not None
        box = frames.data_view(self.spec, trainer.data)["box"] if self.spec.dataset == "csv" else None
        output, neurons = frames.model_maps(trainer.model, self.spec.features, box)
        return frames.dumps({
            "type": "frame",
            "epoch": trainer.history.epochs,
            "steps": trainer.history.steps,  # optimiser steps so far (a divergence may stop mid-epoch)
            "running": running,
            "metrics": frames.metric_values(trainer.metrics_row()),
            "params": frames.param_lists(trainer.model),
            "grads": self._grads,
            "output": output,
            "neurons": neurons,
            "query": self.query(),
        })

    async def _send_frame(self, running: bool | None = None) -> None:
        running = self.running if running is None else running
        self._last_frame = asyncio.get_running_loop().time()
        if self.grid is not None:
            return await self.grid.send_frame(running)
        await self._send(await asyncio.to_thread(self._frame_message, running))

    async def _send_state_and_frame(self) -> None:
        await self._send(await asyncio.to_thread(self._state_message))
        await self._send_frame()

    async def _send(self, message: str | dict[str, Any]) -> None:
        self._outbox.put(message if isinstance(message, str) else frames.dumps(message))

    async def _error(self, message: str) -> None:
        await self._send({"type": "error", "message": message})


def _slicer(trainer: Trainer) -> EpochSlicer:
    """The :class:`~torchground.server.slices.EpochSlicer` a session's trainer was built with."""
    return next(c for c in trainer.callbacks if isinstance(c, EpochSlicer))


def _is_pause(raw: str | bytes) -> bool:
    """Whether a raw message is a valid ``pause`` (checked cheaply first: most are not)."""
    if not isinstance(raw, str) or len(raw) > 200 or "pause" not in raw:
        return False
    try:
        return parse_message(raw).type == "pause"
    except TorchgroundError:
        return False


def _apply_edit(model: torch.nn.Module, edit: Edit) -> None:
    """``param[index] = value`` in place; refused with a message naming what exists."""
    params = dict(model.named_parameters())
    p = params.get(edit.param)
    if p is None:
        raise ProtocolError("server.edit.unknown_param", param=edit.param, allowed=", ".join(params))
    if not -MAX_EDIT_VALUE <= edit.value <= MAX_EDIT_VALUE:  # from a URL, any float (1e308, inf) may come
        raise ProtocolError("safety.edit_value", param=edit.param, value=f"{edit.value:g}", limit=f"{MAX_EDIT_VALUE:g}")
    shape = tuple(p.shape)
    if len(edit.index) != len(shape) or any(i < 0 or i >= n for i, n in zip(edit.index, shape)):
        index = ",".join(map(str, edit.index))
        raise ProtocolError("server.edit.bad_index", param=edit.param, index=index, shape="×".join(map(str, shape)), dims=len(shape))
    with torch.no_grad():
        p[edit.index] = edit.value
