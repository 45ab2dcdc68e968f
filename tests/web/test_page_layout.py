"""Issue 19's eight items, each checked at 1440×900 and 1024×768 in English and Japanese: one
server and one page for the whole module; the size changes with the viewport and the language
with the page's own switch, so every combination also checks that the page follows both. A
screenshot per item and combination is kept in test-artifacts/screenshots/<item>-<lang>-<w>x<h>.png.
Beyond the matrix: 1024×640, a tablet in portrait and a Japanese sweep of widths."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest

from conftest import RestartableServer, Tab
from torchground.i18n import catalogue

pytestmark = pytest.mark.browser

TOKEN = "layout-token"
# en → ja at one size, the other size in ja, ja → en: each step changes the language or the size
COMBOS = [("en", 1440, 900), ("ja", 1440, 900), ("ja", 1024, 768), ("en", 1024, 768)]
WORDS = {lang: catalogue(lang) for lang in ("en", "ja")}
# what Chromium logs while the server is away (item 3): not errors of the page
NETWORK_NOISE = re.compile(r"ERR_CONNECTION_REFUSED|WebSocket connection to|403 \(Forbidden\)|Failed to load resource")


@pytest.fixture(scope="module")
def server() -> Iterator[RestartableServer]:
    srv = RestartableServer()
    srv.start(TOKEN)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_tab(chromium: Any, server: RestartableServer) -> Iterator[Tab]:
    tab = Tab(chromium, server.url, TOKEN, 1440, 900)
    yield tab
    tab.close()


@pytest.fixture
def tab(module_tab: Tab) -> Iterator[Tab]:
    module_tab.errors.clear()
    yield module_tab
    assert [e for e in module_tab.errors if not NETWORK_NOISE.search(e)] == []


# --- helpers ---------------------------------------------------------------------------------
def frames_settled(page: Any) -> None:
    """Two animation frames: whatever a resize or a relabelling scheduled has been drawn."""
    page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def switch_language(tab: Tab, lang: str) -> None:
    page = tab.page
    if page.evaluate("document.documentElement.lang") != lang:
        tab.by("lang").select_option(lang)
    page.wait_for_function(f"""document.documentElement.lang === '{lang}'
        && document.querySelector('[data-i18n="web.data"]').textContent === {json.dumps(WORDS[lang]['web.data'])}""")
    assert f"lang={lang}" in page.url or lang == "en"


def combinations(tab: Tab, combos: list[tuple[str, int, int]] = COMBOS) -> Iterator[tuple[str, int, int]]:
    """Each (language, width, height): the viewport set, the language switched, the page redrawn."""
    for lang, width, height in combos:
        tab.page.set_viewport_size({"width": width, "height": height})
        switch_language(tab, lang)
        tab.page.evaluate("window.scrollTo(0, 0)")  # what the first screen shows (a click may have scrolled)
        frames_settled(tab.page)
        tab.page.wait_for_function(f"({LINK_GAPS})().every((d) => d < 2)", timeout=10_000)
        yield lang, width, height


def shot(tab: Tab, item: str, lang: str, width: int, height: int) -> None:
    tab.screenshot(f"{item}-{lang}-{width}x{height}", full_page=False)


def boxes(tab: Tab) -> dict[str, dict[str, float]]:
    """The three panels' and the output map's boxes (viewport coordinates)."""
    return tab.page.evaluate("""() => Object.fromEntries([['data', '.panel.data'], ['net', '.panel.net'],
        ['output', '.panel.output'], ['map', '[data-testid="output-map"]'], ['picker', '#datasets']].map(([n, s]) => {
        const r = document.querySelector(s).getBoundingClientRect();
        return [n, {x: r.left, y: r.top, right: r.right, bottom: r.bottom}]; }))""")


def in_view(box: dict[str, float], width: int, height: int) -> bool:
    right = box.get("right", box["x"] + box.get("width", 0))
    bottom = box.get("bottom", box["y"] + box.get("height", 0))
    return 0 <= box["x"] and right <= width + 0.5 and 0 <= box["y"] and bottom <= height + 0.5


def no_sideways_scroll(tab: Tab) -> bool:
    return tab.page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# The labels that a narrow column must not break (入力特徴量, 言語, …): text nodes drawn on more than one line.
BROKEN_LABELS = """() => {
    const bad = [];
    const labels = '.lang > span, .control > label, .col-head, .neuron-count, .panel h2, .labelled .caption, .dataset, '
        + '.tabs button, .metrics th, .layers-label, .opt-title, .opt-arg, .check span, .feature-label, .tabs-title';
    for (const el of document.querySelectorAll(labels)) {
        if (el.offsetParent === null) continue;
        for (const node of el.childNodes) {
            if (node.nodeType !== 3 || !node.textContent.trim()) continue;
            const range = document.createRange();
            range.selectNodeContents(node);
            const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.bottom)));
            if (lines.size > 1) bad.push(node.textContent.trim());
        }
    }
    return bad; }"""

# Visible texts, titles, aria-labels and placeholders that are one of `texts` (the other language's labels).
LEFT_BEHIND = """(texts) => {
    const other = new Set(texts);
    const found = [];
    for (const el of document.querySelectorAll('*')) {
        if (!el.getClientRects().length) continue;
        for (const a of ['title', 'aria-label', 'placeholder']) {
            const v = el.getAttribute(a);
            if (v && other.has(v.trim())) found.push(`${el.dataset.testid || el.className} ${a}: ${v}`);
        }
        for (const n of el.childNodes) if (n.nodeType === 3 && other.has(n.textContent.trim())) found.push(n.textContent.trim());
    }
    return found; }"""


def other_language_texts(lang: str) -> list[str]:
    """The page's labels in the language not shown (those that differ from ``lang``'s)."""
    other = WORDS["ja" if lang == "en" else "en"]
    return sorted({v for k, v in other.items() if k.startswith(("web.", "server.")) and WORDS[lang].get(k) != v
                   and "{" not in v and len(v) > 2})


# The middle of a link on screen: [x, y].
LINK_MIDDLE = """(id) => { const p = document.querySelector(`[data-testid="${id}"]`);
    const q = p.getPointAtLength(p.getTotalLength() / 2).matrixTransform(p.getScreenCTM()); return [q.x, q.y]; }"""

# The distances between three links' ends and their nodes (first, middle and last layer).
LINK_GAPS = """() => {
    const box = (id) => document.querySelector(`[data-testid="${id}"]`);
    const ends = (id) => { const p = box(id); if (!p) return null; const m = p.getScreenCTM();
        const a = p.getPointAtLength(0), b = p.getPointAtLength(p.getTotalLength());
        return [a.matrixTransform(m), b.matrixTransform(m)]; };
    const gaps = [];
    const pairs = [['link-layer1.weight-0-0', 'feature-x1', 'neuron-1-0'], ['link-layer2.weight-0-0', 'neuron-1-0', 'neuron-2-0']];
    const last = document.querySelectorAll('[data-testid^="neuron-"]');
    const lastLayer = Math.max(...[...last].map((n) => +n.dataset.testid.split('-')[1]));
    pairs.push([`link-layer_out.weight-0-0`, `neuron-${lastLayer}-0`, 'output-node']);
    for (const [link, from, to] of pairs) {
        const e = ends(link); if (!e) continue;
        const f = box(from).getBoundingClientRect(), t = box(to).getBoundingClientRect();
        gaps.push(Math.hypot(e[0].x - f.right, e[0].y - (f.top + f.height / 2)));
        gaps.push(Math.hypot(e[1].x - t.left, e[1].y - (t.top + t.height / 2)));
    }
    return gaps; }"""


# --- 1: data, network and output in view together --------------------------------------------
def test_item1_data_network_and_output_are_in_view_together(tab: Tab) -> None:
    tab.open("lang=en")
    for lang, width, height in combinations(tab):
        b = boxes(tab)
        assert b["data"]["right"] <= b["net"]["x"] and b["net"]["right"] <= b["output"]["x"], b  # three columns
        assert b["output"]["right"] <= width and no_sideways_scroll(tab), b
        assert in_view(b["map"], width, height) and in_view(tab.box("loss-test"), width, height), b  # map and losses on the first screen
        assert in_view(b["picker"], width, height), b  # the data sets
        for node in ("neuron-1-0", "output-node"):
            assert in_view(tab.box(node), width, height), node  # and the network, up to its output
        ticks = [tab.page.locator(f".heat .tick-{axis}").all_text_contents() for axis in "xy"]
        assert ticks == [["-6", "-3", "0", "3", "6"]] * 2
        assert tab.page.evaluate(BROKEN_LABELS) == []
        shot(tab, "1-layout", lang, width, height)


def test_item1_at_1024x640_on_a_tablet_and_in_japanese_at_every_width(tab: Tab) -> None:
    page = tab.open("lang=en")
    for lang, width, height in combinations(tab, [("en", 1024, 640), ("ja", 1024, 640)]):
        b = boxes(tab)
        assert b["data"]["right"] <= b["net"]["x"] and b["net"]["right"] <= b["output"]["x"], b
        assert in_view(b["map"], width, height) and in_view(b["picker"], width, height), b
        assert in_view(tab.box("neuron-1-0"), width, height) and in_view(tab.box("output-node"), width, height)
        assert in_view(tab.box("loss-test"), width, height)  # and the loss numbers above the map
        shot(tab, "1-layout", lang, width, height)
    # the screens of laptops and desktops, in the wider language: the whole output map beside the network
    for width, height in ((1280, 720), (1366, 768), (1536, 864), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        frames_settled(page)
        b = boxes(tab)
        assert in_view(b["map"], width, height) and in_view(tab.box("output-node"), width, height), (width, height, b)
        assert in_view(tab.box("loss-test"), width, height), (width, height)
        assert all(in_view(t.bounding_box(), width, height) for t in page.locator(".heat .tick").all()), (width, height)
    # a tablet in portrait: data beside the whole network, the output right below it, one scroll away
    for lang, width, height in combinations(tab, [("ja", 768, 1024)]):
        b = boxes(tab)
        assert b["data"]["right"] <= b["net"]["x"] and b["net"]["bottom"] <= b["output"]["y"], b
        assert b["data"]["right"] <= b["output"]["x"] and b["output"]["y"] < height, b  # its top on the first screen
        assert no_sideways_scroll(tab)
        assert page.evaluate("(() => { const n = document.getElementById('network'); return n.scrollWidth <= n.clientWidth + 1; })()")
        assert in_view(tab.box("output-node"), width, height)
        mid = page.evaluate(LINK_MIDDLE, "link-layer_out.weight-0-1")  # the card of the rightmost link stays on screen
        tab.by("link-layer_out.weight-0-1").dispatch_event("pointerenter", {"clientX": mid[0], "clientY": mid[1]})
        tab.by("link-card").wait_for(state="visible")
        assert in_view(tab.box("link-card"), width, height), tab.box("link-card")
        tab.by("link-layer_out.weight-0-1").dispatch_event("pointerleave")
        tab.by("output-map").scroll_into_view_if_needed()
        assert in_view(tab.box("output-map"), width, height)
        shot(tab, "1-tablet", lang, width, height)
    # Japanese at every width from a phone's to a wide screen's: nothing sideways, nothing overlapping
    for width in (1920, 1600, 1280, 1180, 1100, 960, 900, 820, 600, 414, 375):
        page.set_viewport_size({"width": width, "height": 900})
        frames_settled(page)
        b = boxes(tab)
        assert no_sideways_scroll(tab), width
        panels = [b["data"], b["net"], b["output"]]
        for i, p in enumerate(panels):
            for q in panels[i + 1:]:
                apart = p["right"] <= q["x"] or q["right"] <= p["x"] or p["bottom"] <= q["y"] or q["bottom"] <= p["y"]
                assert apart, (width, b)
        head = page.locator('.col-head[data-i18n="web.features"]').bounding_box()
        assert head["height"] < 24, (width, head)  # 入力特徴量 on one line
        assert page.evaluate(BROKEN_LABELS) == [], width  # and every other label
        page.wait_for_function(f"({LINK_GAPS})().every((d) => d < 2)", timeout=10_000)
    tab.screenshot("1-layout-ja-375x900", full_page=True)


# --- 2: links follow their neurons ------------------------------------------------------------
def test_item2_links_follow_the_neurons_at_every_switch(tab: Tab) -> None:
    page = tab.open("lang=en&hidden=4,3")
    for lang, width, height in combinations(tab):  # each step switched the language or the size
        assert max(page.evaluate(LINK_GAPS)) < 2
        link = tab.by("link-layer_out.weight-0-0")  # its hover area lies on the drawn link
        hit = page.evaluate("""() => { const p = document.querySelector('[data-testid="link-layer_out.weight-0-0"]');
            const q = p.getPointAtLength(p.getTotalLength() / 2).matrixTransform(p.getScreenCTM());
            const at = document.elementFromPoint(q.x, q.y); return at && at.getAttribute('data-testid'); }""")
        assert hit == link.get_attribute("data-testid")
        shot(tab, "2-links", lang, width, height)
    tab.by("add-layer").click()  # the layer count moves them too
    page.wait_for_function("window.__tg.spec.hidden.length === 3")
    page.wait_for_function(f"({LINK_GAPS})().every((d) => d < 2)", timeout=10_000)


# --- 4: six hidden layers of eight keep the output reachable ----------------------------------
def test_item4_six_layers_of_eight_keep_the_output_reachable(tab: Tab) -> None:
    page = tab.open("lang=en&hidden=8,8,8,8,8,8")
    for lang, width, height in combinations(tab):
        b = boxes(tab)
        assert b["net"]["right"] <= b["output"]["x"] and b["output"]["right"] <= width and no_sideways_scroll(tab), b
        assert in_view(b["map"], width, height), b  # the output map stays beside the network
        head = page.locator('.col-head[data-i18n="web.features"]').bounding_box()
        assert head["height"] < 24 and page.evaluate(BROKEN_LABELS) == [], head  # 入力特徴量 / Features on one line
        if width >= 1440:  # TensorFlow Playground's width: the whole network fits beside the output
            assert page.evaluate("(() => { const n = document.getElementById('network'); return n.scrollWidth <= n.clientWidth + 1; })()")
        tab.by("output-node").scroll_into_view_if_needed()  # narrower: the network scrolls to its output
        node = tab.box("output-node")
        assert in_view(node, width, height) and b["net"]["x"] <= node["x"] and node["x"] + node["width"] <= b["net"]["right"], node
        assert max(page.evaluate(LINK_GAPS)) < 2
        shot(tab, "4-six-layers", lang, width, height)
        page.evaluate("document.getElementById('network').scrollLeft = 0")


# --- 5: hovering a neuron shows its map as the big map -----------------------------------------
def test_item5_hovering_a_neuron_shows_its_map_as_the_big_map(tab: Tab) -> None:
    page = tab.open("lang=en")
    picture = "document.getElementById('output-map').toDataURL()"
    for lang, width, height in combinations(tab):
        output = page.evaluate(picture)
        tile = tab.by("neuron-1-0")
        tile.dispatch_event("pointerenter")
        page.wait_for_function("window.__tg.hovering() && window.__tg.hovering().shown")
        page.wait_for_function(f"{picture} !== {json.dumps(output)}")
        neuron, plus = tab.box("neuron-1-0"), tab.box("add-neuron-1")
        assert tab.box("neuron-1-1")["y"] >= neuron["y"] + neuron["height"]  # no zoom over its neighbours
        assert plus["y"] + plus["height"] <= neuron["y"]  # nor over the layer's +/− buttons
        assert in_view(tab.box("output-map"), width, height)  # the big map is on screen while hovering
        shot(tab, "5-hover-neuron", lang, width, height)
        tile.dispatch_event("pointerleave")
        page.wait_for_function("window.__tg.hovering() === null")
        page.wait_for_function(f"{picture} === {json.dumps(output)}")
    tab.by("feature-x1").dispatch_event("pointerenter")  # a feature's map too
    page.wait_for_function("window.__tg.hovering() && window.__tg.hovering().feature === 'x1' && window.__tg.hovering().shown")
    tab.by("feature-x1").dispatch_event("pointerleave")


# --- 6: a link's card; an edit after epoch 0 says it is not in the link -----------------------
def test_item6_link_card_and_an_edit_after_epoch_0(tab: Tab) -> None:
    page = tab.open("lang=en")
    tab.by("gradient-view").check()
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch === 1")
    before = page.url
    for n, (lang, width, height) in enumerate(combinations(tab)):
        words = WORDS[lang]
        weight = page.evaluate("window.__tg.params['layer_out.weight'][0][1]")
        link = tab.by("link-layer_out.weight-0-1")
        mid = page.evaluate(LINK_MIDDLE, "link-layer_out.weight-0-1")
        link.dispatch_event("pointerenter", {"clientX": mid[0], "clientY": mid[1]})
        card = tab.by("link-card")
        card.wait_for(state="visible")
        text = card.text_content()
        assert "layer_out.weight[0, 1]" in text and words["web.card_weight"] in text and words["web.gradient"] in text
        assert words["web.card_hint"] in text and f"{weight:.4f}".rstrip("0").rstrip(".")[:5] in text, text
        assert in_view(tab.box("link-card"), width, height)
        shot(tab, "6-link-card", lang, width, height)
        link.dispatch_event("pointerleave")
        card.wait_for(state="hidden")
        link.dispatch_event("pointerenter", {"clientX": width - 3, "clientY": height - 3})  # in a corner: it stays inside
        card.wait_for(state="visible")
        assert in_view(tab.box("link-card"), width, height), tab.box("link-card")
        link.dispatch_event("pointerleave")
        card.wait_for(state="hidden")
        value = 0.5 + n / 4
        link.dispatch_event("click", {"clientX": width - 3, "clientY": height - 3})  # the editor stays inside too
        tab.by("edit-input").wait_for(state="visible")
        assert in_view(page.locator(".edit-pop").bounding_box(), width, height), page.locator(".edit-pop").bounding_box()
        tab.by("edit-input").fill(str(value))
        tab.by("edit-input").press("Enter")
        page.wait_for_function(f"window.__tg.params['layer_out.weight'][0][1] === {value}")
        toast = tab.by("error-toast")
        page.wait_for_function(f"""(() => {{ const t = document.querySelector('[data-testid="error-toast"]');
            return !t.hidden && t.textContent.includes({json.dumps(words['server.edit_not_in_link'])}); }})()""")
        assert page.url.replace("lang=ja", "lang=en") == before.replace("lang=ja", "lang=en") and "edits=" not in page.url
        toast.click()  # the next language's notice is a new one
        toast.wait_for(state="hidden")


# --- 7: the loss chart; honest numbers after a divergence --------------------------------------
@pytest.mark.slow
def test_item7_loss_chart_and_the_numbers_after_a_divergence(tab: Tab) -> None:
    # Spiral's losses stay near 0.5: a y axis from 0 would draw them as a flat line.
    page = tab.open("lang=en&dataset=spiral")
    tab.by("play").click()
    page.wait_for_function("window.__tg.epoch >= 8", timeout=120_000)
    tab.by("play").click()  # pause
    page.wait_for_function("!document.querySelector('[data-testid=\"play\"]').classList.contains('playing')")
    epochs = page.evaluate("window.__tg.chart().epochs")
    for lang, width, height in combinations(tab):
        words = WORDS[lang]
        chart = page.evaluate("window.__tg.chart()")
        low, high = chart["range"]
        assert chart["epochs"] >= epochs >= 8, chart  # a switch or a resize does not reset it
        assert 0.2 < low < high < 1.0, chart  # fitted around the losses, not [0, max]
        assert chart["legend"] == [words["web.chart_train"], words["web.chart_test"]], chart
        assert chart["axes"] == [words["web.chart_loss"], words["web.chart_epoch"]], chart
        assert chart["bitmap"] == chart["css"], chart  # redrawn at its new size, not stretched
        assert in_view(tab.box("loss-chart"), width, height)
        shot(tab, "7-loss-chart", lang, width, height)
    # lr 10 on a linear output diverges inside the first epoch: the page says how many steps ran
    # and shows the losses of the weights it went back to, not dashes, in the language of the page
    tab.open("dataset=reg-plane&output_activation=identity&lr=10&lang=en")
    banner = tab.by("diverged-banner")
    for lang, width, height in combinations(tab):
        tab.by("reset").click()
        page.wait_for_function("window.__tg.epoch === 0 && document.querySelector('[data-testid=\"steps\"]').textContent === ''")
        assert banner.is_hidden()
        tab.by("step").click()
        banner.wait_for(state="visible", timeout=60_000)
        expected = max(re.split(r"\{\w+\}", WORDS[lang]["train.diverged"]), key=len)  # its longest fixed part
        assert expected in banner.text_content() and in_view(banner.bounding_box(), width, height)
        page.wait_for_function("document.querySelector('[data-testid=\"steps\"]').textContent !== ''")
        steps = tab.by("steps").text_content()
        n = int(steps.split()[0].replace(",", ""))
        assert n > 0 and steps == WORDS[lang]["web.steps_n"].replace("{n}", f"{n:,}"), steps
        shown = tab.by("loss-train").text_content()
        assert shown == "∞" or float(shown) >= 0, shown
        shot(tab, "7-diverged", lang, width, height)


def test_item7_the_divergence_message_follows_a_language_switch(tab: Tab) -> None:
    page = tab.open("dataset=reg-plane&output_activation=identity&lr=10&lang=en")
    tab.by("step").click()
    tab.by("diverged-banner").wait_for(state="visible", timeout=60_000)
    switch_language(tab, "ja")
    expected = max(re.split(r"\{\w+\}", WORDS["ja"]["train.diverged"]), key=len)
    page.wait_for_function(f"""document.querySelector('[data-testid="diverged-banner"]').textContent.includes({json.dumps(expected)})""",
                           timeout=2_000)


# --- 8: the smaller items -------------------------------------------------------------------
def test_item8_labels_features_header_discretize_ticks_and_the_new_weights_button(tab: Tab) -> None:
    page = tab.open("lang=en")
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch === 1")
    picture = "document.querySelector('[data-testid=\"neuron-1-0\"] canvas').toDataURL()"
    for lang, width, height in combinations(tab):
        words = WORDS[lang]
        assert page.evaluate(LEFT_BEHIND, other_language_texts(lang)) == []  # every text followed the switch
        assert page.locator(".opt-title").text_content() == words["web.optimizer_args"].replace("{name}", "sgd")
        assert page.locator(".neuron-count").first.text_content() == words["web.neurons_n"].replace("{n}", "4")
        head = page.locator('.col-head[data-i18n="web.features"]')
        assert head.text_content() == words["web.features"] and head.bounding_box()["height"] < 24
        ticks = [page.locator(f".heat .tick-{axis}").all_text_contents() for axis in "xy"]
        assert ticks == [["-6", "-3", "0", "3", "6"]] * 2
        assert all(in_view(t.bounding_box(), width, height) for t in page.locator(".heat .tick").all())
        assert tab.by("reinit").get_attribute("aria-label") == words["web.reinit_title"]
        caption = page.locator('[data-i18n="web.reinit_short"]')
        assert caption.text_content() == words["web.reinit_short"] and in_view(caption.bounding_box(), width, height)
        smooth = page.evaluate(picture)
        tab.by("discretize").check()
        page.wait_for_function(f"{picture} !== {json.dumps(smooth)}")
        shot(tab, "8-small", lang, width, height)
        tab.by("discretize").uncheck()
        page.wait_for_function(f"{picture} === {json.dumps(smooth)}")


# --- 3: a server that goes and comes back (last: it leaves the server with a new token) ---------
@pytest.mark.slow
def test_item3_a_server_that_goes_and_comes_back(tab: Tab, server: RestartableServer) -> None:
    page = tab.open("lang=en&dataset=xor&hidden=3")
    assert "token=" not in page.url and "dataset=xor" in page.url  # links a user copies never carry the token
    banner = "document.querySelector('[data-testid=\"diverged-banner\"]')"
    # the same token again at one size, a new one at the other: both in both languages
    for n, (lang, width, height) in enumerate(combinations(tab)):
        words = WORDS[lang]
        spec = page.evaluate("window.__tg.spec")
        server.stop()
        page.wait_for_function(f"{banner}.hidden === false && {banner}.textContent.includes({json.dumps(words['web.reconnecting'])})", timeout=30_000)
        assert tab.by("play").is_disabled() and tab.by("step").is_disabled()
        assert in_view(tab.by("diverged-banner").bounding_box(), width, height)
        if n == 0:  # the other language's labels come from the server: the page says so and stays as it is
            tab.by("lang").select_option("ja" if lang == "en" else "en")
            page.wait_for_function(f"""(() => {{ const t = document.querySelector('[data-testid="error-toast"]');
                return !t.hidden && t.textContent === {json.dumps(words['web.lang_offline'])}; }})()""")
            assert tab.by("lang").input_value() == lang and page.evaluate("document.documentElement.lang") == lang
            assert words["web.reconnecting"] in tab.by("diverged-banner").text_content()
            tab.by("error-toast").click()  # read: dismissed
            tab.by("error-toast").wait_for(state="hidden")
        shot(tab, "3-server-away", lang, width, height)
        shared = page.url
        if n % 2 == 0:
            server.start(server.token)
        else:  # restarted with a new token: the page explains how to get back in, then gets back in
            server.start(f"{TOKEN}-{n}")
            page.wait_for_function(f"{banner}.hidden === false && {banner}.textContent.includes({json.dumps(words['web.refused'][:30])})", timeout=30_000)
            answer = tab.context.request.get(shared)
            assert answer.status == 403 and "?token=" in answer.text()  # a page without it says how to get in
            shot(tab, "3-new-token", lang, width, height)
            tab.context.request.get(f"{server.url}/?token={server.token}")  # the address the server printed, once
            tab.token = server.token
            assert tab.context.request.get(shared).status == 200  # the shared link opens on the restarted server
        page.wait_for_function(f"{banner}.hidden === true", timeout=30_000)
        assert not tab.by("play").is_disabled()
        page.wait_for_function("window.__tg.spec && window.__tg.spec.dataset === 'xor'")
        assert page.evaluate("window.__tg.spec") == spec  # the state kept
    tab.by("play").click()  # and it trains again
    page.wait_for_function("window.__tg.epoch >= 2", timeout=60_000)
    tab.by("play").click()
