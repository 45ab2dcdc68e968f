"""data_spec from arrays: refused arrays leave no file and raise DataError naming the problem."""

import numpy as np
import pytest

from torchground.errors import DataError
from torchground.train.own_data import data_spec


@pytest.mark.parametrize("source, words", [
    ((np.full((10, 2), np.nan), [0, 1] * 5), "line"),
    ((np.random.default_rng(0).random((10, 2)), [1] * 10), "class"),
    ((["a", "b"], [0, 1]), "not numbers"),
    ((np.zeros((4, 2)), ["a,b", "c", "a,b", "c"]), "comma"),
])
def test_refused_arrays_leave_nothing(tmp_path, source, words):
    with pytest.raises(DataError) as err:
        data_spec(source, save_as=tmp_path / "d.csv")
    assert words in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_other_mistakes(tmp_path):
    with pytest.raises(DataError, match="a folder"):
        data_spec((np.zeros((4, 2)), [0, 1, 0, 1]), save_as=tmp_path)
    with pytest.raises(DataError, match="Allowed: a CSV file's path"):
        data_spec(np.zeros((10, 2)), [0, 1] * 5)
