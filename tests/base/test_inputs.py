"""One reader of .csv, .npz and .npy files for training data and for `nnc predict`: the same
decoding (a byte-order mark, CRLF line ends, quoted fields), the same checks, the same
messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnc.base.errors import DataError
from nnc.base.inputs import read_csv
from nnc.base.losses import LOSSES
from nnc.runtime.predict import read_inputs

ROWS = [[1.5, -2.0, 3.25], [4.0, 5.5, -6.0], [7.0, 8.0, 9.5]]
LABELS = [0, 2, 1]


def write(path: Path, header: bool, bom: bool, crlf: bool, quoted: bool = False) -> Path:
    end = "\r\n" if crlf else "\n"
    lines = (['"label","a","b","c"'] if quoted else ["label,a,b,c"]) if header else []
    lines += [",".join([str(y), *(f'"{v}"' if quoted else str(v) for v in row)])
              for y, row in zip(LABELS, ROWS)]
    text = end.join(lines) + end
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


VARIANTS = [dict(bom=bom, crlf=crlf, quoted=quoted)
            for bom in (False, True) for crlf in (False, True) for quoted in (False, True)]


@pytest.mark.parametrize("variant", VARIANTS,
                         ids=lambda v: "-".join(k for k in v if v[k]) or "plain")
def test_training_and_predict_read_the_same_table(tmp_path: Path, variant: dict, load) -> None:
    path = write(tmp_path / "d.csv", header=True, **variant)
    dataset = load({"csv": {"path": "d.csv", "label": "label"}, "val_split": 0}, 3, 3)
    np.testing.assert_array_equal(dataset.x_train, np.float32(ROWS))
    np.testing.assert_array_equal(dataset.y_train, LABELS)
    inputs = read_inputs(path, label="label")  # the label is the first column
    np.testing.assert_array_equal(inputs.x, ROWS)
    np.testing.assert_array_equal(inputs.labels(3, LOSSES["softmax_cross_entropy"]), LABELS)


@pytest.mark.parametrize("variant", VARIANTS,
                         ids=lambda v: "-".join(k for k in v if v[k]) or "plain")
def test_a_headerless_file_keeps_its_first_row(tmp_path: Path, variant: dict) -> None:
    """A byte-order mark before a number is not a header."""
    inputs = read_inputs(write(tmp_path / "d.csv", header=False, **variant))
    assert inputs.x.shape == (3, 4)
    np.testing.assert_array_equal(inputs.x[:, 1:], ROWS)


def test_both_paths_give_the_same_message(tmp_path: Path, load) -> None:
    (tmp_path / "d.csv").write_text("label,a,b\n0,1,2\n1,x,3\n")
    with pytest.raises(DataError) as training:
        load({"csv": {"path": "d.csv", "label": "label"}}, 2, 3)
    with pytest.raises(DataError) as predicting:
        read_inputs(tmp_path / "d.csv", label="label")
    assert training.value.lines() == predicting.value.lines() == \
        [f"{tmp_path / 'd.csv'}:3:1: column 'a': 'x' is not a number, but the column's first "
         "value '1' (line 2) is one: a column holds numbers or categories (words), not both"]


def test_a_row_is_named_by_the_line_it_starts_on(tmp_path: Path) -> None:
    """A quoted field spanning lines, and blank lines, do not shift the reported line."""
    (tmp_path / "d.csv").write_text('a,b\n\n"1\n",2\n\n3,x\n')
    table = read_csv(tmp_path / "d.csv")
    assert table.lines == [3, 6]
    with pytest.raises(DataError) as caught:
        read_inputs(tmp_path / "d.csv")
    assert caught.value.lines()[0].startswith(f"{tmp_path / 'd.csv'}:6:")


def test_a_header_is_found_by_its_words(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n1,2\n")
    (tmp_path / "n.csv").write_text("1,2\n3,4\n")
    assert read_csv(tmp_path / "h.csv", header_required=False).header == ["a", "b"]
    assert read_csv(tmp_path / "n.csv", header_required=False).header is None
    assert read_csv(tmp_path / "n.csv", header_required=True).header == ["1", "2"]


@pytest.mark.parametrize("text, expected", [
    ("a,b\n1,2\n1\n", "3:1: column 'b': missing: the row has 1 fields, the header 2"),
    ("1,2\n1\n", "2:1: missing: the row has 1 fields, the first row 2"),
    ("a,a,b\n1,2,3\n", "1:1: column 'a' appears 2 times in the header; each column needs its "
     "own name"),
])
def test_predict_inputs_are_checked_like_training_data(tmp_path: Path, text, expected) -> None:
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(DataError) as caught:
        read_inputs(tmp_path / "d.csv", label="a")
    assert caught.value.lines()[0] == f"{tmp_path / 'd.csv'}:{expected}"


def test_values_beyond_float32_are_refused_with_the_files_value(tmp_path: Path) -> None:
    x = np.zeros((4, 2))
    x[2, 1] = 1e300
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError) as caught:
        read_inputs(tmp_path / "x.npy")
    assert caught.value.lines() == [f"{tmp_path / 'x.npy'}: x: 1e+300 at row 2, column 1 "
                                    "(features must be finite numbers, within float32's range)"]
