"""Fuzz suite (hypothesis) with a small fixed budget for CI: the spec from fields, JSON and TOML,
optimiser arguments (accepted ones must train), the grid language, formulas, CSV input and
WebSocket messages never raise anything but the project's own errors. ``bench/fuzz.py`` runs
the same targets for long (see its docstring)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.targets import TARGETS, check

#: Examples per target in CI (derandomised: the same cases every run).
BUDGET = 40


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name):
    _, strategy = TARGETS[name]

    @settings(max_examples=BUDGET, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        check(name, value)

    run()
