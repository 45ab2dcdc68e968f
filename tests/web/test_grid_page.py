"""The grid view in the page: 64 networks (learning rate × initial seed) play side by side,
their maps change and their losses fall; a refused grid says why; a clicked tile opens in the
normal view with its setting and its weights (its test loss there is the tile's). Screenshots
at 1440×900 and 1024×768, in English and Japanese.

Runs the real server and Debian's Chromium through Playwright, in one page; skipped where
either is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Tab, serve
from torchground.i18n import t

pytestmark = pytest.mark.browser

TOKEN = "grid-page-token"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(TOKEN) as url:
        yield url


def _tile_pixels(pg: Any, index: int) -> list[int]:
    return pg.evaluate(
        """(i) => { const c = document.querySelectorAll('[data-testid="grid-tile"] canvas.grid-map')[i];
                   return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""",
        index,
    )


def _mean(values: list[Any]) -> float:
    numbers = [v for v in values if isinstance(v, (int, float))]
    assert len(numbers) == len(values), values
    return sum(numbers) / len(numbers)


def test_the_grid_view_plays_refuses_and_opens_a_tile(chromium: Any, base_url: str) -> None:
    tab = Tab(chromium, base_url, TOKEN)
    try:
        pg = tab.open()
        assert tab.by("grid-view").is_hidden()
        assert tab.by("grid-open").text_content() == t("web.grid_tab", "en")
        tab.by("grid-open").click()
        pg.wait_for_function("window.__tg.grid.tiles === 64 && window.__tg.grid.framesDrawn > 0", timeout=30_000)
        assert tab.by("grid-view").is_visible() and tab.by("output-map").is_hidden()
        assert tab.by("grid-tile").count() == 64
        assert tab.by("grid-field-1").locator("option:checked").text_content() == t("web.grid_field_lr", "en")
        assert tab.by("grid-field-2").locator("option:checked").text_content() == t("web.grid_field_init_seed", "en")
        assert tab.by("grid-tile").nth(50).get_attribute("title") == "lr = 0.3, init_seed = 2"
        assert tab.by("grid-tile").nth(50).get_attribute("aria-label") == t("web.grid_open_tile", "en") + ": lr = 0.3, init_seed = 2"
        before = _tile_pixels(pg, 50)

        tab.by("grid-play").click()
        pg.wait_for_function("window.__tg.grid.epoch >= 1", timeout=30_000)
        first = pg.evaluate("window.__tg.grid.losses")
        pg.wait_for_function("window.__tg.grid.epoch >= 40", timeout=60_000)
        tab.by("grid-play").click()  # pause
        pg.wait_for_function("window.__tg.grid.running === false", timeout=30_000)  # the pause's own frame is on screen
        later = pg.evaluate("window.__tg.grid.losses")
        assert _mean(later) < _mean(first), (first, later)
        assert _tile_pixels(pg, 50) != before  # the tiles changed
        assert tab.by("grid-loss").nth(50).text_content().startswith(t("web.grid_loss_test", "en"))
        tab.screenshot("grid-view-en-1440x900")
        pg.set_viewport_size({"width": 1024, "height": 768})
        tab.screenshot("grid-view-en-1024x768")
        pg.set_viewport_size({"width": 1440, "height": 900})

        # a grid the stacked engine cannot train: refused, in the page's language
        epoch = pg.evaluate("window.__tg.grid.epoch")
        tab.by("grid-field-2").select_option("optimizer")
        tab.by("grid-values-2").fill("sgd, lbfgs")
        tab.by("grid-build").click()
        toast = tab.by("error-toast")
        toast.wait_for(state="visible", timeout=30_000)
        assert "lbfgs" in toast.text_content() and toast.text_content() == t(
            "grid.unsupported", "en", field="optimizer", value="lbfgs", allowed="sgd, adam, adamw, rmsprop, adagrad")
        assert pg.evaluate("window.__tg.grid.epoch") == epoch and tab.by("grid-tile").count() == 64  # the grid stays
        tab.by("grid-field-2").select_option("init_seed")
        assert tab.by("grid-values-2").input_value() == "0..7"  # the field's default values

        # a tile opens in the normal view: its setting, and its weights (the same test loss)
        tile_loss = tab.by("grid-loss").nth(50).text_content().split()[-1]
        tab.by("grid-tile").nth(50).click()
        pg.wait_for_function("window.__tg.spec && window.__tg.spec.lr === 0.3 && window.__tg.spec.init_seed === 2", timeout=30_000)
        assert tab.by("grid-view").is_hidden() and tab.by("output-map").is_visible()
        pg.wait_for_function(f"document.querySelector('[data-testid=loss-test]').textContent === '{tile_loss}'", timeout=30_000)
        assert tab.by("lr").input_value() == "0.3"

        # in Japanese
        tab.by("lang").select_option("ja")
        pg.wait_for_function("document.documentElement.lang === 'ja'", timeout=30_000)
        assert tab.by("grid-open").text_content() == t("web.grid_tab", "ja")
        tab.by("grid-open").click()
        pg.wait_for_function("window.__tg.grid.tiles === 64 && window.__tg.grid.framesDrawn > 0", timeout=30_000)
        assert tab.by("grid-build").text_content() == t("web.grid_build", "ja")
        assert tab.by("grid-field-1").locator("option:checked").text_content() == t("web.grid_field_lr", "ja")
        assert tab.by("grid-loss").nth(0).text_content().startswith(t("web.grid_loss_test", "ja"))
        assert pg.evaluate("window.__tg.grid.epoch") == 0  # a new grid
        tab.by("grid-play").click()
        pg.wait_for_function("window.__tg.grid.epoch >= 10", timeout=60_000)
        tab.by("grid-play").click()
        pg.wait_for_function("window.__tg.grid.running === false", timeout=30_000)
        pg.evaluate("document.querySelector('[data-testid=error-toast]').hidden = true")  # the English refusal's, from before
        tab.screenshot("grid-view-ja-1440x900")
        pg.set_viewport_size({"width": 1024, "height": 768})
        tab.screenshot("grid-view-ja-1024x768")
        assert tab.by("grid-play").get_attribute("aria-label") == t("web.play", "ja")
        tab.by("lang").select_option("en")  # a switch with the grid open retitles its play button
        pg.wait_for_function("document.documentElement.lang === 'en'", timeout=30_000)
        assert tab.by("grid-play").get_attribute("title") == t("web.play", "en")
        assert tab.by("grid-play").get_attribute("aria-label") == t("web.play", "en")
        tab.by("grid-back").click()
        pg.wait_for_function("!window.__tg.grid.open", timeout=30_000)
        assert tab.by("output-map").is_visible()
        assert not tab.errors, tab.errors
    finally:
        tab.close()
