"""The page at TensorFlow Playground's sizes and beyond, in both languages (issue 19): data, network
and output in view together, links that follow their neurons, a network that never pushes the
output away, hover maps and link cards. Screenshots are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from conftest import Tab, serve
from torchground.i18n import catalogue

pytestmark = pytest.mark.browser

TOKEN = "layout-token"
SIZES = [(1440, 900), (1024, 768)]
LANGS = ["en", "ja"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(TOKEN) as url:
        yield url


@pytest.fixture
def make_tab(chromium: Any, base_url: str) -> Iterator[Any]:
    tabs: list[Tab] = []

    def make(width: int, height: int) -> Tab:
        tabs.append(Tab(chromium, base_url, TOKEN, width, height))
        return tabs[-1]

    yield make
    for tab in tabs:
        assert tab.errors == [], tab.errors
        tab.close()


def _in_row(tab: Tab) -> dict[str, dict[str, float]]:
    page = tab.page
    boxes = page.evaluate("""() => Object.fromEntries(['data', 'net', 'output'].map((n) => {
        const r = document.querySelector(`.panel.${n}`).getBoundingClientRect();
        return [n, {x: r.left, y: r.top, right: r.right, bottom: r.bottom}]; }))""")
    boxes["map"] = tab.box("output-map")
    return boxes


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("width, height", SIZES)
def test_data_network_and_output_are_in_view_together(make_tab: Any, width: int, height: int, lang: str) -> None:
    tab = make_tab(width, height)
    tab.open(f"lang={lang}")
    boxes = _in_row(tab)
    data, net, out, heat = boxes["data"], boxes["net"], boxes["output"], boxes["map"]
    assert data["right"] <= net["x"] and net["right"] <= out["x"], boxes  # three columns side by side
    assert out["right"] <= width, boxes  # nothing off the right edge
    assert heat["x"] + heat["width"] <= width and heat["y"] < height - 150, boxes  # the output map is on screen
    first_neuron = tab.box("neuron-1-0")
    assert first_neuron["y"] < height - 100, first_neuron  # and so is the network
    ticks = [tab.page.locator(f".heat .tick-{axis}").all_text_contents() for axis in "xy"]
    assert ticks == [["-6", "-3", "0", "3", "6"]] * 2  # the output map's axes, both of them
    tab.screenshot(f"layout-{width}x{height}-{lang}")


@pytest.mark.parametrize("width, height", SIZES)
def test_six_layers_of_eight_keep_the_output_reachable(make_tab: Any, width: int, height: int) -> None:
    tab = make_tab(width, height)
    page = tab.open("hidden=8,8,8,8,8,8&lang=ja")
    boxes = _in_row(tab)
    assert boxes["output"]["right"] <= width and boxes["net"]["right"] <= boxes["output"]["x"], boxes
    header = page.locator('.col-head[data-i18n="web.features"]').bounding_box()
    assert header["height"] < 24, header  # 入力特徴量 on one line
    if width >= 1440:  # TensorFlow Playground's width: the whole network fits beside the output
        assert page.evaluate("(() => { const n = document.getElementById('network'); return n.scrollWidth <= n.clientWidth + 1; })()")
    tab.by("output-node").scroll_into_view_if_needed()
    node = tab.box("output-node")
    assert 0 <= node["x"] and node["x"] + node["width"] <= width, node  # the network scrolls to its output
    tab.screenshot(f"six-layers-{width}x{height}-ja")


@pytest.mark.parametrize("width, height", SIZES)
def test_links_follow_the_neurons_when_the_language_changes(make_tab: Any, width: int, height: int) -> None:
    tab = make_tab(width, height)
    page = tab.open()
    gap = """() => {
        const link = document.querySelector('[data-testid="link-layer_out.weight-0-0"]').getBoundingClientRect();
        const node = document.querySelector('[data-testid="output-node"]').getBoundingClientRect();
        const first = document.querySelector('[data-testid="link-layer1.weight-0-0"]').getBoundingClientRect();
        const feature = document.querySelector('[data-testid="feature-x1"]').getBoundingClientRect();
        return [Math.abs(link.right - node.left), Math.abs(first.left - feature.right)]; }"""
    assert max(page.evaluate(gap)) < 2
    tab.by("lang").select_option("ja")
    page.wait_for_function("""document.querySelector('[data-i18n="web.data"]').textContent === 'データ'""")
    page.wait_for_function(f"({gap})().every((d) => d < 2)", timeout=10_000)
    tab.by("lang").select_option("en")
    page.wait_for_function("""document.querySelector('[data-i18n="web.data"]').textContent === 'Data'""")
    page.wait_for_function(f"({gap})().every((d) => d < 2)", timeout=10_000)


@pytest.mark.parametrize("lang", LANGS)
def test_hovering_a_neuron_shows_its_map_as_the_big_map(make_tab: Any, lang: str) -> None:
    tab = make_tab(1440, 900)
    page = tab.open(f"lang={lang}")
    picture = "document.getElementById('output-map').toDataURL()"
    output = page.evaluate(picture)
    tab.by("neuron-1-0").dispatch_event("pointerenter")
    page.wait_for_function("window.__tg.hovering() && window.__tg.hovering().shown")
    page.wait_for_function(f"{picture} !== {json.dumps(output)}")
    neuron = tab.box("neuron-1-0")
    assert tab.box("neuron-1-1")["y"] >= neuron["y"] + neuron["height"]  # the tile no longer zooms over its neighbours
    tab.screenshot(f"hover-neuron-{lang}")
    tab.by("neuron-1-0").dispatch_event("pointerleave")
    page.wait_for_function("window.__tg.hovering() === null")
    page.wait_for_function(f"{picture} === {json.dumps(output)}")
    tab.by("feature-x1").dispatch_event("pointerenter")
    page.wait_for_function("window.__tg.hovering() && window.__tg.hovering().feature === 'x1' && window.__tg.hovering().shown")


@pytest.mark.parametrize("lang", LANGS)
def test_hovering_a_link_shows_a_card_with_its_weight(make_tab: Any, lang: str) -> None:
    tab = make_tab(1024, 768)
    page = tab.open(f"lang={lang}")
    weight = page.evaluate("window.__tg.params['layer1.weight'][0][1]")
    tab.by("gradient-view").check()
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch >= 1")
    weight = page.evaluate("window.__tg.params['layer1.weight'][0][1]")
    link = tab.by("link-layer1.weight-0-1")
    box = link.bounding_box()
    link.dispatch_event("pointerenter", {"clientX": box["x"] + box["width"] / 2, "clientY": box["y"] + box["height"] / 2})
    card = tab.by("link-card")
    card.wait_for(state="visible")
    text = card.text_content()
    words = catalogue(lang)
    assert "layer1.weight[0, 1]" in text and words["web.card_weight"] in text and words["web.gradient"] in text
    assert words["web.card_hint"] in text
    assert f"{weight:.4f}".rstrip("0").rstrip(".")[:5] in text
    tab.screenshot(f"link-card-{lang}")
    link.dispatch_event("pointerleave")
    card.wait_for(state="hidden")


def test_after_a_divergence_the_numbers_are_honest(make_tab: Any) -> None:
    # lr 10 on a linear output diverges inside the first epoch: the page says how many steps ran
    # and shows the losses of the weights it went back to, not dashes.
    tab = make_tab(1024, 768)
    page = tab.open("dataset=reg-plane&output_activation=identity&lr=10&lang=ja")
    tab.by("play").click()
    tab.by("diverged-banner").wait_for(state="visible", timeout=60_000)
    page.wait_for_function("document.querySelector('[data-testid=\"steps\"]').textContent !== ''")
    steps = tab.by("steps").text_content()
    assert steps.endswith("ステップ") and int(steps.split()[0].replace(",", "")) > 0
    shown = tab.by("loss-train").text_content()  # the loss of the weights it went back to: a number, or ∞
    assert shown == "∞" or float(shown) >= 0, shown
    tab.screenshot("diverged-1024x768-ja")


def test_an_edit_after_epoch_0_says_it_is_not_in_the_link(make_tab: Any) -> None:
    tab = make_tab(1440, 900)
    page = tab.open()
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch === 1")
    before = page.url
    tab.by("link-layer1.weight-0-1").dispatch_event("click")
    tab.by("edit-input").fill("0.5")
    tab.by("edit-input").press("Enter")
    page.wait_for_function("window.__tg.params['layer1.weight'][0][1] === 0.5")
    toast = tab.by("error-toast")
    toast.wait_for(state="visible")
    assert catalogue("en")["server.edit_not_in_link"] in toast.text_content()
    assert page.url == before and "edits=" not in page.url


def test_every_text_follows_a_language_switch(make_tab: Any) -> None:
    tab = make_tab(1024, 768)
    page = tab.open()
    tab.by("lang").select_option("ja")
    page.wait_for_function("""document.querySelector('[data-i18n="web.data"]').textContent === 'データ'""")
    ja = catalogue("ja")
    assert page.locator(".opt-title").text_content() == ja["web.optimizer_args"].replace("{name}", "sgd")
    assert page.locator(".neuron-count").first.text_content() == ja["web.neurons_n"].replace("{n}", "4")
    assert tab.by("reinit").get_attribute("aria-label") == ja["web.reinit_title"]
    assert page.locator('[data-i18n="web.reinit_short"]').text_content() == ja["web.reinit_short"]  # the icon has a visible label
    tab.screenshot("switched-1024x768-ja")


def test_discretize_applies_to_the_neuron_maps_too(make_tab: Any) -> None:
    tab = make_tab(1440, 900)
    page = tab.open()
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch === 1")
    picture = "document.querySelector('[data-testid=\"neuron-1-0\"] canvas').toDataURL()"
    smooth = page.evaluate(picture)
    tab.by("discretize").check()
    page.wait_for_function(f"{picture} !== {json.dumps(smooth)}")
    tab.by("discretize").uncheck()
    page.wait_for_function(f"{picture} === {json.dumps(smooth)}")
