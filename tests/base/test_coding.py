"""The data's coding: which labels name classes, how a table's cells become features, and
the description that travels with a model."""

from __future__ import annotations

import numpy as np
import pytest

from nnc.base.coding import Coding, class_names_of, column_kinds, fit_columns
from nnc.base.errors import DataError


@pytest.mark.parametrize("y, units, names", [
    (np.array([0, 1, 2, 1]), 3, None),                      # class indices already
    (np.array([2, 4, 4, 2]), 2, ("2", "4")),                # numbers naming two classes
    (np.array([-1.0, 1.0]), 2, ("-1", "1")),                # SVM-style labels
    (np.array([0, 1, 7]), 2, None),                         # a stray label: the check names it
    (np.array([0.5, 1.0]), 2, None),                        # not integers: not a class index
    (np.array(["b", "a", "b"]), 2, ("a", "b")),             # words, sorted
    (np.array([10, 2, 10]), 2, ("2", "10")),                # numbers sorted by value
])
def test_which_labels_name_classes(y, units, names) -> None:
    assert class_names_of(y, units) == names


def test_a_table_is_filled_and_one_hot_encoded_with_the_training_split() -> None:
    cells = np.array([["1", "red"], ["", "blue"], ["3", ""], ["5", "green"]])
    kinds = column_kinds(cells.tolist(), ["n", "c"], [2, 3, 4, 5], "t.csv")
    assert kinds == ["number", "category"]
    columns = fit_columns(["n", "c"], kinds, cells[:3])  # green only in the last row
    assert columns[0].fill == 2.0 and columns[1].categories == ("blue", "red")
    coding = Coding(columns=columns)
    np.testing.assert_array_equal(coding.encode(cells), [[1, 0, 1], [2, 1, 0], [3, 0, 0],
                                                         [5, 0, 0]])
    assert coding.unseen(cells) == ["column 'c': categories not seen in training ('green') "
                                    "are encoded as all zeros"]
    assert Coding.from_dict(coding.to_dict(), "m.onnx") == coding


def test_a_malformed_description_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"m\.onnx: its description of the data is malformed"):
        Coding.from_dict({"columns": [{"name": "a"}]}, "m.onnx")
    with pytest.raises(DataError, match="malformed"):
        Coding.from_dict({"class_names": [1, 2]}, "m.onnx")
