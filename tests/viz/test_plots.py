"""Tests for decision-boundary grids (torchground.viz.boundary) and the pictures (torchground.viz.plots)."""

from __future__ import annotations

import json
import string
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from matplotlib.text import Text

from torchground.viz.boundary import boundary_grid
from torchground.data.datasets import Splits, make_dataset, split_dataset
from torchground.errors import TorchgroundError
from torchground.data.features import feature_matrix
from torchground.train.history import History
from torchground.i18n import catalogue, set_language, t
from torchground.viz import plots
from torchground.model import PlaygroundNet, build_model
from torchground.viz.plots import (
    MAX_NEURON_MAPS,
    PLAYGROUND_CMAP,
    cjk_font,
    plot_boundary,
    plot_dataset,
    plot_history,
    save_figure,
)
from torchground.spec import Spec
from torchground.train import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CJK_PACKAGES = "fonts-ipaexfont-gothic (small) or fonts-noto-cjk"


@pytest.fixture(scope="module")
def run():
    """A real 3-epoch run of the default spec (circle, 2-3-3-1 tanh, 50/50 train/val)."""
    return train(Spec(epochs=3))


@pytest.fixture(scope="module")
def reg_run():
    return train(Spec(epochs=2, dataset="reg-gauss", n_samples=200, test_pct=20, val_pct=20, train_pct=60))


def texts(fig) -> set[str]:
    """Every text drawn in ``fig`` (titles, labels, legends, tick labels, suptitle)."""
    return {a.get_text() for a in fig.findobj(Text) if a.get_text()}


def one_neuron(weight: tuple[float, float]) -> PlaygroundNet:
    """No hidden layer: output = tanh(w · (x1, x2))."""
    model = PlaygroundNet(2, ())
    with torch.no_grad():
        model.layer_out.weight.copy_(torch.tensor([weight]))
        model.layer_out.bias.zero_()
    return model


# ----------------------------------------------------------------------------- boundary_grid
def test_grid_shapes_and_coordinates():
    model = build_model(Spec(hidden=(4, 2)))
    grid = boundary_grid(model, ["x1", "x2"], resolution=7, extent=3.0)
    np.testing.assert_allclose(grid["xs"], np.linspace(-3, 3, 7))
    np.testing.assert_allclose(grid["ys"], np.linspace(-3, 3, 7))
    assert grid["output"].shape == (7, 7)
    assert [n.shape for n in grid["neurons"]] == [(4, 7, 7), (2, 7, 7)]
    assert isinstance(grid["output"], np.ndarray)


def test_grid_orientation_output_tanh_x1():
    grid = boundary_grid(one_neuron((1.0, 0.0)), ["x1", "x2"], resolution=9)
    out = grid["output"]
    # columns run along x: tanh(x1) increases left to right, rows are all equal
    assert np.all(np.diff(out, axis=1) > 0)
    np.testing.assert_allclose(out, np.broadcast_to(out[0], out.shape))
    np.testing.assert_allclose(out[0], np.tanh(grid["xs"]), rtol=1e-6)
    assert grid["neurons"] == []


def test_grid_orientation_row0_is_bottom():
    grid = boundary_grid(one_neuron((0.0, 1.0)), ["x1", "x2"], resolution=9, extent=2.0)
    out = grid["output"]
    # rows run along y from the bottom: row 0 is y = -extent
    assert grid["ys"][0] == -2.0
    np.testing.assert_allclose(out[:, 0], np.tanh(grid["ys"]), rtol=1e-6)
    np.testing.assert_allclose(out[0], np.tanh(-2.0), rtol=1e-6)
    assert np.all(np.diff(out, axis=0) > 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_equals_model_at_sample_points(dtype):
    features = ["x1", "x2", "x1sq", "sinx2", "x1x2"]
    model = build_model(Spec(features=features, hidden=(5, 3), dtype=dtype))
    grid = boundary_grid(model, features, resolution=11)
    torch_dtype = getattr(torch, dtype)
    assert grid["output"].dtype == np.dtype(dtype)
    for i, j in [(0, 0), (0, 10), (10, 0), (3, 7), (10, 10), (5, 5)]:
        point = torch.tensor([[grid["xs"][j], grid["ys"][i]]], dtype=torch_dtype)
        x = feature_matrix(point, features)  # (1, F)
        with torch.no_grad():
            expected = model(x).item()
            layers = model.layer_outputs(x)
        assert grid["output"][i, j] == pytest.approx(expected, rel=1e-5, abs=1e-6)
        for l, maps in enumerate(grid["neurons"]):
            np.testing.assert_allclose(maps[:, i, j], layers[l][0].numpy(), rtol=1e-5, atol=1e-6)


def test_grid_restores_training_mode_and_needs_no_grad():
    model = build_model(Spec())
    model.train()
    grid = boundary_grid(model, ["x1", "x2"], resolution=3)
    assert model.training
    model.eval()
    boundary_grid(model, ["x1", "x2"], resolution=3)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"resolution": 1}, "plots.bad_resolution"),
        ({"resolution": 1001}, "plots.bad_resolution"),
        ({"resolution": 10.0}, "plots.bad_resolution"),
        ({"resolution": True}, "plots.bad_resolution"),
        ({"extent": 0.0}, "plots.bad_extent"),
        ({"extent": float("inf")}, "plots.bad_extent"),
    ],
)
def test_grid_refuses_bad_arguments(kwargs, key):
    with pytest.raises(TorchgroundError) as info:
        boundary_grid(build_model(Spec()), ["x1", "x2"], **kwargs)
    assert info.value.key == key
    value = next(iter(kwargs.values()))
    assert str(value) in info.value.message("en")
    assert str(value) in info.value.message("ja")


# ----------------------------------------------------------------------------- pictures
def _figures(run, reg_run, lang):
    return {
        "boundary": plot_boundary(run.model, run.spec.features, run.data, lang=lang),
        "boundary_reg": plot_boundary(reg_run.model, reg_run.spec.features, reg_run.data, lang=lang,
                                      show_test=True, discretize=True),
        "history": plot_history(run.history, lang=lang),
        "history_reg": plot_history(reg_run.history, lang=lang),
        "dataset": plot_dataset(run.data, lang=lang),
        "dataset_reg": plot_dataset(reg_run.data.train, lang=lang),
    }


@pytest.mark.slow
def test_every_plot_writes_png_and_svg(run, reg_run, tmp_path):
    for name, fig in _figures(run, reg_run, "en").items():
        width, height = fig.get_size_inches() * 100
        png = save_figure(fig, tmp_path / f"{name}.png")
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC), name
        image = imread(png)
        assert image.shape[:2] == (round(height), round(width)), name
        assert image[..., :3].std() > 0.01, name  # not a blank picture
        svg = save_figure(fig, tmp_path / f"{name}.svg").read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg, name
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


@pytest.mark.slow
def test_texts_follow_language(run, reg_run):
    en, ja = _figures(run, reg_run, "en"), _figures(run, reg_run, "ja")
    for name in en:
        assert texts(en[name]) != texts(ja[name]), name
    assert en["boundary"].axes[0].get_title() == t("plots.boundary.title.classification", "en")
    assert ja["boundary"].axes[0].get_title() == "決定境界（ネットワークの出力）"
    assert "layer1 #1" in texts(en["boundary"]) and "第1層 #1" in texts(ja["boundary"])
    assert "学習の経過" in texts(ja["history"]) and "Training history" in texts(en["history"])
    assert "訓練データ" in texts(ja["dataset"])
    # no English catalogue text (other than language-neutral ones) is left in a Japanese figure
    en_only = {v for k, v in catalogue("en").items() if k.startswith("plots.") and v != catalogue("ja")[k]}
    for fig in ja.values():
        assert not texts(fig) & en_only


def test_default_language_is_the_current_one(run):
    try:
        set_language("ja")
        assert plot_dataset(run.data).axes[0].get_title().startswith("データセット circle")
        set_language("en")
        assert plot_dataset(run.data).axes[0].get_title() == "Data set circle (classification, 500 points)"
    finally:
        set_language(None)


def test_boundary_layout_colours_and_points(run):
    fig = plot_boundary(run.model, run.spec.features, run.data, lang="en")
    main = fig.axes[0]
    image = main.images[0]
    assert image.get_cmap() is PLAYGROUND_CMAP
    assert image.get_clim() == (-1.0, 1.0)
    assert image.origin == "lower" and tuple(image.get_extent()) == (-6.0, 6.0, -6.0, 6.0)
    # training (white edge) and validation (black edge) points, coloured by label
    train_pts, val_pts = main.collections
    np.testing.assert_array_equal(train_pts.get_offsets(), run.data.train.points)
    np.testing.assert_array_equal(train_pts.get_array(), run.data.train.labels)
    np.testing.assert_allclose(train_pts.get_edgecolor()[0], [1, 1, 1, 1])
    np.testing.assert_allclose(val_pts.get_edgecolor()[0], [0, 0, 0, 1])
    # one small map per neuron of the 2-3-3-1 net, plus the main axes and its colour bar
    neuron_titles = sorted(a.get_title() for a in fig.axes if a.get_title().startswith("layer"))
    assert neuron_titles == [f"layer{l} #{k}" for l in (1, 2) for k in (1, 2, 3)]
    assert len(fig.axes) == 2 + 6
    # the colours: -1 orange, +1 blue
    np.testing.assert_allclose(PLAYGROUND_CMAP(0.0)[:3], [0xF5 / 255, 0x93 / 255, 0x22 / 255], atol=1e-6)
    np.testing.assert_allclose(PLAYGROUND_CMAP(1.0)[:3], [0x08 / 255, 0x77 / 255, 0xBD / 255], atol=1e-6)


def test_boundary_discretize_show_test_and_regression(reg_run):
    fig = plot_boundary(reg_run.model, reg_run.spec.features, reg_run.data, lang="en", show_test=True,
                        discretize=True)
    main = fig.axes[0]
    assert set(np.unique(main.images[0].get_array())) <= {-1.0, 1.0}
    assert len(main.collections) == 3  # train, val, test
    np.testing.assert_array_equal(main.collections[2].get_array(), reg_run.data.test.labels)
    assert main.get_title() == "Network output, discretized"
    hidden = plot_boundary(reg_run.model, reg_run.spec.features, reg_run.data, lang="en")
    assert len(hidden.axes[0].collections) == 2


def test_boundary_caps_neuron_maps_and_handles_no_hidden_layer():
    wide = build_model(Spec(hidden=(MAX_NEURON_MAPS + 3,)))
    fig = plot_boundary(wide, ["x1", "x2"], None, lang="en", resolution=10)
    assert sum(a.get_title().startswith("layer1 #") for a in fig.axes) == MAX_NEURON_MAPS
    assert "+3 more" in texts(fig)
    bare = plot_boundary(one_neuron((1.0, 1.0)), ["x1", "x2"], make_dataset("gauss", 40), lang="en", resolution=10)
    assert len(bare.axes) == 2  # main + colour bar


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_history_with_no_rows(problem, tmp_path):
    fig = plot_history(History(problem), lang="en")
    assert "No epochs recorded yet" in texts(fig)
    assert all(not ax.lines for ax in fig.axes)
    assert save_figure(fig, tmp_path / "h.png").read_bytes().startswith(PNG_MAGIC)


def test_history_with_one_row_and_gaps(reg_run, tmp_path):
    one = History("regression", rows=reg_run.history.rows[:1], best_epoch=1)
    fig = plot_history(one, lang="en")
    loss_ax, score_ax = fig.axes
    assert score_ax.get_title() == "R²"
    curves = [line for line in loss_ax.lines if line.get_label() in ("Training", "Validation", "Test")]
    assert curves and all(len(line.get_xdata()) == 1 and line.get_marker() == "o" for line in curves)
    save_figure(fig, tmp_path / "h.png")
    # a column that is empty throughout is left out; one with gaps is drawn with NaN holes
    rows = [dict(row) for row in reg_run.history.rows]
    rows[0]["val_loss"] = None
    gappy = plot_history(History("regression", rows=rows), lang="en")
    labels = [line.get_label() for line in gappy.axes[0].lines]
    expected = ["Training", "Validation"] + (["Test"] if rows[0]["test_loss"] is not None else [])
    assert labels == expected
    assert np.isnan(gappy.axes[0].lines[1].get_ydata()[0])


@pytest.mark.filterwarnings("ignore:Glyph")  # without a CJK font Japanese is drawn as boxes, with warnings
def test_history_classification_axes(run, tmp_path):
    fig = plot_history(run.history, lang="ja")
    assert save_figure(fig, tmp_path / "h.png").read_bytes().startswith(PNG_MAGIC)
    loss_ax, score_ax = fig.axes
    assert score_ax.get_title() == "正解率"
    assert score_ax.get_ylim() == (0.0, 1.02)
    assert [line.get_label() for line in loss_ax.lines][:2] == ["訓練データ", "検証データ"]


def test_dataset_plot(run, reg_run):
    fig = plot_dataset(run.data, lang="en")
    ax = fig.axes[0]
    assert ax.get_xlim() == (-6.0, 6.0) and ax.get_ylim() == (-6.0, 6.0)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 500
    legend = {text.get_text() for text in ax.get_legend().get_texts()}
    assert {"Class +1", "Class −1", "Training", "Validation"} <= legend
    reg = plot_dataset(reg_run.data.train, lang="en")
    assert len(reg.axes) == 2  # regression: colour bar of the labels
    assert reg.axes[1].get_ylabel() == "Label"


# ----------------------------------------------------------------------------- saving
@pytest.mark.slow
def test_save_formats_and_bad_suffix(tmp_path):
    fig = plot_dataset(make_dataset("xor", 30), lang="en")
    assert save_figure(fig, tmp_path / "sub" / "X.PNG").read_bytes().startswith(PNG_MAGIC)
    assert save_figure(fig, tmp_path / "x.pdf").read_bytes().startswith(b"%PDF")
    assert b"<dc:date>" not in save_figure(fig, tmp_path / "a.svg").read_bytes()
    for bad in ("x.jpg", "x", "x.png.txt"):
        with pytest.raises(TorchgroundError) as info:
            save_figure(fig, tmp_path / bad)
        assert info.value.key == "plots.bad_suffix"
        assert ".png, .svg, .pdf" in info.value.message("en") and bad in info.value.message("en")
        assert ".png, .svg, .pdf" in info.value.message("ja") and "保存できません" in info.value.message("ja")
        assert not (tmp_path / bad).exists()


def test_save_is_atomic(tmp_path):
    fig = plot_dataset(make_dataset("xor", 30), lang="en")
    target = tmp_path / "x.png"
    target.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    fig.savefig = broken
    with pytest.raises(RuntimeError):
        save_figure(fig, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_plots_from_threads(tmp_path):
    data = split_dataset(make_dataset("spiral", 100), 60, 20, 20)
    assert isinstance(data, Splits)

    def work(i):
        return save_figure(plot_dataset(data, lang="en"), tmp_path / f"{i}.png").read_bytes()

    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(work, range(4)))
    assert all(o.startswith(PNG_MAGIC) for o in outputs)
    assert len({len(o) for o in outputs}) == 1


@pytest.mark.slow
def test_japanese_renders_without_missing_glyphs(run, tmp_path):
    if cjk_font() is None:
        pytest.skip(f"no font with Japanese glyphs installed (Debian: {CJK_PACKAGES})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, fig in (("b", plot_boundary(run.model, run.spec.features, run.data, lang="ja")),
                          ("h", plot_history(run.history, lang="ja")), ("d", plot_dataset(run.data, lang="ja"))):
            save_figure(fig, tmp_path / f"{name}.png")
            save_figure(fig, tmp_path / f"{name}.svg")
    assert not [w for w in caught if "missing from" in str(w.message)]


def test_fallback_font_is_set_on_every_text(monkeypatch, tmp_path):
    # stands in for a CJK family, so the code path runs where none is installed
    monkeypatch.setattr(plots, "cjk_font", lambda: "DejaVu Serif")
    fig = plot_history(History("classification"), lang="en")
    families = {tuple(text.get_fontfamily()) for text in fig.findobj(Text)}
    assert families and all(f[-1] == "DejaVu Serif" for f in families)
    assert save_figure(fig, tmp_path / "h.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.slow
def test_no_pyplot_and_boundary_without_matplotlib():
    code = (
        "import sys, torchground.viz.boundary; assert 'matplotlib' not in sys.modules, 'boundary imports matplotlib';"
        "import torchground.viz.plots; assert 'matplotlib.pyplot' not in sys.modules, 'plots imports pyplot'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- catalogue
def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_catalogue_en_and_ja_match():
    root = Path(__file__).resolve().parents[2] / "src" / "torchground" / "i18n"
    en = json.loads((root / "plots.en.json").read_text(encoding="utf-8"))
    ja = json.loads((root / "plots.ja.json").read_text(encoding="utf-8"))
    assert en.keys() == ja.keys()
    neutral = {"plots.axis.x1", "plots.axis.x2"}
    for key in en:
        assert key.startswith("plots."), key
        assert _fields(en[key]) == _fields(ja[key]), key
        if key not in neutral:
            assert any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in ja[key]), key
