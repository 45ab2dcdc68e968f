"""Tests for the page sessions' compact history rows: the same rows back (types included), a
trainer that keeps its history in them trains exactly as one with a list, a saved session
carries them, and a packed row is a few bytes per value."""

from __future__ import annotations

import math

import pytest

from torchground.server.rows import CompactRows
from torchground.server.urlstate import DEFAULT_SPEC
from torchground.train import Trainer
from torchground.train.checkpoint import capture


def test_rows_come_back_as_they_went_in() -> None:
    rows = [{"epoch": i, "loss": 1.0 / (i + 1), "val": None, "acc": math.nan if i == 4 else 0.5} for i in range(5)]
    odd = {"epoch": 5, "loss": True, "val": "x", "acc": 0.0}  # other kinds of values: kept as they were
    other_keys = {"epoch": 6, "extra": 1.5}
    big = {"epoch": 2**60, "loss": 0.0, "val": None, "acc": 0.0}  # not exact as a double: kept as it was
    compact = CompactRows([*rows, odd, other_keys, big])
    every = [*rows, odd, other_keys, big]
    assert len(compact) == len(every)
    for got, want in zip(compact, every):
        assert list(got) == list(want)  # same keys, same order
        for key in want:
            if isinstance(want[key], float) and math.isnan(want[key]):
                assert math.isnan(got[key])
            else:
                assert got[key] == want[key] and type(got[key]) is type(want[key])
    assert compact[-1] is big and compact[-8] == rows[0] and compact[1:3] == rows[1:3]
    assert compact[::3] == [rows[0], rows[3], other_keys]
    with pytest.raises(IndexError):
        compact[8]
    with pytest.raises(IndexError):
        compact[-9]


def test_the_newest_row_is_the_dict_itself() -> None:
    compact = CompactRows()
    row = {"epoch": 1, "loss": 0.5}
    compact.append(row)
    row["loss"] = 0.25  # a callback may still fill in the row of the epoch that just ended
    compact.append({"epoch": 2, "loss": 0.125})
    assert compact[0] == {"epoch": 1, "loss": 0.25}


def test_a_trainer_with_compact_rows_trains_and_saves_as_with_a_list() -> None:
    spec = DEFAULT_SPEC.replace(n_samples=100)
    plain, compact = Trainer(spec), Trainer(spec)
    compact.history.rows = CompactRows(compact.history.rows)
    for _ in range(12):
        plain.run_epoch()
        compact.run_epoch()
    assert compact.history.rows == plain.history.rows
    assert compact.history.best_epoch == plain.history.best_epoch
    assert compact.history.to_csv() == plain.history.to_csv()
    assert capture(compact)[1]["history"] == capture(plain)[1]["history"]


def test_a_packed_row_takes_nine_bytes_a_value() -> None:
    compact = CompactRows({"epoch": i, "loss": float(i), "val": None} for i in range(1001))
    assert compact._values.itemsize * len(compact._values) + len(compact._kinds) == 9 * 3 * 1000


def test_page_sessions_keep_their_history_in_compact_rows() -> None:
    from torchground.server.session import Session

    trainer, _ = Session._build(DEFAULT_SPEC.replace(n_samples=100), [], False)
    assert isinstance(trainer.history.rows, CompactRows)
