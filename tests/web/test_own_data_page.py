"""The page with your own data: upload (picker and drop), clicked points, K-class output and legend.

Runs the real server and Debian's Chromium through Playwright; skipped where either is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Tab, serve

pytestmark = pytest.mark.browser

TOKEN = "own-data-token"
THREE = "x1,x2,label\n" + "".join(
    f"{100 + 10 * (i % 3) + (i % 5) * 0.3},{200 + 8 * ((i % 3) == 2) + (i % 7) * 0.2},{('ant', 'bee', 'cow')[i % 3]}\n"
    for i in range(90)
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(TOKEN) as url:
        yield url


@pytest.fixture
def page(chromium: Any, base_url: str) -> Iterator[Any]:
    tab = Tab(chromium, base_url, TOKEN, 1400, 1000)
    pg = tab.open()
    pg.errors = tab.errors
    yield pg
    tab.close()


def _output_colours(pg: Any) -> set[tuple[int, int, int]]:
    """Distinct dominant colours of the output canvas (coarsely binned)."""
    pixels = pg.evaluate(
        """() => { const c = document.getElementById('output-map');
                   return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }"""
    )
    return {(pixels[i] // 64, pixels[i + 1] // 64, pixels[i + 2] // 64) for i in range(0, len(pixels), 4 * 97)}


def test_upload_three_classes_then_train(page: Any, tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    path.write_text(THREE, encoding="utf-8")
    page.get_by_test_id("data-upload-input").set_input_files(str(path))
    page.wait_for_function("window.__tg.spec.classes === 3", timeout=30_000)
    spec = page.evaluate("window.__tg.spec")
    assert spec["dataset"] == "csv" and spec["loss"] == "crossentropy" and spec["class_names"] == ["ant", "bee", "cow"]
    legend = page.get_by_test_id("class-legend")
    assert legend.is_visible() and [t.strip() for t in legend.locator(".class-item").all_text_contents()] == ["ant", "bee", "cow"]
    assert page.locator(".heat .tick-x").first.text_content() not in ("-6", "")  # the data's own extent
    page.get_by_test_id("play").click()
    page.wait_for_function(
        """() => parseFloat(document.querySelector('[data-testid="acc-train"]').textContent) > 90""", timeout=120_000
    )
    page.get_by_test_id("play").click()
    page.wait_for_timeout(300)
    assert len(_output_colours(page)) >= 3  # regions of three class colours
    assert page.errors == []


def test_bad_upload_is_refused_with_the_line(page: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x1,x2,label\n1,2,a\n3,oops,b\n", encoding="utf-8")
    page.get_by_test_id("data-upload-input").set_input_files(str(path))
    toast = page.get_by_test_id("error-toast")
    toast.wait_for(state="visible", timeout=10_000)
    assert "line 3" in toast.text_content() and "oops" in toast.text_content()
    assert page.evaluate("window.__tg.spec.dataset") == "circle"


def test_drop_a_file_on_the_output(page: Any) -> None:
    page.evaluate(
        """(text) => { const dt = new DataTransfer();
                       dt.items.add(new File([text], 'd.csv', {type: 'text/csv'}));
                       document.querySelector('.panel.output .heat').dispatchEvent(
                           new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})); }""",
        THREE.replace("cow", "ant"),
    )
    page.wait_for_function("window.__tg.spec.dataset === 'csv' && window.__tg.spec.classes === 2", timeout=30_000)
    assert page.evaluate("window.__tg.spec.class_names") == ["ant", "bee"]


def test_click_points_in_and_clear(page: Any) -> None:
    page.get_by_test_id("add-points-toggle").check()
    canvas = page.locator("#points")
    page.get_by_test_id("add-points-class").select_option("A")
    canvas.click(position={"x": 40, "y": 40})
    canvas.click(position={"x": 60, "y": 50})
    page.get_by_test_id("add-points-class").select_option("B")
    canvas.click(position={"x": 250, "y": 250})
    page.wait_for_function("window.__tg.spec.dataset === 'csv'", timeout=30_000)
    spec = page.evaluate("window.__tg.spec")
    assert spec["class_names"] == ["A", "B"] and spec["n_samples"] == 3
    page.get_by_test_id("add-points-class").select_option("C")
    canvas.click(position={"x": 150, "y": 40})
    page.wait_for_function("window.__tg.spec.classes === 3", timeout=30_000)
    assert "4" in page.get_by_test_id("add-points-count").text_content()
    page.get_by_test_id("add-points-clear").click()
    page.wait_for_function("window.__tg.spec.dataset === 'circle'", timeout=30_000)
    assert page.get_by_test_id("add-points-count").text_content().startswith("0")
    assert page.errors == []


def test_k_class_data_sets_pick_their_number_of_classes(page: Any) -> None:
    assert page.get_by_test_id("classes-choice").is_hidden()
    page.get_by_test_id("dataset-blobs").click()
    page.wait_for_function("window.__tg.spec.dataset === 'blobs' && window.__tg.spec.classes === 3", timeout=30_000)
    assert page.get_by_test_id("classes-choice").is_visible()
    page.get_by_test_id("classes").select_option("5")
    page.wait_for_function("window.__tg.spec.classes === 5", timeout=30_000)
    assert page.evaluate("window.__tg.spec.loss") == "crossentropy"
    legend = page.get_by_test_id("class-legend")
    assert legend.locator(".class-item").count() == 5
    page.get_by_test_id("dataset-circle").click()
    page.wait_for_function("window.__tg.spec.dataset === 'circle' && window.__tg.spec.classes === 2", timeout=30_000)
    assert page.get_by_test_id("classes-choice").is_hidden() and page.errors == []
