"""Pictures with matplotlib: decision boundary with neuron maps, training history, data sets.

A front end. Every function builds a fresh :class:`matplotlib.figure.Figure` directly —
never through ``pyplot`` — so nothing touches global figure state: the functions are safe
to call from several threads and need no display. :func:`save_figure` writes PNG, SVG or
PDF atomically. Every text drawn comes from the ``plots.*`` catalogue in ``lang`` (default:
the current language). Colours are the Playground's: orange ``#f59322`` for -1, near-white
at 0, blue ``#0877bd`` for +1.

Japanese text needs a font with Japanese glyphs. The first one found among
:data:`CJK_FONTS` is added as a fallback behind the default font; without one, matplotlib
draws boxes and warns about missing glyphs (Debian: ``apt-get install
fonts-ipaexfont-gothic`` or ``fonts-noto-cjk``).

Example:
    >>> from torchground.data.datasets import make_dataset
    >>> fig = plot_dataset(make_dataset("xor", n_samples=50), lang="en")
    >>> fig.axes[0].get_title()
    'Data set xor (classification, 50 points)'
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path
from typing import Any, Sequence

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from torch import nn

from torchground.atomic import atomic_path
from torchground.viz.boundary import EXTENT, boundary_grid, data_box
from torchground.data.datasets import CLASSIFICATION, Dataset, Splits
from torchground.errors import TorchgroundError
from torchground.train.history import History
from torchground.i18n import t

__all__ = [
    "PLAYGROUND_CMAP",
    "CJK_FONTS",
    "SAVE_FORMATS",
    "MAX_NEURON_MAPS",
    "boundary_grid",
    "cjk_font",
    "plot_boundary",
    "plot_history",
    "plot_dataset",
    "save_figure",
]

NEGATIVE, NEUTRAL, POSITIVE = "#f59322", "#e8eaeb", "#0877bd"
#: The Playground's diverging scale: -1 orange, 0 near-white, +1 blue (use vmin=-1, vmax=1).
PLAYGROUND_CMAP = LinearSegmentedColormap.from_list("playground", [NEGATIVE, NEUTRAL, POSITIVE])
PLAYGROUND_CMAP(0.0)  # build the lookup table now, not lazily inside concurrent draws
#: Colours of K classes (3 to 10), class 0 first; the first two are the Playground's.
CLASS_COLOURS: tuple[str, ...] = (
    "#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)

#: Font families with Japanese glyphs, tried in order as the fallback for Japanese text.
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "IPAPGothic",
    "TakaoPGothic",
    "TakaoGothic",
    "VL PGothic",
    "VL Gothic",
    "Source Han Sans JP",
    "Hiragino Sans",
    "Yu Gothic",
    "Meiryo",
    "MS Gothic",
    "Noto Sans CJK SC",
    "Droid Sans Fallback",
)

#: File suffixes :func:`save_figure` writes, and the matplotlib format of each.
SAVE_FORMATS: dict[str, str] = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: Neuron maps drawn per hidden layer (the Playground's widest layer); the rest are counted.
MAX_NEURON_MAPS = 8

_SETS = ("train", "val", "test")
# Playground: training points with a white edge, held-out points with a black one; test
# points get a diamond so that they stay distinct from validation points.
_POINT_STYLE = {
    "train": {"edgecolors": "white", "marker": "o"},
    "val": {"edgecolors": "black", "marker": "o"},
    "test": {"edgecolors": "black", "marker": "D"},
}
_DPI = 100


# ----------------------------------------------------------------------------- fonts
@cache
def cjk_font() -> str | None:
    """The first family of :data:`CJK_FONTS` that matplotlib knows, or ``None``.

    Matplotlib's font list is built once per process (and cached on disk); a font
    installed later shows up after the cache is rebuilt.
    """
    global _scanned
    found = _known_cjk()
    if found is None and not _scanned:
        _scanned = True
        # The on-disk font cache may predate the font's installation: register the
        # system's CJK font files directly instead of rebuilding the whole cache.
        for path in font_manager.findSystemFonts():
            if any(key in Path(path).name.lower() for key in _CJK_FILE_KEYS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = _known_cjk()
    return found


_scanned = False
_CJK_FILE_KEYS = ("ipaexg", "ipag", "notosanscjk", "notosansjp", "notoserifcjk")


def _known_cjk() -> str | None:
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _finish(fig: Figure) -> Figure:
    """Give every text a CJK fallback font (glyph by glyph, matplotlib ≥ 3.6)."""
    fallback = cjk_font()
    if fallback is not None:
        families = [*matplotlib.rcParams["font.family"], fallback]
        for text in fig.findobj(Text):
            text.set_fontfamily(families)
    return fig


# ----------------------------------------------------------------------------- helpers
def _sets(data: Splits | Dataset | None, show_test: bool = True) -> list[tuple[str, Dataset]]:
    """(set name, data set) pairs to draw, non-empty ones only; a bare Dataset counts as training data."""
    if data is None:
        return []
    if isinstance(data, Dataset):
        return [("train", data)] if data.n else []
    names = _SETS if show_test else _SETS[:2]
    return [(name, getattr(data, name)) for name in names if getattr(data, name).n]


def _problem(data: Splits | Dataset | None) -> str:
    if data is None:
        return CLASSIFICATION
    return data.problem if isinstance(data, Dataset) else data.train.problem


def _scatter(ax: Any, sets: list[tuple[str, Dataset]], lang: str | None, size: float = 22.0, view: Any = None) -> None:
    for name, ds in sets:
        points = ds.points if view is None else view.to_raw(ds.points)
        colour: dict[str, Any] = {"c": ds.labels, "cmap": PLAYGROUND_CMAP, "vmin": -1.0, "vmax": 1.0}
        if ds.problem == CLASSIFICATION and ds.classes > 2:
            colour = {"c": [CLASS_COLOURS[int(k)] for k in ds.labels]}
        ax.scatter(
            points[:, 0], points[:, 1], s=size, linewidths=0.8, label=t(f"plots.set.{name}", lang),
            **colour, **_POINT_STYLE[name],
        )


def _set_handles(sets: list[tuple[str, Dataset]], lang: str | None) -> list[Line2D]:
    """Legend entries for the point sets: grey fill, each set's edge and marker."""
    return [
        Line2D([], [], linestyle="", marker=_POINT_STYLE[name]["marker"], markersize=6, markerfacecolor="#9e9e9e",
               markeredgecolor=_POINT_STYLE[name]["edgecolors"], label=t(f"plots.set.{name}", lang))
        for name, _ in sets
    ]


def _class_handles(lang: str | None, names: Sequence[str] = ()) -> list[Line2D]:
    if len(names) > 2:  # K classes: one entry per class name
        return [
            Line2D([], [], linestyle="", marker="o", markersize=6, markerfacecolor=CLASS_COLOURS[k],
                   markeredgecolor="none", label=name)
            for k, name in enumerate(names)
        ]
    if len(names) == 2 and tuple(names) != ("-1", "1"):  # a data file's two names: -1 is the first
        return [
            Line2D([], [], linestyle="", marker="o", markersize=6, markerfacecolor=colour, markeredgecolor="none",
                   label=name)
            for colour, name in ((POSITIVE, names[1]), (NEGATIVE, names[0]))
        ]
    return [
        Line2D([], [], linestyle="", marker="o", markersize=6, markerfacecolor=colour, markeredgecolor="none",
               label=t(key, lang))
        for colour, key in ((POSITIVE, "plots.class.positive"), (NEGATIVE, "plots.class.negative"))
    ]


def _plane(ax: Any, lang: str | None, extent: float = EXTENT, view: Any = None) -> None:
    if view is None:
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
    else:  # a data file's own extent: its axes keep their own units
        ax.set_xlim(view.raw_box[0], view.raw_box[1])
        ax.set_ylim(view.raw_box[2], view.raw_box[3])
    ax.set_xlabel(t("plots.axis.x1", lang))
    ax.set_ylabel(t("plots.axis.x2", lang))


def _heatmap(ax: Any, values: np.ndarray, smooth: bool = True, extent: float = EXTENT, view: Any = None) -> Any:
    """Draw (R, R) ``values`` (or an (R, R, 3) picture) with row 0 at the bottom (the
    :func:`boundary_grid` layout)."""
    box = (-extent, extent, -extent, extent) if view is None else view.raw_box
    return ax.imshow(
        values, origin="lower", extent=box, aspect="auto" if view is not None else None,
        cmap=PLAYGROUND_CMAP, vmin=-1.0, vmax=1.0, interpolation="bilinear" if smooth else "nearest",
    )


class _View:
    """Where a data file's points are drawn: the model's (standardised) box around them
    and the same box in the file's own units."""

    def __init__(self, spec: Any, points: np.ndarray) -> None:
        self.scale = np.asarray(spec.input_scale if spec.standardize else (1.0, 1.0))
        self.mean = np.asarray(spec.input_mean if spec.standardize else (0.0, 0.0))
        self.box = data_box(points)  # model space
        low = self.to_raw(np.array([[self.box[0], self.box[2]]]))[0]
        high = self.to_raw(np.array([[self.box[1], self.box[3]]]))[0]
        self.raw_box = (float(low[0]), float(high[0]), float(low[1]), float(high[1]))

    def to_raw(self, points: np.ndarray) -> np.ndarray:
        return points * self.scale + self.mean  # (N, 2)


def _view(spec: Any, splits: Splits | Dataset | None) -> _View | None:
    """A data file's view (``None`` for the generated sets, drawn on the Playground's plane)."""
    if spec is None or spec.dataset != "csv" or splits is None:
        return None
    sets = [splits] if isinstance(splits, Dataset) else [splits.train, splits.val, splits.test]
    points = np.concatenate([ds.points for ds in sets if ds.n])
    return _View(spec, points)


def class_picture(probabilities: np.ndarray) -> np.ndarray:
    """An RGB picture of K-class probabilities: each pixel the colour of its most likely
    class, faded to grey as that class's probability falls to 1/K (a tie).

    Shape: (R, R, K) → (R, R, 3).
    """
    k = probabilities.shape[-1]
    best = probabilities.argmax(axis=-1)  # (R, R)
    strength = np.clip((probabilities.max(axis=-1) - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)[..., None]  # (R, R, 1)
    colours = np.array([matplotlib.colors.to_rgb(c) for c in CLASS_COLOURS[:k]])[best]  # (R, R, 3)
    neutral = np.array(matplotlib.colors.to_rgb(NEUTRAL))
    return neutral * (1.0 - strength) + colours * strength


# ----------------------------------------------------------------------------- boundary
def plot_boundary(
    model: nn.Module,
    features: Sequence[str],
    splits: Splits | Dataset | None,
    lang: str | None = None,
    show_test: bool = False,
    discretize: bool = False,
    *,
    resolution: int = 100,
    spec: Any = None,
) -> Figure:
    """The network's output as a heat map with the data, and a small map per neuron beside it.

    The output over [-6, 6]² is drawn in the Playground's colours (-1 orange, 0 white,
    +1 blue; values beyond ±1 saturate) with the training points (white edge) and
    validation points (black edge), coloured by label on the same scale, and a colour
    bar. To the right, one column per hidden layer holds a small map of each neuron,
    titled like "layer1 #1" (at most :data:`MAX_NEURON_MAPS` per layer; the rest are
    counted). Regression uses the same colours; labels are values in [-1, 1].

    Args:
        model: a :class:`~torchground.model.PlaygroundNet`.
        features: its input feature names (``spec.features``).
        splits: the data to draw: :class:`~torchground.data.datasets.Splits`, a single
            :class:`~torchground.data.datasets.Dataset` (drawn as training points) or ``None``.
        lang: "en" or "ja". Default: ``None``, the current language.
        show_test: also draw the test points (black-edged diamonds). Default: False.
        discretize: show every map as -1/+1 (``value >= 0`` → +1), as the Playground's
            "discretize output". Default: False.
        resolution: grid points per side (see :func:`boundary_grid`). Default: 100.
        spec: the run's spec (default ``None``). With a data file the pictures span the
            data's own extent with a margin, in the file's units (the network sees them
            standardised); its class names label the legend.

    With K classes the output map is coloured by the most likely class, its strength by
    that class's probability (:func:`class_picture`), with a legend of the class names;
    each neuron keeps its own scalar map.

    Returns:
        A new figure; save it with :func:`save_figure`.
    """
    view = _view(spec, splits)
    grid = boundary_grid(model, features, resolution=resolution, box=None if view is None else view.box)
    output, neurons = grid["output"], grid["neurons"]
    multi = "probabilities" in grid
    if multi:
        probs = grid["probabilities"]  # (R, R, K)
        output = class_picture(np.eye(probs.shape[-1])[probs.argmax(axis=-1)] if discretize else probs)
    elif discretize:
        output = np.where(output >= 0.0, 1.0, -1.0)
    if discretize:
        neurons = [np.where(n >= 0.0, 1.0, -1.0) for n in neurons]
    problem = _problem(splits)

    n_layers = len(neurons)
    rows = max([min(n.shape[0], MAX_NEURON_MAPS) for n in neurons], default=1)
    fig = Figure(figsize=(6.4 + 1.25 * n_layers, 5.6), dpi=_DPI, layout="constrained")
    # Two subfigures, each laid out on its own: one grid for both misplaces the main axes.
    if n_layers:
        main, side = fig.subfigures(1, 2, width_ratios=[6.4, 1.25 * n_layers], wspace=0.02)
    else:
        main, side = fig, None

    ax = main.add_subplot()
    image = _heatmap(ax, output, smooth=not discretize, view=view)
    sets = _sets(splits, show_test)
    _scatter(ax, sets, lang, view=view)
    _plane(ax, lang, view=view)
    title = t(f"plots.boundary.title.{problem}", lang)
    ax.set_title(t("plots.boundary.discretized", lang, title=title) if discretize else title)
    names = spec.class_names if spec is not None and spec.class_names else (sets[0][1].names if sets else ())
    show_classes = problem == CLASSIFICATION and (sets or multi)
    handles = _set_handles(sets, lang) + (_class_handles(lang, names) if show_classes else [])
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.85)
    if not multi:
        main.colorbar(image, ax=ax, shrink=0.8, label=t("plots.colorbar.output", lang))

    if side is not None:
        cells = side.add_gridspec(rows, n_layers)
        for layer, maps in enumerate(neurons, start=1):
            shown = min(maps.shape[0], MAX_NEURON_MAPS)
            for k in range(shown):
                small = side.add_subplot(cells[k, layer - 1])
                _heatmap(small, maps[k], smooth=not discretize, view=view)
                small.set_xticks([])
                small.set_yticks([])
                small.set_title(t("plots.neuron.title", lang, layer=layer, index=k + 1), fontsize=7, pad=2)
            if maps.shape[0] > shown:
                # the last map's axes carries the count of neurons not drawn
                small.set_xlabel(t("plots.neuron.more", lang, count=maps.shape[0] - shown), fontsize=7)
    return _finish(fig)


# ----------------------------------------------------------------------------- history
def _series(history: History, column: str) -> np.ndarray | None:
    """Column values as floats (``None`` → NaN), or ``None`` when the column is empty throughout."""
    values = history.column(column)
    if all(v is None for v in values):
        return None
    return np.array([np.nan if v is None else float(v) for v in values])


def plot_history(history: History, lang: str | None = None) -> Figure:
    """Loss per epoch and, beside it, accuracy (classification) or R² (regression).

    Training, validation and test curves are drawn where the history has values; the best
    epoch (``history.best_epoch``) is marked with a dashed line. A history with no rows
    gives empty panels with a note; a single row is drawn as points.

    Args:
        history: a :class:`~torchground.train.history.History`.
        lang: "en" or "ja". Default: ``None``, the current language.

    Returns:
        A new figure with two axes (loss, score).
    """
    fig = Figure(figsize=(10.0, 4.0), dpi=_DPI, layout="constrained")
    ax_loss, ax_score = fig.subplots(1, 2)
    fig.suptitle(t("plots.history.title", lang))
    score_key, score_metric = ("accuracy", "acc") if history.problem == CLASSIFICATION else ("r2", "r2")
    epochs = np.array(history.column("epoch"), dtype=float)
    marker = "o" if len(epochs) <= 1 else None
    for ax, metric, label_key in ((ax_loss, "loss", "loss"), (ax_score, score_metric, score_key)):
        ax.set_title(t(f"plots.history.{label_key}", lang))
        ax.set_xlabel(t("plots.history.epoch", lang))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(t(f"plots.history.{label_key}", lang))
        ax.grid(True, alpha=0.3)
        drawn = False
        for name in _SETS:
            values = _series(history, f"{name}_{metric}")
            if values is not None:
                ax.plot(epochs, values, marker=marker, label=t(f"plots.set.{name}", lang))
                drawn = True
        if history.best_epoch is not None and len(epochs):
            ax.axvline(history.best_epoch, color="grey", linestyle="--", linewidth=1,
                       label=t("plots.history.best_epoch", lang, epoch=history.best_epoch))
        if drawn:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, t("plots.history.empty", lang), transform=ax.transAxes, ha="center", va="center",
                    color="grey")
    if history.problem == CLASSIFICATION:
        ax_score.set_ylim(0.0, 1.02)
    return _finish(fig)


# ----------------------------------------------------------------------------- data set
def plot_dataset(dataset_or_splits: Dataset | Splits, lang: str | None = None) -> Figure:
    """Scatter the points on [-6, 6]² in the Playground's colours.

    A :class:`~torchground.data.datasets.Splits` draws training points with a white edge,
    validation points with a black edge and test points as black-edged diamonds; a single
    :class:`~torchground.data.datasets.Dataset` draws all points as training points.
    Classification shows a legend of the two classes, regression a colour bar of the
    labels.

    Args:
        dataset_or_splits: the data.
        lang: "en" or "ja". Default: ``None``, the current language.

    Returns:
        A new figure with one axes (plus a colour bar for regression).
    """
    sets = _sets(dataset_or_splits)
    problem = _problem(dataset_or_splits)
    first = dataset_or_splits if isinstance(dataset_or_splits, Dataset) else dataset_or_splits.train
    n = sum(ds.n for _, ds in sets)
    fig = Figure(figsize=(6.0, 5.4), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_facecolor("#c9cdd1")  # mid grey: white edges and near-0 labels stay visible
    _scatter(ax, sets, lang, size=18.0)
    every = np.concatenate([d.points for _, d in sets]) if sets else np.zeros((0, 2))
    if every.size and (first.name == "csv" or np.abs(every).max() > EXTENT):  # a data file: its own extent
        box = data_box(every)
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
        ax.set_xlabel(t("plots.axis.x1", lang))
        ax.set_ylabel(t("plots.axis.x2", lang))
    else:
        _plane(ax, lang)
    ax.set_title(t("plots.dataset.title", lang, name=first.name, problem=t(f"plots.problem.{problem}", lang), n=n))
    handles = (_class_handles(lang, first.names) if problem == CLASSIFICATION else []) + (
        _set_handles(sets, lang) if isinstance(dataset_or_splits, Splits) else []
    )
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.85)
    if problem != CLASSIFICATION:
        mappable = ScalarMappable(Normalize(-1.0, 1.0), PLAYGROUND_CMAP)
        fig.colorbar(mappable, ax=ax, shrink=0.8, label=t("plots.colorbar.label", lang))
    return _finish(fig)


# ----------------------------------------------------------------------------- saving
def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the suffix, 100 dpi), then close it.

    SVG and PDF files carry no creation date.
    Closing removes the figure from pyplot's registry when pyplot made it; the figures of
    this module are never registered and are freed once unreferenced.

    Args:
        fig: the figure.
        path: where to write; the suffix (``.png``, ``.svg`` or ``.pdf``, any case) picks
            the format. Missing folders are created.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TorchgroundError: ``plots.bad_suffix`` for any other suffix (nothing is written).
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TorchgroundError("plots.bad_suffix", path=str(path), allowed=", ".join(SAVE_FORMATS))
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=_DPI, metadata=metadata)
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")  # never import pyplot ourselves
        if pyplot is not None:
            pyplot.close(fig)
    return path
