"""Checkpoints: the whole state of a training run, written so that a killed run can go on.

A checkpoint is one file, ``checkpoint.safetensors`` in the run folder: every tensor
(weights, optimiser state, the shuffle generator's and the global generator's states,
L1 dead-weight masks, early stopping's best weights) in safetensors, everything else
(epoch, history, optimiser settings, scheduler state, early-stopping counters, the spec)
as JSON in the file's metadata. Never pickle. The file is written atomically: a
temporary file in the same folder, ``fsync``, rename, ``fsync`` of the folder; a kill at
any moment leaves the previous checkpoint or the new one, never a torn one.

A checkpoint is always taken at an epoch boundary (before the next epoch draws its
batch order), so training from it gives the very numbers the uninterrupted run gives
(bit-identical on CPU).

API (used by ``torchground train`` and open to other front ends):

* :class:`Checkpointer` — a :class:`~torchground.train.callbacks.Callback` that keeps the
  latest epoch-boundary state in memory, writes it every ``every_s`` seconds of training
  and when the run is interrupted (Ctrl-C).
* :func:`capture` / :func:`restore` — a trainer's state as ``(tensors, meta)`` and back.
* :func:`save_checkpoint` / :func:`load_checkpoint` — the file.
* :func:`resume` — build a :class:`~torchground.train.trainer.Trainer` from a run
  folder's spec and checkpoint; ``fit(remaining_epochs(trainer))`` then carries on.

Callbacks with ``state_dict()`` and ``load_state_dict(state)`` methods (early stopping,
the learning-rate schedule) are saved and restored with the trainer. TensorFlow
Playground's loop (``training_loop = "tf-playground"``) is not checkpointed: a resumed
run of that loop trains again from the start, which gives the same result.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from torchground.atomic import atomic_path
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train.callbacks import Callback

if TYPE_CHECKING:
    from torchground.train.history import History
    from torchground.train.trainer import Trainer

__all__ = [
    "CHECKPOINT", "FORMAT", "Checkpointer", "capture", "restore", "save_checkpoint", "load_checkpoint",
    "checkpointable", "remaining_epochs",
]

CHECKPOINT = "checkpoint.safetensors"
FORMAT = 1


def checkpointable(trainer: "Trainer") -> bool:
    """Whether the trainer's loop can be checkpointed (the PyTorch loop, not TensorFlow Playground's)."""
    return trainer.spec.training_loop == "pytorch" and trainer.train_loader is None


# -- the trainer's state ------------------------------------------------------------------------
def capture(trainer: "Trainer", wall_s: float = 0.0, epoch: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The trainer's state now, as ``(tensors, meta)``; call it between epochs.

    ``epoch`` is the number of finished epochs (default ``trainer.epoch``; in
    ``on_epoch_start`` the trainer has already counted the epoch about to start). Must run
    inside :meth:`Trainer.fit` (as callbacks do) for the global generator's state to be
    the one that training uses.
    """
    return _packed(_snapshot(trainer, wall_s, epoch))


def _snapshot(trainer: "Trainer", wall_s: float, epoch: int | None, refs: list[tuple[str, torch.Tensor]] | None = None) -> dict[str, Any]:
    """The state with its tensors copied, not yet in file form (cheap enough for every epoch).

    ``refs``: the model's ``state_dict()`` items, kept by the caller (the tensors are updated
    in place while training, so the list stays valid and need not be rebuilt each epoch).
    The weights are copied into one flat tensor: one copy instead of one per tensor.
    """
    h = trainer.history
    items = refs if refs is not None else list(trainer.model.state_dict().items())
    return {
        "state": {
            "model": _FlatCopy(items),
            "optimizer": trainer._optimizer_snapshot(),
            "generator": trainer.generator.get_state(),
            "rng": torch.get_rng_state(),
            "dead": [m.clone() for m in trainer._dead],
            "callbacks": {key: cb.state_dict() for key, cb in _stateful(trainer)},
        },
        "spec": trainer.spec,
        "epoch": trainer.epoch if epoch is None else epoch,
        "wall_s": wall_s,
        "history": (h, (len(h.rows), h.steps, h.best_epoch, h.message)),
    }


class _FlatCopy:
    """A copy of named tensors of one dtype in one flat tensor; :meth:`items` gives them back."""

    def __init__(self, items: list[tuple[str, torch.Tensor]]) -> None:
        self.names = [k for k, _ in items]
        self.shapes = [v.shape for _, v in items]
        if len({v.dtype for _, v in items}) == 1:
            self.flat: torch.Tensor | None = torch.cat([v.detach().reshape(-1) for _, v in items])
            self.each: list[torch.Tensor] = []
        else:  # mixed dtypes: one copy each
            self.flat, self.each = None, [v.detach().clone() for _, v in items]

    def items(self) -> dict[str, torch.Tensor]:
        if self.flat is None:
            return dict(zip(self.names, self.each))
        parts = torch.split(self.flat, [s.numel() for s in self.shapes])
        return {k: p.reshape(s).clone() for k, p, s in zip(self.names, parts, self.shapes)}


def _packed(snap: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A snapshot in file form: (tensors by path, JSON-ready meta)."""
    tensors: dict[str, torch.Tensor] = {}
    state = dict(snap["state"])
    state["model"] = state["model"].items()
    packed = _pack(state, "", tensors)
    meta = {
        "format": FORMAT,
        "spec": json.loads(snap["spec"].to_json()),
        "epoch": snap["epoch"],
        "wall_s": snap["wall_s"],
        "history": _history(*snap["history"]),
        "state": packed,
    }
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, meta


def _history(h: "History", at: tuple[int, int, int | None, Any] | None = None) -> Any:
    """The history's JSON form; ``at``: (rows, steps, best_epoch, message) as they were when
    captured (rows are only ever appended, so the first ``rows`` are those)."""
    rows, steps, best, message = at if at is not None else (len(h.rows), h.steps, h.best_epoch, h.message)
    return _pack({"rows": h.rows[:rows], "steps": steps, "best_epoch": best, "message": message}, "history", {})


def restore(trainer: "Trainer", tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Put a captured state back into ``trainer`` (built from the same spec).

    The global generator's state (RReLU's draws) is set back when the next epoch starts,
    inside ``fit``, by a one-shot callback put first in ``trainer.callbacks``.
    """
    state = _unpack(meta["state"], tensors)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.generator.set_state(state["generator"])
    for mask, saved in zip(trainer._dead, state["dead"]):
        mask.copy_(saved)
    for key, cb in _stateful(trainer):
        if key in state["callbacks"]:
            cb.load_state_dict(state["callbacks"][key])
    hist = _unpack(meta["history"], tensors)
    h = trainer.history
    h.rows, h.steps, h.best_epoch = list(hist["rows"]), hist["steps"], hist["best_epoch"]
    h.message = tuple(hist["message"]) if hist["message"] else None  # type: ignore[assignment]
    trainer.epoch = meta["epoch"]
    trainer.callbacks.insert(0, _RestoreRng(state["rng"]))


def remaining_epochs(trainer: "Trainer") -> int:
    """Epochs left to train after a restore (``spec.epochs`` minus those finished)."""
    return max(0, trainer.spec.epochs - trainer.epoch)


def _stateful(trainer: "Trainer") -> list[tuple[str, Any]]:
    """The callbacks with ``state_dict``/``load_state_dict``, keyed ``ClassName:n``."""
    out, seen = [], {}
    for cb in trainer.callbacks:
        if callable(getattr(cb, "state_dict", None)) and callable(getattr(cb, "load_state_dict", None)):
            name = type(cb).__name__
            seen[name] = seen.get(name, -1) + 1
            out.append((f"{name}:{seen[name]}", cb))
    return out


class _RestoreRng(Callback):
    """Sets the global generator back to a checkpoint's state when the next epoch starts."""

    def __init__(self, state: torch.Tensor) -> None:
        self.state: torch.Tensor | None = state

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        if self.state is not None:
            torch.set_rng_state(self.state)
            self.state = None


# -- the file -------------------------------------------------------------------------------------
def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a checkpoint file atomically and durably (temp file, fsync, rename, fsync folder)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"torchground": json.dumps(meta, allow_nan=False)})
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(path.parent)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint file; a damaged or foreign file is refused with a clear message."""
    path = Path(path)
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["torchground"])
    except (OSError, SafetensorError, KeyError, ValueError) as exc:
        raise TorchgroundError("ckpt.bad_file", path=str(path), reason=str(exc) or type(exc).__name__) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TorchgroundError("ckpt.bad_file", path=str(path), reason=f"format {meta.get('format') if isinstance(meta, dict) else '?'}")
    return tensors, meta


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the callback ---------------------------------------------------------------------------------
class Checkpointer(Callback):
    """Keep the latest epoch-boundary state; write it every ``every_s`` seconds and on Ctrl-C.

    Args:
        path: the checkpoint file (``<run>/checkpoint.safetensors``).
        every_s: seconds of training between writes (0: after every epoch).
        wall_s: training time already spent before this fit (a resumed run's).

    The state is captured when an epoch starts (after every callback has seen the epoch
    before), so early stopping's counters and the schedule are those of the epoch
    boundary. ``written`` counts the files written.
    """

    def __init__(self, path: str | Path, every_s: float = 2.0, wall_s: float = 0.0) -> None:
        self.path = Path(path)
        self.every_s = every_s
        self.wall_before = wall_s
        self.written = 0
        self._latest: dict[str, Any] | None = None
        self._refs: tuple[Any, list[tuple[str, torch.Tensor]]] | None = None
        self._start = 0.0
        self._last_write = 0.0

    def on_fit_start(self, trainer: "Trainer") -> None:
        self._start = self._last_write = time.monotonic()

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        if not checkpointable(trainer) or epoch == 1:
            return  # epoch 1 starts from the spec alone: nothing to save yet
        if self._refs is None or self._refs[0] is not trainer.model:
            self._refs = (trainer.model, list(trainer.model.state_dict().items()))
        self._latest = _snapshot(trainer, self._wall(), epoch - 1, self._refs[1])
        now = time.monotonic()
        if now - self._last_write >= self.every_s:
            self._write()
            self._last_write = now

    def on_fit_end(self, trainer: "Trainer", history: "History") -> None:
        if history.status == "interrupted" and self._latest is not None:
            self._write()

    def _wall(self) -> float:
        return self.wall_before + (time.monotonic() - self._start)

    def _write(self) -> None:
        assert self._latest is not None
        save_checkpoint(self.path, *_packed(self._latest))
        self.written += 1


# -- nested state <-> (tensors, JSON) ---------------------------------------------------------------
def _pack(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-ready form of ``obj``; tensors go into ``tensors`` under their path."""
    if torch.is_tensor(obj):
        tensors[prefix] = obj
        return {"$t": prefix}
    if isinstance(obj, dict):
        return {"$d": [[k, _pack(v, f"{prefix}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"$tuple": [_pack(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_pack(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"$f": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint {type(obj).__name__} at {prefix}")


def _unpack(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_unpack(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "$t" in obj:
            return tensors[obj["$t"]]
        if "$d" in obj:
            return {k: _unpack(v, tensors) for k, v in obj["$d"]}
        if "$tuple" in obj:
            return tuple(_unpack(v, tensors) for v in obj["$tuple"])
        if "$f" in obj:
            return float(obj["$f"])
    return obj


def spec_of(meta: dict[str, Any]) -> Spec:
    """The spec a checkpoint was taken with."""
    return Spec.model_validate(meta["spec"])
