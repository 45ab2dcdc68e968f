"""Tests for torchground.data.csv_io (CSV round trip, refusals with line numbers) and the
data/feature message catalogue (both languages, same placeholders)."""

from __future__ import annotations

import json
import string
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from torchground.data.csv_io import read_csv, write_csv
from torchground.data.datasets import DATASETS, Dataset, make_dataset
from torchground.errors import DataError


@pytest.fixture
def seed() -> int:
    return 99


def write(tmp_path: Path, text: str | bytes, name: str = "d.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


# -------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", list(DATASETS))
def test_round_trip_exact(tmp_path: Path, name: str, seed: int) -> None:
    ds = make_dataset(name, 301, 35, seed)
    path = tmp_path / "sub" / "out.csv"  # parent folder is created
    write_csv(ds, path)
    back = read_csv(path, name=name)
    assert np.array_equal(back.points, ds.points) and np.array_equal(back.labels, ds.labels)
    assert back.problem == ds.problem and back.name == name
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]  # no temporary files left


def test_file_format(tmp_path: Path) -> None:
    ds = Dataset("t", "classification", np.array([[0.1, -2.0], [1e-300, 3.0]]), np.array([1.0, -1.0]))
    path = tmp_path / "t.csv"
    write_csv(ds, path)
    assert path.read_text() == "x1,x2,label\n0.1,-2.0,1.0\n1e-300,3.0,-1.0\n"


def test_overwrite_is_whole(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "d.csv"
    write_csv(make_dataset("xor", 100, 0, seed), path)
    write_csv(make_dataset("xor", 10, 0, seed), path)
    assert read_csv(path).n == 10


def test_lenient_but_exact_parsing(tmp_path: Path) -> None:
    text = "\ufeff x1 , x2,label \r\n 1 ,-2.5e0, 0.25\r\n.5,+3.,-1\r\n\r\n  \n"
    ds = read_csv(write(tmp_path, text))
    assert np.array_equal(ds.points, [[1.0, -2.5], [0.5, 3.0]])
    assert np.array_equal(ds.labels, [0.25, -1.0])
    assert ds.problem == "regression" and ds.name == "csv"


def test_problem_inference_and_override(tmp_path: Path) -> None:
    path = write(tmp_path, "x1,x2,label\n0,0,1\n1,1,-1.0\n")
    assert read_csv(path).problem == "classification"
    assert read_csv(path, problem="regression").problem == "regression"
    with pytest.raises(DataError) as err:
        read_csv(path, problem="ranking")
    assert err.value.key == "data.bad_problem"


def test_classification_requested_but_labels_real(tmp_path: Path) -> None:
    path = write(tmp_path, "x1,x2,label\n0,0,1\n1,1,0.5\n")
    with pytest.raises(DataError) as err:
        read_csv(path, problem="classification")
    assert err.value.key == "data.csv_bad_class_label" and err.value.params["line"] == 3
    assert "line 3" in err.value.message("en") and "0.5" in err.value.message("en")


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "text, key, line, fragment",
    [
        ("", "data.csv_empty", 1, "empty"),
        ("\n\n  \n", "data.csv_empty", 1, "empty"),
        ("x,y,label\n1,2,1\n", "data.csv_bad_header", 1, "x1,x2,label"),
        ("x1,x2\n1,2\n", "data.csv_bad_header", 1, "x1,x2,label"),
        ("1,2,1\n", "data.csv_bad_header", 1, "x1,x2,label"),
        ("x1,x2,label\n", "data.csv_no_rows", 2, "no data rows"),
        ("x1,x2,label\n1,2,1\n3,4\n", "data.csv_bad_cells", 3, "found 2"),
        ("x1,x2,label\n1,2,1,5\n", "data.csv_bad_cells", 2, "found 4"),
        ("x1,x2,label\n1,2,1\n1,abc,1\n", "data.csv_bad_number", 3, "abc"),
        ("x1,x2,label\n1,2,nan\n", "data.csv_bad_number", 2, "nan"),
        ("x1,x2,label\n1,2,1\n1,2,1\ninf,2,1\n", "data.csv_bad_number", 4, "inf"),
        ("x1,x2,label\n1e999,2,1\n", "data.csv_bad_number", 2, "1e999"),
        ("x1,x2,label\n1,,1\n", "data.csv_bad_number", 2, "x2"),
        ("x1,x2,label\n1_0,2,1\n", "data.csv_bad_number", 2, "1_0"),
        ("x1,x2,label\n1,2,1\n\n3,4,1\n", "data.csv_blank_line", 3, "blank"),
    ],
)
def test_malformed(tmp_path: Path, text: str, key: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert err.value.key == key
    msg = err.value.message("en")
    assert f"line {line}" in msg and fragment in msg and str(path) in msg
    assert f"{line} 行目" in err.value.message("ja")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert err.value.key == "data.csv_missing" and str(path) in err.value.message("en")


def test_directory_and_binary(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        read_csv(tmp_path)
    assert err.value.key == "data.csv_unreadable"
    with pytest.raises(DataError) as err:
        read_csv(write(tmp_path, b"x1,x2,label\n\xff\xfe\x00,1,1\n"))
    assert err.value.key == "data.csv_not_text"


# ---------------------------------------------------------------------------- catalogue


def _load(lang: str) -> dict[str, str]:
    text = resources.files("torchground.i18n").joinpath(f"data.{lang}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_catalogue_en_ja_match() -> None:
    en, ja = _load("en"), _load("ja")
    assert set(en) == set(ja)
    assert all(key.startswith(("data.", "feature.")) for key in en)
    for key in en:
        assert _placeholders(en[key]) == _placeholders(ja[key]), key
        assert ja[key] != en[key], key
