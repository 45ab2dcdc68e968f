"""Run directories: everything one training run leaves on disk, each file written atomically.

Layout of ``runs/<time>-<dataset>/``: ``spec.json`` (the full spec), ``history.csv`` (one
row per epoch), ``weights.safetensors`` (the model's ``state_dict``), ``summary.json``
(status and final figures), ``loss.png`` (loss and accuracy/R² per epoch) and
``boundary.png`` (output heat map with the points, and every neuron's heat map).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from torchground.atomic import atomic_path, write_text
from torchground.errors import TorchgroundError
from torchground.spec import Spec
from torchground.train.run import Run
from torchground.viz.plots import plot_boundary, plot_history, save_figure

__all__ = ["RUN_FILES", "default_run_dir", "save_run", "load_spec", "load_weights", "jsonable"]

RUN_FILES = ("spec.json", "history.csv", "weights.safetensors", "summary.json", "loss.png", "boundary.png")


def default_run_dir(spec: Spec, now: _dt.datetime | None = None, root: str | Path = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<dataset>`` for a run started ``now``."""
    now = now or _dt.datetime.now()
    return Path(root) / f"{now:%Y%m%d-%H%M%S}-{spec.dataset}"


def save_run(run: Run, out_dir: str | Path, lang: str | None = None) -> dict[str, Path]:
    """Write the run's files into ``out_dir`` (created if missing); returns name → path."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TorchgroundError("cli.out_not_dir", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in RUN_FILES}
    write_text(paths["spec.json"], run.spec.to_json() + "\n")
    write_text(paths["history.csv"], run.history.to_csv())
    state = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
    with atomic_path(paths["weights.safetensors"]) as tmp:
        save_file(state, str(tmp), metadata={"spec": run.spec.to_json(indent=None)})
    write_text(paths["summary.json"], json.dumps(jsonable(run.summary), indent=2, ensure_ascii=False) + "\n")
    save_figure(plot_history(run.history, lang=lang), paths["loss.png"])
    save_figure(plot_boundary(run.model, run.spec.features, run.data, lang=lang), paths["boundary.png"])
    return paths


def load_spec(path: str | Path) -> Spec:
    """Read a spec from a ``.toml`` or ``.json`` file (refused with a clear message otherwise)."""
    p = Path(path)
    if not p.is_file():
        raise TorchgroundError("cli.config_missing", path=str(p))
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".toml":
        return Spec.from_toml(text)
    if p.suffix.lower() == ".json":
        return Spec.from_json(text)
    raise TorchgroundError("cli.config_suffix", path=str(p))


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
