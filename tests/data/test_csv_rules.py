"""The issue-15 rules for CSV data: labels decide the problem, names keep their order, bad files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from torchground.data.csv_io import MAX_CSV_BYTES, csv_text, parse_csv, read_csv
from torchground.data.datasets import DATASETS, make_dataset
from torchground.errors import DataError


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    "labels, problem, classes, names, targets",
    [
        (["1", "-1", "1"], "classification", 2, ("-1", "1"), [1, -1, 1]),
        (["0", "1", "1"], "classification", 2, ("0", "1"), [-1, 1, 1]),
        (["dog", "cat", "dog"], "classification", 2, ("dog", "cat"), [-1, 1, -1]),
        (["2", "0", "1", "2"], "classification", 3, ("0", "1", "2"), [2, 0, 1, 2]),
        (["b", "c", "a", "b"], "classification", 3, ("b", "c", "a"), [0, 1, 2, 0]),
        (["5", "7", "9", "11"], "classification", 4, ("5", "7", "9", "11"), [0, 1, 2, 3]),
        (["0.5", "1", "2"], "regression", 2, (), [0.5, 1, 2]),
        (["1", "2"], "regression", 2, (), [1, 2]),
    ],
)
def test_labels_decide_the_problem(tmp_path, labels, problem, classes, names, targets):
    rows = "".join(f"{i},{-i},{lab}\n" for i, lab in enumerate(labels))
    ds = read_csv(write(tmp_path, "x1,x2,label\n" + rows))
    assert (ds.problem, ds.classes, ds.class_names) == (problem, classes, names)
    assert ds.labels.tolist() == [float(v) for v in targets]


def test_problem_option_overrides(tmp_path):
    path = write(tmp_path, "x1,x2,label\n0,0,1\n1,1,2\n2,2,1\n")
    assert read_csv(path).problem == "regression"
    ds = read_csv(path, problem="classification")
    assert ds.classes == 2 and ds.class_names == ("1", "2") and ds.labels.tolist() == [-1, 1, -1]
    with pytest.raises(DataError) as err:
        read_csv(write(tmp_path, "x1,x2,label\n0,0,a\n1,1,b\n"), problem="regression")
    assert err.value.key == "data.csv_bad_number" and err.value.params["line"] == 2


def test_bom_crlf_and_trailing_blank_lines(tmp_path):
    ds = read_csv(write(tmp_path, "\ufeffx1,x2,label\r\n1,2,a\r\n3,4,b\r\n5,6,c\r\n\r\n\r\n"))
    assert ds.n == 3 and ds.classes == 3 and ds.class_names == ("a", "b", "c")


@pytest.mark.parametrize(
    "text, key, line",
    [
        ("1,2,a\n3,4,b\n", "data.csv_bad_header", 1),
        ("x1,x2,label\n1,2,a\n3,4\n", "data.csv_bad_cells", 3),
        ("x1,x2,label\n1,2,a\nq,4,b\n", "data.csv_bad_number", 3),
        ("x1,x2,label\n1,2,a\n3,NaN,b\n", "data.csv_bad_number", 3),
        ("x1,x2,label\n1,2,a\n3,4,inf\n", "data.csv_bad_number", 3),
        ("x1,x2,label\n1,2,a\n3,4,a\n", "data.csv_one_class", 2),
        ("x1,x2,label\n1,2,1\n3,4,1\n", "data.csv_one_class", 2),
        ("x1,x2,label\n" + "".join(f"{i},0,c{i}\n" for i in range(11)), "data.csv_too_many_classes", 12),
        ("x1,x2,label\n" + "".join(f"{i},0,{i}\n" for i in range(11)), "regression-ok", 0),
        ("x1,x2,label\n\n", "data.csv_no_rows", 2),
        ("x1,x2,label\n1,2,a\n3,4,b\x00\n", "data.csv_binary", 3),
    ],
)
def test_bad_files_name_line_and_reason(tmp_path, text, key, line):
    path = write(tmp_path, text)
    if key == "regression-ok":  # 11 distinct integers are numbers, not classes
        assert read_csv(path).problem == "regression"
        return
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert err.value.key == key and err.value.params["line"] == line
    assert f"line {line}" in err.value.message("en") and str(path) in err.value.message("en")
    assert f"{line} 行目" in err.value.message("ja")


def test_other_encoding_names_the_line(tmp_path):
    path = write(tmp_path, "x1,x2,label\n1,2,chat\n3,4,café\n".encode("latin-1"))
    with pytest.raises(DataError) as err:
        read_csv(path)
    assert err.value.key == "data.csv_not_text" and err.value.params["line"] == 3


def test_size_and_row_caps(tmp_path):
    with pytest.raises(DataError) as err:
        parse_csv(b"x1,x2,label\n" + b"0,0,1\n" * (MAX_CSV_BYTES // 6 + 1))
    assert err.value.key == "data.csv_too_big"
    big = tmp_path / "big.csv"
    big.write_bytes(b"x1,x2,label\n" + b"0" * MAX_CSV_BYTES)
    with pytest.raises(DataError) as err:
        read_csv(big)
    assert err.value.key == "data.csv_too_big" and str(big) in err.value.message("en")
    with pytest.raises(DataError) as err:
        parse_csv(b"x1,x2,label\n" + b"0,0,1\n1,1,-1\n" * 50_001)
    assert err.value.key == "data.csv_too_many_rows"


@pytest.mark.parametrize("name", ["blobs", "spiral-k"])
@pytest.mark.parametrize("classes", [3, 7, 10])
def test_k_class_sets(name, classes):
    ds = make_dataset(name, n_samples=203, noise=10, seed=4, classes=classes)
    assert ds.classes == classes and ds.n == 203 and DATASETS[name].multi_class
    counts = np.bincount(ds.labels.astype(int), minlength=classes)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 203
    again = make_dataset(name, n_samples=203, noise=10, seed=4, classes=classes)
    assert np.array_equal(ds.points, again.points) and np.array_equal(ds.labels, again.labels)
    assert not np.array_equal(ds.points, make_dataset(name, n_samples=203, noise=10, seed=5, classes=classes).points)


def test_blob_centres_are_apart_and_noise_widens():
    ds = make_dataset("blobs", n_samples=900, classes=3, seed=1)
    centres = np.array([ds.points[ds.labels == k].mean(axis=0) for k in range(3)])
    assert np.linalg.norm(centres[0] - centres[1]) > 5
    wide = make_dataset("blobs", n_samples=900, classes=3, seed=1, noise=50)
    assert wide.points[wide.labels == 0].std(axis=0).mean() > 2 * ds.points[ds.labels == 0].std(axis=0).mean()


@pytest.mark.parametrize("bad", [2, 11, 1.5, True])
def test_class_count_refused(bad):
    with pytest.raises(DataError) as err:
        make_dataset("blobs", classes=bad)
    assert err.value.key == "classes.bad_count"
    with pytest.raises(DataError) as err:
        make_dataset("circle", classes=3)
    assert err.value.key == "classes.fixed"


def test_round_trip_keeps_names(tmp_path):
    ds = read_csv(write(tmp_path, "x1,x2,label\n1,2,b\n3,4,c\n5,6,a\n7,8,b\n"))
    back = parse_csv(csv_text(ds).encode())
    assert back.class_names == ds.class_names and np.array_equal(back.labels, ds.labels)
    assert np.array_equal(back.points, ds.points)
