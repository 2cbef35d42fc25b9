"""nnc.runtime.data with .npz and .csv files: loading, and every way a file can be bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnc.base.errors import DataError

from privileges import unprivileged


def error_of(load, *args, **kwargs) -> str:
    """The one-line message of the DataError that ``load(...)`` raises."""
    with pytest.raises(DataError) as e:
        load(*args, **kwargs)
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def save_npz(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.fixture
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((50, 6)), np.arange(50) % 3


# --------------------------------------------------------------------------- npz

def test_npz_loads_x_and_y(load, tmp_path, xy):
    x, y = xy
    save_npz(tmp_path / "d.npz", x=x, y=y)
    ds = load({"npz": {"path": "d.npz"}, "val_split": 0}, 6, 3)
    np.testing.assert_array_equal(ds.x_train, x.astype(np.float32))
    np.testing.assert_array_equal(ds.y_train, y)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.name == "npz:d.npz" and ds.classes == 3


def test_npz_paths_are_relative_to_base_dir(load, tmp_path, xy):
    (tmp_path / "data").mkdir()
    save_npz(tmp_path / "data" / "d.npz", x=xy[0], y=xy[1])
    ds = load({"npz": {"path": "data/d.npz"}}, 6, 3, base_dir=tmp_path)
    assert len(ds.x_train) == 40 and len(ds.x_val) == 10
    np.testing.assert_array_equal(np.bincount(ds.y_val), [4, 3, 3])


def test_npz_trailing_dims_are_flattened(load, tmp_path):
    x = np.arange(10 * 2 * 3, dtype=np.int16).reshape(10, 2, 3)
    save_npz(tmp_path / "d.npz", x=x, y=np.zeros((10, 4)))
    ds = load({"npz": {"path": "d.npz"}, "val_split": 0}, 6, 4, "mse")
    np.testing.assert_array_equal(ds.x_train, x.reshape(10, 6))
    assert ds.y_train.shape == (10, 4) and ds.y_train.dtype == np.float32 and ds.classes is None


def test_npz_with_its_own_validation_set_ignores_val_split(load, tmp_path, xy):
    x, y = xy
    save_npz(tmp_path / "d.npz", x=x, y=y, x_val=x[:7] + 100, y_val=y[:7])
    ds = load({"npz": {"path": "d.npz"}, "val_split": 0.5, "standardize": True}, 6, 3)
    assert len(ds.x_train) == 50 and len(ds.x_val) == 7
    np.testing.assert_array_equal(ds.x_val_raw, (x[:7] + 100).astype(np.float32))
    np.testing.assert_array_equal(ds.y_val, y[:7])
    np.testing.assert_allclose(ds.preprocess.shift, x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ds.x_val, ds.preprocess.apply(ds.x_val_raw))


@pytest.mark.parametrize("arrays, outputs, loss, expected", [
    (dict(x=np.zeros((5, 6))), 3, "softmax_cross_entropy",
     "d.npz: no array 'y'; the arrays in the file: x"),
    (dict(x=np.zeros((5, 6)), y=np.zeros(5), x_val=np.zeros((2, 6))), 3, "softmax_cross_entropy",
     "d.npz: has x_val but no y_val"),
    (dict(x=np.zeros((5, 7)), y=np.zeros(5)), 3, "softmax_cross_entropy",
     "d.npz: x has 7 features per sample, but the network's input has 6"),
    (dict(x=np.zeros((5, 2, 3)), y=np.zeros(5), x_val=np.zeros((2, 5)), y_val=np.zeros(2)), 3,
     "softmax_cross_entropy", "d.npz: x_val has 5 features per sample, but x has 6"),
    (dict(x=np.zeros((5, 6)), y=np.zeros(4)), 3, "softmax_cross_entropy",
     "d.npz: x has 5 samples, but y has 4"),
    (dict(x=np.zeros((0, 6)), y=np.zeros(0)), 3, "softmax_cross_entropy",
     "d.npz: x has no samples"),
    (dict(x=np.zeros((50, 6)), y=np.where(np.arange(50) == 40, 12, 3)), 10,
     "softmax_cross_entropy", "d.npz: y: label 12 at row 40, but the network has 10 output units"),
    (dict(x=np.zeros((5, 6)), y=np.array([0, 1, -1, 0, 2])), 3, "multiclass_hinge",
     "d.npz: y: label -1 at row 2, but the network has 3 output units"),
    (dict(x=np.zeros((5, 6)), y=np.array([0, 1, 2, 0, 1])), 1, "binary_cross_entropy",
     "d.npz: y: label 2 at row 2, but binary_cross_entropy takes labels 0 and 1"),
    (dict(x=np.zeros((5, 6)), y=np.array([0, 1, 1.5, 0, 1])), 3, "softmax_cross_entropy",
     "d.npz: y: label 1.5 at row 2 is not a class index"),
    (dict(x=np.zeros((5, 6)), y=np.eye(5, 3)), 3, "softmax_cross_entropy",
     "d.npz: labels must be one class index per sample, but y has shape [5, 3] (one-hot?"),
    (dict(x=np.zeros((5, 6)), y=np.zeros((5, 2))), 3, "mse",
     "d.npz: y: y has 2 targets per sample, but the network has 3 output units"),
    (dict(x=np.where(np.eye(5, 6, k=2) > 0, np.nan, 0), y=np.zeros(5)), 3,
     "softmax_cross_entropy", "d.npz: x: NaN at row 0, column 2 (features must be finite"),
    (dict(x=np.zeros((5, 6)), y=np.array([0, 0, 0, np.inf, 0])), 1, "mse",
     "d.npz: y: inf at row 3, column 0 (targets must be finite"),
    (dict(x=np.zeros((5, 6)), y=np.array([0, 0, np.nan, 0, 0])), 3, "softmax_cross_entropy",
     "d.npz: y: label nan at row 2 is not a class index"),
    (dict(x=np.array(["a", "b"]), y=np.zeros(2)), 3, "softmax_cross_entropy",
     "d.npz: array 'x' has dtype <U1, expected real numbers"),
    (dict(x=np.zeros((5, 6)), y=np.float64(3)), 3, "softmax_cross_entropy",
     "d.npz: array 'y' is a scalar"),
])
def test_bad_npz_contents(load, tmp_path, arrays, outputs, loss, expected):
    save_npz(tmp_path / "d.npz", **arrays)
    message = error_of(load, {"npz": {"path": str(tmp_path / "d.npz")}}, 6, outputs, loss)
    assert message.startswith(str(tmp_path / expected)), message


def test_npz_object_array_is_refused_without_unpickling(load, tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 6)), y=np.array([0, {"a": 1}], dtype=object))
    message = error_of(load, {"npz": {"path": "d.npz"}}, 6, 3)
    assert message.startswith(f"{tmp_path / 'd.npz'}: array 'y' holds Python objects")


@pytest.mark.parametrize("cut", [0.3, 0.9, 0.99])
def test_truncated_npz(load, tmp_path, xy, cut):
    data = (save_npz(tmp_path / "d.npz", x=xy[0], y=xy[1])).read_bytes()
    (tmp_path / "d.npz").write_bytes(data[:int(len(data) * cut)])
    assert error_of(load, {"npz": {"path": "d.npz"}}, 6, 3).startswith(str(tmp_path / "d.npz"))


@pytest.mark.parametrize("content, expected", [
    (b"", "not a readable .npz file (the file is empty)"),
    (b"PK\x03\x04 this is no zip archive", "not a readable .npz file"),
    (b"x,y\n1,2\n", "not a readable .npz file"),
    (b"\x80\x04\x95 a pickle", "not a readable .npz file"),
])
def test_not_an_npz(load, tmp_path, content, expected):
    (tmp_path / "d.npz").write_bytes(content)
    message = error_of(load, {"npz": {"path": "d.npz"}}, 6, 3)
    assert message.startswith(f"{tmp_path / 'd.npz'}: {expected}"), message


def test_npy_instead_of_npz(load, tmp_path):
    np.save(tmp_path / "d.npy", np.zeros((3, 6)))
    message = error_of(load, {"npz": {"path": "d.npy"}}, 6, 3)
    assert "not a readable .npz file (a single .npy array, not an .npz archive)" in message


# ------------------------------------------------------------------ missing, folder, denied

@pytest.mark.parametrize("source", ["npz", "csv"])
def test_missing_file_and_directory(load, tmp_path, source):
    section = {"path": "nope"} if source == "npz" else {"path": "nope", "label": "y"}
    message = error_of(load, {source: section}, 6, 3)
    assert message == f"{tmp_path / 'nope'}: no such file (relative paths are relative to the " \
                      "spec's folder)"
    (tmp_path / "folder").mkdir()
    message = error_of(load, {source: {**section, "path": "folder"}}, 6, 3)
    assert message == f"{tmp_path / 'folder'}: is a directory, not a .{source} file"


SPEC = """
name: t
input: [1]
layers: [{op: dense, units: 3}]
loss: softmax_cross_entropy
data: DATA
"""


def train_unprivileged(tmp_path: Path, data: str) -> str:
    """The one error line of `nnc train` run without root's power to read any file."""
    (tmp_path / "spec.yaml").write_text(SPEC.replace("DATA", data))
    ran = unprivileged("train", tmp_path / "spec.yaml", "-o", tmp_path / "out", "-q")
    assert ran.exit_code == 2, ran
    line, = ran.stderr.splitlines()
    return line


@pytest.mark.parametrize("source", ["npz", "csv"])
def test_permission_denied(tmp_path, source):
    (tmp_path / "d").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "d").chmod(0)
    section = "{path: d}" if source == "npz" else "{path: d, label: y}"
    line = train_unprivileged(tmp_path, f"{{{source}: {section}}}")
    assert line == f"{tmp_path / 'd'}: permission denied"


# --------------------------------------------------------------------------- csv

def test_csv_with_the_label_column_in_the_middle(load, tmp_path):
    (tmp_path / "d.csv").write_text("a;label;b;c\n1;0;2;3\n4;1;5;6\n\n7;2;8;9.5\n10;1;-11;1e3\n")
    ds = load({"csv": {"path": "d.csv", "label": "label", "delimiter": ";"}, "val_split": 0},
              3, 3)
    np.testing.assert_array_equal(ds.x_train, [[1, 2, 3], [4, 5, 6], [7, 8, 9.5], [10, -11, 1e3]])
    np.testing.assert_array_equal(ds.y_train, [0, 1, 2, 1])
    assert ds.x_train.dtype == np.float32 and ds.name == "csv:d.csv"


def test_csv_targets_for_mse(load, tmp_path):
    (tmp_path / "d.csv").write_text('x,"price"\n1,2.5\n3,"4.5"\n')
    ds = load({"csv": {"path": "d.csv", "label": "price"}, "val_split": 0}, 1, 1, "mse")
    np.testing.assert_array_equal(ds.y_train, [[-1], [1]])  # standardized for training
    np.testing.assert_array_equal(ds.coding.targets_in_units(ds.y_train), [[2.5], [4.5]])
    kept = load({"csv": {"path": "d.csv", "label": "price"}, "val_split": 0,
                 "standardize_targets": False}, 1, 1, "mse")
    np.testing.assert_array_equal(kept.y_train, [[2.5], [4.5]])


@pytest.mark.parametrize("text, expected", [
    ("a,b,y\n1,2,0\n3,4\n", "3:1: column 'y': missing: the row has 2 fields, the header 3"),
    ("a,b,y\n1,2,0\n\n3,4,1,9\n", "4:1: the row has 4 fields, but the header has 3"),
    ("a,b,y\n1,2,0\n3,four,1\n", "3:1: column 'b': 'four' is not a number"),
    ("a,b,y\n1,2,0\n3,4,cat\n1,2,dog\n", "3:1: column 'y': 'cat' is not a number, but the "
     "column's first value '0' (line 2) is one: a column holds numbers or categories"),
    ("a,b,y\n1,x,0\n3,4,1\n", "3:1: column 'b': '4' is a number, but the column's first "
     "value 'x' (line 2) is not one"),
    ("a,b,y\n1,2,\n", "2:1: column 'y': empty label cell"),
    ("a,b,y\n1,2,0\n3,4,cat\n", "3:1: column 'y': 'cat' is not a number"),
    ("", ": empty file; expected a header row"),
    ("\n\n", ": empty file; expected a header row"),
    ("a,b,y\n", "1:1: no samples: the file has only its header row"),
    ("a,b,lable\n1,2,0\n", "1:1: no label column 'y'"),
    ("a,b,y\n1,inf,0\n", "2:1: column 'b': inf (features must be finite numbers)"),
    ("a,b,y\n1,-1e39,0\n", "2:1: column 'b': -1e+39 (features must be finite numbers, within"),
    ("a,b,y\n1,2,0\n1,2,17\n", "3:1: column 'y': label 17, but the network has 3 output units"),
    ("a,b,y\n1,2,0\n1,2,0.5\n", "3:1: column 'y': label 0.5 is not a class index"),
    ("a,b,y,y\n1,2,0,0\n", "1:1: column 'y' appears 2 times in the header"),
    ("y\n1\n", "1:1: no feature columns: the only column is the label 'y'"),
    ('a,b,y\n1,"2,0\n', "2:1: not valid CSV: unexpected end of data"),
])
def test_bad_csv_files_name_file_line_and_column(load, tmp_path, text, expected):
    (tmp_path / "d.csv").write_text(text)
    message = error_of(load, {"csv": {"path": "d.csv", "label": "y"}}, 2, 3)
    assert message.startswith(f"{tmp_path / 'd.csv'}{'' if expected[0] == ':' else ':'}"
                              f"{expected}"), message


def test_csv_label_typo_suggests_the_closest_column(load, tmp_path):
    (tmp_path / "d.csv").write_text("age,income,species\n1,2,0\n")
    message = error_of(load, {"csv": {"path": "d.csv", "label": "specis"}}, 2, 3)
    assert "no label column 'specis'; did you mean 'species'?" in message
    assert "(the columns: 'age', 'income', 'species')" in message


def test_csv_that_is_not_text(load, tmp_path):
    (tmp_path / "d.csv").write_bytes(b"a,y\n1,0\n\xff\xfe\x00garbage\n")
    message = error_of(load, {"csv": {"path": "d.csv", "label": "y"}}, 1, 3)
    assert message.startswith(str(tmp_path / "d.csv")) and "not UTF-8 text" in message


def test_csv_feature_count_names_the_label_column(load, tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n")
    message = error_of(load, {"csv": {"path": "d.csv", "label": "y"}}, 5, 3)
    assert message == (f"{tmp_path / 'd.csv'}: the file (every column but 'y') has 2 features "
                       "per sample, but the network's input has 5")


def test_an_unsearchable_folder_on_the_way(tmp_path):
    (tmp_path / "locked").mkdir()
    save_npz(tmp_path / "locked" / "d.npz", x=np.zeros((3, 1)), y=np.zeros(3))
    (tmp_path / "locked").chmod(0)
    line = train_unprivileged(tmp_path, "{npz: {path: locked/d.npz}}")
    assert line == f"{tmp_path / 'locked' / 'd.npz'}: permission denied"


def test_standardize_leaves_constant_features_finite_and_small(load, tmp_path):
    rng = np.random.default_rng(1)
    x = np.c_[np.full(1001, 0.1, np.float32), rng.standard_normal(1001) * 1e-9]
    save_npz(tmp_path / "d.npz", x=x, y=np.zeros((1001, 1)))
    ds = load({"npz": {"path": "d.npz"}, "standardize": True}, 2, 1, "mse")
    assert ds.preprocess.scale[0] == 1 and np.abs(ds.x_train[:, 0]).max() < 1e-6
    assert abs(ds.x_train[:, 1].std() - 1) < 1e-3  # a tiny but varying feature is scaled up
