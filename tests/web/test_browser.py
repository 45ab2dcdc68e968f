"""The browser playground's page (``torchground/web/``) driven in Debian's Chromium.

The real server (:func:`torchground.server.app.create_app`) runs in a thread on a free
127.0.0.1 port; Playwright's sync API drives ``/usr/bin/chromium`` (never a downloaded
browser). The module is skipped where Chromium or Playwright is missing. No timing is
asserted: waits are generous and only look for what the page shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import pytest

uvicorn = pytest.importorskip("uvicorn")
pytestmark = pytest.mark.browser

from torchground.i18n import catalogue  # noqa: E402
from torchground.spec import Spec  # noqa: E402
from torchground.train import train  # noqa: E402

from conftest import Tab, serve  # noqa: E402

TOKEN = "browser-test-token"
WEB = Path(resources.files("torchground")) / "web"  # type: ignore[arg-type]


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(TOKEN) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    return chromium


def Page(browser: Any, base_url: str) -> Tab:  # noqa: N802  (the tests' name for a tab)
    return Tab(browser, base_url, TOKEN, 1400, 1000)


@pytest.fixture
def tab(browser: Any, base_url: str) -> Iterator[Tab]:
    page = Page(browser, base_url)
    yield page
    page.close()


def number(text: str) -> float:
    return float(text.replace(",", "").replace("%", ""))


# --- tests ---------------------------------------------------------------------------------------
def test_every_label_of_the_page_is_in_both_catalogues() -> None:
    sources = "".join(p.read_text(encoding="utf-8") for p in WEB.glob("*.*") if p.suffix in (".js", ".html"))
    used = set(re.findall(r"""["'](web\.[a-z0-9_]+)["']""", sources))
    used |= {f"web.problem_{p}" for p in ("classification", "regression")}  # composed in controls.js
    for lang in ("en", "ja"):
        assert used - set(catalogue(lang)) == set(), lang
    assert catalogue("ja")["web.ratio"] != catalogue("en")["web.ratio"]


def test_page_loads_without_console_errors(tab: Tab) -> None:
    page = tab.open()
    assert page.title() == "torchground"
    assert tab.by("epoch").text_content() == "000,000"
    assert tab.by("loss-train").text_content() != "–"
    assert tab.by("dataset-circle").get_attribute("class").split().count("selected") == 1
    assert page.locator('[data-testid^="link-layer"]').count() == 2 * 4 + 4 * 2 + 2  # the default 4-2 network
    assert tab.errors == []


def test_training_circle_brings_the_test_loss_down(tab: Tab) -> None:
    tab.open("train_pct=50&val_pct=0&test_pct=50")
    tab.by("play").click()
    tab.page.wait_for_function(
        """() => { const t = document.querySelector('[data-testid="loss-test"]').textContent;
                   return t !== '–' && parseFloat(t) < 0.05; }""",
        timeout=90_000,
    )
    tab.by("play").click()  # pause
    assert number(tab.by("epoch").text_content()) > 0
    assert number(tab.by("acc-test").text_content()) > 90
    assert tab.errors == []


def test_switching_data_set_and_language(tab: Tab) -> None:
    page = tab.open()
    tab.by("dataset-xor").click()
    page.wait_for_function("location.search.includes('dataset=xor') && window.__tg.spec.dataset === 'xor'")
    assert "selected" in tab.by("dataset-xor").get_attribute("class")
    assert "selected" not in tab.by("dataset-circle").get_attribute("class")

    assert page.locator('[data-i18n="web.data"]').text_content() == "Data"
    tab.by("lang").select_option("ja")
    page.wait_for_function("""document.querySelector('[data-i18n="web.data"]').textContent === 'データ'""")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert "lang=ja" in page.url
    assert page.locator('[data-i18n="web.ratio"]').text_content() == catalogue("ja")["web.ratio"]
    assert tab.errors == []


def test_editing_a_weight_and_a_bias(tab: Tab) -> None:
    page = tab.open()
    link = tab.by("link-layer1.weight-0-1")
    link.dispatch_event("click")  # links may cross: click the path itself, not a point on the screen
    tab.by("edit-input").fill("0.75")
    tab.by("edit-input").press("Enter")
    page.wait_for_function("window.__tg.params['layer1.weight'][0][1] === 0.75")
    link.dispatch_event("pointerenter")
    assert "layer1.weight[0, 1] = 0.75" in link.locator("title").text_content()
    page.wait_for_function("location.search.includes('edits=layer1.weight:0:1:0.75')")

    tab.by("bias-layer2.bias-1").dispatch_event("click")  # as the link: no wait for the redrawn diagram to hold still
    tab.by("edit-input").fill("-1.5")
    tab.by("edit-input").press("Enter")
    page.wait_for_function("window.__tg.params['layer2.bias'][1] === -1.5")
    assert tab.by("bias-layer2.bias-1").get_attribute("title") == "layer2.bias[1] = -1.5"
    assert tab.errors == []


def test_url_round_trip_restores_settings_and_initial_weights(tab: Page, browser: Any, base_url: str) -> None:
    page = tab.open()
    tab.by("dataset-gauss").click()
    page.wait_for_function("window.__tg.spec.dataset === 'gauss'")
    tab.by("activation").select_option("relu")
    page.wait_for_function("window.__tg.spec.activation === 'relu'")
    tab.by("noise").fill("15")
    page.wait_for_function("window.__tg.spec.noise === 15")
    tab.by("add-layer").click()
    page.wait_for_function("window.__tg.spec.hidden.length === 3")
    tab.by("add-neuron-1").click()
    page.wait_for_function("window.__tg.spec.hidden[0] === 5")
    tab.by("reinit").click()
    page.wait_for_function("window.__tg.spec.init_seed === 1")
    tab.by("lr").select_option("0.1")
    page.wait_for_function("location.search.includes('lr=0.1')")
    tab.by("discretize").check()
    page.wait_for_function("location.search.includes('discretize=1')")
    tab.by("link-layer2.weight-1-0").dispatch_event("click")
    tab.by("edit-input").fill("2")
    tab.by("edit-input").press("Enter")
    page.wait_for_function("window.__tg.params['layer2.weight'][1][0] === 2 && location.search.includes('edits=')")
    url = page.url
    spec = page.evaluate("window.__tg.spec")
    params = page.evaluate("window.__tg.params")

    assert "token=" not in url  # a shared link carries the state, never the token
    other = Page(browser, base_url)
    try:
        other.context.request.get(f"{base_url}/?token={TOKEN}")  # this browser was let in once (the token's cookie)
        again = other.open(url=url)
        assert again.evaluate("window.__tg.spec") == spec
        assert again.evaluate("window.__tg.params") == params
        assert other.by("activation").input_value() == "relu"
        assert other.by("lr").input_value() == "0.1"
        assert other.by("noise").input_value() == "15"
        assert other.by("discretize").is_checked()
        assert "selected" in other.by("dataset-gauss").get_attribute("class")
        assert again.locator('[data-testid^="neuron-1-"]').count() == 5
        assert other.errors == []
    finally:
        other.close()


def test_divergence_shows_the_banner_and_the_page_stays_responsive(tab: Tab) -> None:
    page = tab.open("dataset=reg-plane&output_activation=identity&lr=10")
    assert tab.by("diverged-banner").is_hidden()
    tab.by("play").click()
    tab.by("diverged-banner").wait_for(state="visible", timeout=60_000)
    assert "lr" in tab.by("diverged-banner").text_content()
    page.wait_for_function("!document.querySelector('[data-testid=\"play\"]').classList.contains('playing')")
    # the page still answers: a smaller learning rate, back to epoch 0, one step, another data set
    tab.by("lr").select_option("0.001")
    page.wait_for_function("window.__tg.spec.lr === 0.001 && location.search.includes('lr=0.001')")
    tab.by("reset").click()
    page.wait_for_function("window.__tg.epoch === 0")
    assert tab.by("diverged-banner").is_hidden()
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch === 1", timeout=30_000)
    assert tab.by("epoch").text_content() == "000,001"
    tab.by("dataset-circle").click()
    page.wait_for_function("window.__tg.spec.dataset === 'circle'")
    assert tab.by("diverged-banner").is_hidden()
    assert tab.errors == []


def test_the_code_panel_script_reproduces_the_run(tab: Page, tmp_path: Path) -> None:
    page = tab.open("dataset=xor&hidden=3&batch_size=5")
    tab.by("code-tab").click()
    tab.by("code-text").wait_for(state="visible")
    page.wait_for_function("document.querySelector('[data-testid=\"code-text\"]').textContent.includes('class Net')")
    script = tab.by("code-text").text_content()
    spec = Spec.model_validate(page.evaluate("window.__tg.spec"))
    epochs = 4
    assert re.search(r"^EPOCHS = \d+\b", script, re.MULTILINE)
    script = re.sub(r"^EPOCHS = \d+\b", f"EPOCHS = {epochs}", script, count=1, flags=re.MULTILINE)
    (tmp_path / "train.py").write_text(script, encoding="utf-8")
    history_path = tmp_path / "history.json"
    env = {**os.environ, "TORCHGROUND_HISTORY_JSON": str(history_path), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "train.py"], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    exported = json.loads(history_path.read_text(encoding="utf-8"))
    reference = train(spec.replace(epochs=epochs)).history.rows
    assert len(exported) == len(reference) == epochs
    for ours, theirs in zip(exported, reference):
        for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
            if theirs[key] is None:
                assert ours[key] is None
            else:
                assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key
    assert tab.errors == []


def test_the_graph_tab_draws_the_autograd_graph(tab: Tab) -> None:
    tab.open()
    tab.by("graph-tab").click()
    svg = tab.page.locator('svg[data-testid="graph-svg"]')
    svg.wait_for(state="visible", timeout=60_000)
    assert "layer1.weight" in svg.text_content()
    assert tab.errors == []


def test_a_refused_live_setting_rolls_back_while_playing(tab: Tab) -> None:
    page = tab.open("")
    tab.by("play").click()
    page.wait_for_function("window.__tg.epoch >= 3", timeout=30_000)
    field = tab.by("opt-weight_decay")
    field.fill("-1")
    field.press("Enter")
    # the server refuses it; the control and the page's spec go back to the server's value
    page.wait_for_function("window.__tg.spec.weight_decay === 0", timeout=30_000)
    page.wait_for_function("document.querySelector('[data-testid=\"opt-weight_decay\"]').value === '0'", timeout=30_000)
    tab.by("play").click()


def test_data_set_thumbnails_are_drawn_from_the_server_points(tab: Tab) -> None:
    page = tab.open()
    coloured = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.dataset')].map((b) => {
            const c = b.querySelector('canvas');
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4) if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) n++;
            return [b.getAttribute('data-testid'), n];
        }))"""
    )
    assert coloured and all(n > 50 for n in coloured.values()), coloured
    assert tab.errors == []


def test_optimizer_settings_typed_as_text_reach_the_server(tab: Tab) -> None:
    from torchground.spec import SPEC_FIELDS

    page = tab.open("optimizer=sgd" + ("&training_loop=pytorch" if "training_loop" in SPEC_FIELDS else ""))
    field = tab.by("opt-momentum")
    field.fill("0.9")
    field.press("Enter")
    page.wait_for_function("location.search.includes('optimizer_args=momentum%3D0.9')", timeout=30_000)
    tab.by("step").click()
    page.wait_for_function("window.__tg.epoch >= 1", timeout=30_000)
    page.reload()  # the server reads the URL again: its spec holds the value it parsed
    page.wait_for_function("window.__tg && window.__tg.spec && window.__tg.spec.optimizer_args.momentum === 0.9", timeout=30_000)
    assert tab.by("opt-momentum").input_value() == "0.9"
    assert tab.errors == []
