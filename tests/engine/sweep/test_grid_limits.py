"""Tests for engine.sweep.grid's resource rules: a grid's size is known before it is expanded,
and expanding a large grid reports progress."""

from __future__ import annotations

import tracemalloc

import pytest

from torchground.engine.sweep.grid import MAX_SETTINGS, PROGRESS_EVERY, expand_grid, parse_grid
from torchground.errors import TorchgroundError
from torchground.spec import Spec


def test_a_huge_grid_is_refused_with_its_size_before_any_value_is_expanded():
    text = "seed=" + ",".join(["0..99999"] * 600)  # 5.4 KB of text, 60 million settings
    tracemalloc.start()
    try:
        with pytest.raises(TorchgroundError) as caught:
            parse_grid(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "60000000" in caught.value.message("en") and str(MAX_SETTINGS) in caught.value.message("en")
    assert peak < 5_000_000  # bytes: nothing near 60 million integers was made


def test_the_product_of_fields_is_refused_before_expansion():
    with pytest.raises(TorchgroundError, match="1000000"):
        parse_grid("seed=0..999; init_seed=0..999")


def test_a_range_bound_too_long_for_an_int_is_a_clear_error():
    with pytest.raises(TorchgroundError, match="column 6"):
        parse_grid("seed=0.." + "9" * 5000)


def test_a_grid_at_the_cap_still_parses():
    assert len(parse_grid("seed=0..99; init_seed=0..999")) == MAX_SETTINGS


def test_expansion_reports_progress():
    heard = []
    settings = expand_grid(Spec(), parse_grid(f"seed=0..{PROGRESS_EVERY + 9}"), progress=heard.append)
    assert heard == [PROGRESS_EVERY, 10] and len(settings) == PROGRESS_EVERY + 10
