"""Run directories: everything one training run leaves on disk, each file written atomically.

Layout of ``runs/<time>-<dataset>/``: ``spec.json`` (the full spec), ``history.csv`` (one
row per epoch), ``weights.safetensors`` (the model's ``state_dict``), ``summary.json``
(status and final figures), ``loss.png`` (loss and accuracy/R² per epoch) and
``boundary.png`` (output heat map with the points, and every neuron's heat map).

Lifecycle: :func:`start_run` writes ``spec.json`` first (and clears what an earlier run in
the same folder left); while training, ``checkpoint.safetensors`` (see
:mod:`torchground.train.checkpoint`) is rewritten every few seconds; :func:`save_run`
writes the history, the weights and the pictures, then ``summary.json`` LAST, then
removes the checkpoint unless the run was interrupted. So a folder is in one of three
states (:func:`run_status`): whole (a summary whose status is completed, early_stopped
or diverged), interrupted (a summary with status ``interrupted``, and a checkpoint) or
unfinished (no summary: killed; a checkpoint if one was written). The last two can be
resumed (``torchground train --resume RUN``). No temporary file is left behind: those a
kill leaves are removed the next time the folder is started or saved.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from torchground.atomic import atomic_path, write_bytes, write_text
from torchground.data.csv_io import read_bytes
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train.checkpoint import CHECKPOINT
from torchground.train.run import Run
from torchground.viz.plots import plot_boundary, plot_history, save_figure

__all__ = [
    "RUN_FILES", "FINAL_STATUSES", "default_run_dir", "start_run", "save_run", "run_status", "read_summary",
    "clean_temp_files", "load_spec", "load_weights", "jsonable",
]

RUN_FILES = ("spec.json", "history.csv", "weights.safetensors", "summary.json", "loss.png", "boundary.png")
FINAL_STATUSES = ("completed", "early_stopped", "diverged")


def default_run_dir(spec: Spec, now: _dt.datetime | None = None, root: str | Path = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<dataset>`` for a run started ``now``."""
    now = now or _dt.datetime.now()
    return Path(root) / f"{now:%Y%m%d-%H%M%S}-{spec.dataset}"


def start_run(spec: Spec, out_dir: str | Path, resume: bool = False) -> Path:
    """Make the run folder and write ``spec.json`` before any training.

    A new run removes what an earlier run left in the folder (the summary first, so the
    folder never looks whole meanwhile); ``resume=True`` keeps the checkpoint and only
    removes the summary of the interrupted run.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").unlink(missing_ok=True)
    if not resume:
        for name in (*RUN_FILES, CHECKPOINT):
            (out / name).unlink(missing_ok=True)
    clean_temp_files(out)
    write_text(out / "spec.json", stored_spec(spec, out).to_json() + "\n")
    return out


def save_run(run: Run, out_dir: str | Path, lang: str | None = None) -> dict[str, Path]:
    """Write the run's files into ``out_dir`` (created if missing), ``summary.json`` last.

    Returns name → path. The checkpoint is removed once the summary is written, unless
    the run was interrupted (it is what ``--resume`` continues from).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in RUN_FILES}
    write_text(paths["spec.json"], stored_spec(run.spec, out).to_json() + "\n")
    write_text(paths["history.csv"], run.history.to_csv())
    state = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    with atomic_path(paths["weights.safetensors"]) as tmp:
        save_file(state, str(tmp), metadata={"spec": run.spec.to_json(indent=None)})
    save_figure(plot_history(run.history, lang=lang), paths["loss.png"])
    save_figure(plot_boundary(run.model, run.spec.features, run.data, lang=lang, spec=run.spec), paths["boundary.png"])
    write_text(paths["summary.json"], json.dumps(jsonable(run.summary), indent=2, ensure_ascii=False) + "\n")
    if run.history.status != "interrupted":
        (out / CHECKPOINT).unlink(missing_ok=True)
    clean_temp_files(out)
    return paths


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's ``summary.json`` as a dict, or ``None`` when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_status(run_dir: str | Path) -> str | None:
    """What a run folder holds: the summary's status (completed, early_stopped, diverged,
    interrupted), ``"unfinished"`` (a spec but no summary: the run was killed), or ``None``
    when the folder is not a run folder."""
    out = Path(run_dir)
    summary = read_summary(out)
    if summary is not None and isinstance(summary.get("status"), str):
        return summary["status"]
    return "unfinished" if (out / "spec.json").is_file() else None


def clean_temp_files(out_dir: str | Path) -> list[Path]:
    """Remove the temporary files an interrupted atomic write left in a run folder."""
    out = Path(out_dir)
    removed = []
    for name in (*RUN_FILES, CHECKPOINT):
        stem, suffix = Path(name).stem, Path(name).suffix
        for tmp in out.glob(f".{stem}-*{suffix}"):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


DATA_COPY = "data.csv"


def stored_spec(spec: Spec, out: Path) -> Spec:
    """The spec a run folder keeps: with a data file, a copy of it is written beside the
    spec (``data.csv``, the same bytes, so the spec's SHA-256 still holds) and the spec
    names that copy, relative to the folder, so ``--config runs/x/spec.json`` repeats the run."""
    if spec.data_file is None:
        return spec
    source = Path(spec.data_file)
    if source.resolve() != (out / DATA_COPY).resolve():
        write_bytes(out / DATA_COPY, read_bytes(source))
    return spec.replace(data_file=DATA_COPY)


def load_spec(path: str | Path) -> Spec:
    """Read a spec from a ``.toml`` or ``.json`` file (refused with a clear message otherwise).

    A relative ``data_file`` is taken relative to the spec file's folder (a run folder's copy).
    """
    p = Path(path)
    if not p.is_file():
        raise TorchgroundError("cli.config_missing", path=str(p))
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".toml":
        spec = Spec.from_toml(text)
    elif p.suffix.lower() == ".json":
        spec = Spec.from_json(text)
    else:
        raise TorchgroundError("cli.config_suffix", path=str(p))
    if spec.data_file is not None and not Path(spec.data_file).is_absolute():
        spec = spec.replace(data_file=str(p.parent / spec.data_file))
    return spec


def load_weights(path: str | Path) -> dict[str, Any]:
    """The ``state_dict`` saved in a run's ``weights.safetensors``."""
    return load_file(str(path))


def jsonable(value: Any) -> Any:
    """``value`` with NaN/inf (not JSON) written as null, in nested dicts and lists too."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
