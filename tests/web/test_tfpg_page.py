"""Browser tests of TensorFlow Playground links in the page: paste a link and open it (its
data, weights and numbers), copy the link of what is on screen, bad links named, the state
kept in the page's URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Tab, serve
from torchground.i18n import catalogue

pytestmark = pytest.mark.browser

TOKEN = "tfpg-token"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfpg"


def reference(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(TOKEN) as url:
        yield url


@pytest.fixture
def tab(chromium: Any, base_url: str) -> Iterator[Tab]:
    t = Tab(chromium, base_url, TOKEN)
    t.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    yield t
    assert t.errors == [], t.errors
    t.close()


def load_link(tab: Tab, url: str) -> None:
    tab.by("link-input").fill(url)
    tab.by("link-load").click()
    tab.page.wait_for_function("window.__tg.spec && window.__tg.spec.training_loop === 'tf-playground' && window.__tg.epoch === 0")


def test_paste_a_link_and_get_tf_playgrounds_numbers(tab: Tab) -> None:
    ref = reference("default-circle")
    tab.open()
    assert tab.by("tfpg-mode").is_hidden()
    load_link(tab, ref["url"])
    assert tab.by("tfpg-mode").is_visible()
    assert tab.page.evaluate("window.__tg.spec.tf_playground_seed") == "0.80000"
    for epoch in (1, 2):
        tab.by("step").click()
        tab.page.wait_for_function(f"window.__tg.epoch === {epoch}")
        tab.page.wait_for_function(f"document.querySelector('[data-testid=epoch]').textContent === '000,00{epoch}'")
        train, test = ref["losses"][epoch - 1]
        assert tab.by("loss-train").text_content() == f"{train:.3f}"
        assert tab.by("loss-test").text_content() == f"{test:.3f}"
    weight = tab.page.evaluate("window.__tg.params['layer1.weight'][0][0]")
    assert weight != ref["init"][0]["weight"][0][0]  # trained on from TensorFlow Playground's start
    assert "training_loop=tf-playground" in tab.page.url and "tf_playground_seed=0.80000" in tab.page.url


def test_copy_gives_the_link_back(tab: Tab) -> None:
    url = reference("spiral-features-l1")["url"]
    tab.open()
    load_link(tab, url)
    tab.by("link-input").fill("")
    tab.by("link-copy").click()
    tab.page.wait_for_function("document.querySelector('[data-testid=link-input]').value !== ''")
    assert tab.by("link-input").input_value() == url
    tab.page.wait_for_function("!document.querySelector('[data-testid=error-toast]').hidden")
    assert tab.page.evaluate("navigator.clipboard.readText()") == url


def test_copy_of_a_pytorch_set_up_names_what_tf_playground_cannot_show(tab: Tab) -> None:
    tab.open()
    tab.by("link-copy").click()
    toast = tab.by("error-toast")
    toast.wait_for(state="visible")
    assert "training_loop = pytorch" in toast.text_content()


def test_a_bad_link_is_named_and_nothing_changes(tab: Tab) -> None:
    tab.open()
    spec_before = tab.page.evaluate("JSON.stringify(window.__tg.spec)")
    tab.by("link-input").fill("https://playground.tensorflow.org/#speed=3&activation=tanh")
    tab.by("link-input").press("Enter")
    toast = tab.by("error-toast")
    toast.wait_for(state="visible")
    assert "speed" in toast.text_content() and "batchSize" in toast.text_content()
    assert tab.page.evaluate("JSON.stringify(window.__tg.spec)") == spec_before


def test_reload_keeps_the_link_and_a_torch_change_leaves_its_loop(tab: Tab) -> None:
    tab.open()
    load_link(tab, "#seed=0.12345&networkShape=3&batchSize=7")
    tab.page.reload()
    tab.page.wait_for_function("window.__tg.spec && window.__tg.spec.training_loop === 'tf-playground'")
    assert tab.page.evaluate("window.__tg.spec.tf_playground_seed") == "0.12345"
    tab.page.select_option("[data-testid=optimizer]", "adam")
    tab.page.wait_for_function("window.__tg.spec.training_loop === 'pytorch' && window.__tg.spec.optimizer === 'adam'")
    assert tab.by("tfpg-mode").is_hidden()


def test_labels_in_japanese(chromium: Any, base_url: str) -> None:
    t = Tab(chromium, base_url, TOKEN, locale="ja-JP")
    try:
        t.open("lang=ja")
        ja = catalogue("ja")
        assert t.by("link-load").text_content() == ja["web.tfpg_load"]
        assert t.by("link-copy").text_content() == ja["web.tfpg_copy"]
        assert t.by("link-input").get_attribute("placeholder") == ja["web.tfpg_link_hint"]
        assert t.errors == []
    finally:
        t.close()
