"""nnc.runtime.cifar10 and the cifar10 source: the real batch format, preprocessing checked
against NumPy, broken folders, and pickles that try to run code."""

from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest

from nnc.base.errors import DataError
from nnc.runtime.cifar10 import RestrictedUnpickler, unpickle

from cifar_fixture import (
    batch_dict,
    fake_cifar10_arrays,
    malicious_payload,
    py2_pickle,
    write_fake_cifar10,
)

SOFTMAX = "softmax_cross_entropy"


def cifar(path: Path, **options: object) -> dict:
    """A data section reading the CIFAR-10 folder ``path``."""
    val_split = options.pop("val_split", 0.2)
    standardize = options.pop("standardize", False)
    return {"cifar10": {"path": str(path), **options}, "val_split": val_split,
            "standardize": standardize}


def error_of(load, data: dict, features: int = 3072, outputs: int = 10) -> str:
    with pytest.raises(DataError) as e:
        load(data, features, outputs)
    assert "\n" not in str(e.value)
    return str(e.value)


def rows_of(x: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """The index in ``raw`` of each row of ``x`` (rows of random pixels are unique)."""
    lookup = {row.tobytes(): i for i, row in enumerate(raw.astype(np.float32))}
    return np.array([lookup[row.tobytes()] for row in x])


def test_loads_every_training_batch(load, fake_cifar10):
    x, y = fake_cifar10_arrays(20, 2)
    ds = load(cifar(fake_cifar10, preprocess="scale", val_split=0), 3072, 10)
    assert ds.x_train.shape == (40, 3072) and ds.x_train.dtype == np.float32
    assert ds.x_train.flags.c_contiguous and ds.y_train.dtype == np.int64
    assert ds.classes == 10 and ds.name == f"cifar10:{fake_cifar10}"
    np.testing.assert_allclose(ds.x_train, x / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y)
    assert ds.x_val.shape == (0, 3072)


def test_the_split_is_stratified_and_keeps_raw_validation_pixels(load, fake_cifar10):
    x, y = fake_cifar10_arrays(20, 2)
    ds = load(cifar(fake_cifar10, val_split=0.25), 3072, 10)
    assert len(ds.x_train) == 30 and len(ds.x_val) == 10
    index = rows_of(ds.x_val_raw, x)
    np.testing.assert_array_equal(ds.x_val_raw, x[index])
    np.testing.assert_array_equal(ds.y_val, y[index])
    counts, val = np.bincount(y, minlength=10), np.bincount(ds.y_val, minlength=10)
    assert np.all(np.abs(val - 0.25 * counts) <= 1)


@pytest.mark.parametrize("preprocess", ["scale", "mean_image", "standardize"])
def test_preprocessing_matches_numpy(load, fake_cifar10, preprocess):
    x, _ = fake_cifar10_arrays(20, 2)
    ds = load(cifar(fake_cifar10, preprocess=preprocess, val_split=0.25), 3072, 10)
    raw_train = np.delete(x, rows_of(ds.x_val_raw, x), axis=0).astype(np.float64)
    scaled = raw_train / 255
    if preprocess == "scale":
        shift, scale = np.zeros(3072), np.full(3072, 1 / 255)
    elif preprocess == "mean_image":
        shift, scale = raw_train.mean(0), np.full(3072, 1 / 255)
    else:
        std = scaled.std(0)
        shift, scale = raw_train.mean(0), 1 / (255 * np.where(std > 0, std, 1))
    np.testing.assert_allclose(ds.preprocess.shift, shift, rtol=1e-6)
    np.testing.assert_allclose(ds.preprocess.scale, scale, rtol=1e-6)
    expected = {"scale": scaled, "mean_image": scaled - scaled.mean(0),
                "standardize": (scaled - scaled.mean(0)) / scaled.std(0)}[preprocess]
    np.testing.assert_allclose(ds.x_train, expected, rtol=1e-4, atol=1e-5)  # order is kept
    val = (ds.x_val_raw.astype(np.float64) - shift) * scale
    np.testing.assert_allclose(ds.x_val, val, rtol=1e-4, atol=1e-5)


def test_standardize_replaces_the_cifar_preprocessing(load, fake_cifar10):
    x, _ = fake_cifar10_arrays(20, 2)
    ds = load(cifar(fake_cifar10, preprocess="mean_image", val_split=0, standardize=True),
              3072, 10)
    raw = x.astype(np.float64)
    np.testing.assert_allclose(ds.x_train, (raw - raw.mean(0)) / raw.std(0), rtol=1e-4,
                               atol=1e-5)


def test_limit_takes_the_first_images_in_batch_order(load, tmp_path):
    folder = write_fake_cifar10(tmp_path / "c", n_per_batch=10, batches=3)
    x, y = fake_cifar10_arrays(10, 3)
    ds = load(cifar(folder, preprocess="scale", val_split=0, limit=25), 3072, 10)
    np.testing.assert_allclose(ds.x_train * 255, x[:25], rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y[:25])


@pytest.mark.parametrize("module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_numpy_1_and_2_array_pickles_load(load, tmp_path, module):
    folder = write_fake_cifar10(tmp_path / "c", n_per_batch=5, batches=1, numpy_module=module)
    raw = (folder / "data_batch_1").read_bytes()
    assert f"{module} _reconstruct" in [a for op, a, _ in pickletools.genops(raw)
                                        if op.name == "GLOBAL"]
    assert len(load(cifar(folder, val_split=0), 3072, 10).x_train) == 5


def test_a_python_3_pickle_of_the_same_dict_loads(load, tmp_path):
    folder = write_fake_cifar10(tmp_path / "c", n_per_batch=5, batches=1)
    batch = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=4))
    assert len(load(cifar(folder, val_split=0), 3072, 10).x_train) == 5


def test_network_mismatches(load, fake_cifar10):
    assert error_of(load, cifar(fake_cifar10), features=64) == (
        "spec.yaml: data.cifar10: cifar10 has 3072 features per sample, but the network's "
        "input has 64")
    assert error_of(load, cifar(fake_cifar10), outputs=5) == (
        "spec.yaml: data.cifar10: cifar10 has 10 classes, but the network has 5 output units")


# ---------------------------------------------------------------------------- bad folders

def test_folders_without_batches(load, tmp_path):
    message = error_of(load, cifar(tmp_path / "nope"))
    assert message.startswith(f"{tmp_path / 'nope'}: no such folder")
    assert "data_batch_1 .. data_batch_5, test_batch and batches.meta" in message
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    message = error_of(load, cifar(tmp_path / "empty"))
    assert message.startswith(f"{tmp_path / 'empty'}: no CIFAR-10 training batch: expected "
                              "data_batch_1 .. data_batch_5, test_batch and batches.meta")
    assert message.endswith("(the folder holds: readme.txt)")
    write_fake_cifar10(tmp_path / "empty" / "cifar-10-batches-py", 2, 1)
    assert f"did you mean {tmp_path / 'empty' / 'cifar-10-batches-py'}?" in \
        error_of(load, cifar(tmp_path / "empty"))
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b")
    message = error_of(load, cifar(tmp_path / "cifar-10-python.tar.gz"))
    assert "is a file, expected the CIFAR-10 python-version folder" in message
    assert "extract it" in message


def test_a_batch_that_is_a_directory(load, fake_cifar10):
    (fake_cifar10 / "data_batch_1").unlink()
    (fake_cifar10 / "data_batch_1").mkdir()
    assert error_of(load, cifar(fake_cifar10)) == (
        f"{fake_cifar10 / 'data_batch_1'}: is a directory, not a CIFAR-10 batch file")


def rewrite_batch(folder: Path, **changes: object) -> Path:
    data = np.zeros((4, 3072), np.uint8)
    batch = {**batch_dict(data, [0, 1, 2, 3], b"training batch 1 of 5"),
             **{k.encode(): v for k, v in changes.items()}}
    path = folder / "data_batch_1"
    path.write_bytes(py2_pickle({k: v for k, v in batch.items() if v is not None}))
    return path


@pytest.mark.parametrize("changes, expected", [
    (dict(data=np.zeros((4, 3072), np.float32)),
     "b'data' is a float32 array of shape [4, 3072], expected a uint8 array [n, 3072]"),
    (dict(data=np.zeros((4, 1024), np.uint8)),
     "b'data' is a uint8 array of shape [4, 1024], expected a uint8 array [n, 3072]"),
    (dict(data=[1, 2, 3]), "b'data' is a list, expected a uint8 array [n, 3072]"),
    (dict(data=None), "no b'data' entry (the keys: b'batch_label', b'labels', b'filenames')"),
    (dict(labels=[0, 1, 2]), "b'labels' has 3 entries, but b'data' has 4 rows"),
    (dict(labels=[0, 1, 10, 3]), "b'labels'[2] is 10, expected a class 0..9"),
    (dict(labels=[0, 1, -1, 3]), "b'labels'[2] is -1, expected a class 0..9"),
    (dict(labels=[0, 1, 2.0, 3]), "b'labels'[2] is 2.0, expected a class 0..9"),
    (dict(labels=b"0123"), "b'labels' is a bytes, expected a list of ints"),
])
def test_malformed_batches(load, fake_cifar10, changes, expected):
    path = rewrite_batch(fake_cifar10, **changes)
    assert error_of(load, cifar(fake_cifar10)) == f"{path}: {expected}"


@pytest.mark.parametrize("content, expected", [
    (py2_pickle([1, 2, 3]), "holds a list, expected a dict with b'data' and b'labels'"),
    (b"", "not a readable CIFAR-10 batch (a pickle): EOFError"),
    (b"\x80\x02}q\x00(U\x04data", "not a readable CIFAR-10 batch (a pickle)"),
    (b"not a pickle at all", "not a readable CIFAR-10 batch (a pickle): UnpicklingError"),
])
def test_unreadable_batches(load, fake_cifar10, content, expected):
    (fake_cifar10 / "data_batch_2").write_bytes(content)
    message = error_of(load, cifar(fake_cifar10))
    assert message.startswith(f"{fake_cifar10 / 'data_batch_2'}: {expected}"), message


def test_truncated_batch(load, fake_cifar10):
    data = (fake_cifar10 / "data_batch_1").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 2):
        (fake_cifar10 / "data_batch_1").write_bytes(data[:cut])
        message = error_of(load, cifar(fake_cifar10))
        assert message.startswith(f"{fake_cifar10 / 'data_batch_1'}: not a readable CIFAR-10 "
                                  "batch"), message


def test_meta_must_name_ten_classes(load, fake_cifar10):
    (fake_cifar10 / "batches.meta").write_bytes(
        py2_pickle({b"label_names": [b"c%d" % i for i in range(100)]}))
    assert error_of(load, cifar(fake_cifar10)) == (
        f"{fake_cifar10 / 'batches.meta'}: b'label_names' holds 100 names, but CIFAR-10 has 10 "
        "classes (is this CIFAR-100?)")


def test_meta_and_test_batch_are_optional(load, tmp_path):
    folder = write_fake_cifar10(tmp_path / "c", 5, 1, meta=False, test_batch=False)
    assert len(load(cifar(folder, val_split=0), 3072, 10).x_train) == 5


# ------------------------------------------------------------------------ malicious pickles

def malicious_files(marker: Path, how: str) -> dict[str, bytes]:
    """Pickles that create ``marker`` when plainly unpickled, in several disguises."""
    payload = malicious_payload(marker, how)
    batch = batch_dict(np.zeros((2, 3072), np.uint8), [0, 1], b"training batch 1 of 5")
    return {
        "bare, protocol 2": py2_pickle(payload),
        "bare, protocol 4": pickle.dumps(payload, protocol=4),
        "inside the dict": py2_pickle({**batch, b"data": payload}),
        "after the array": py2_pickle({**batch, b"filenames": payload}),
        "protocol 0": pickle.dumps(payload, protocol=0),
    }


@pytest.mark.parametrize("how, name", [("os.system", "system"), ("exec", "exec")])
@pytest.mark.parametrize("target", ["data_batch_1", "batches.meta"])
def test_malicious_pickles_are_refused_and_never_run(load, tmp_path, fake_cifar10, how, name,
                                                     target):
    marker = tmp_path / "pwned"
    for disguise, content in malicious_files(marker, how).items():
        pickle.loads(content, encoding="bytes")  # the payload works when plainly unpickled...
        assert marker.exists(), disguise
        marker.unlink()
        (fake_cifar10 / target).write_bytes(content)
        message = error_of(load, cifar(fake_cifar10))  # ...and nnc refuses it
        assert message.startswith(f"{fake_cifar10 / target}: refused to unpickle the global "), \
            (disguise, message)
        assert name in message and "nothing in it was run" in message
        assert not marker.exists(), disguise


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("posix", "system"), ("builtins", "eval"), ("__builtin__", "eval"),
    ("subprocess", "Popen"), ("numpy", "load"), ("numpy.core.multiarray", "scalar"),
    ("numpy.lib.format", "read_array"), ("copyreg", "_reconstructor"),
])
def test_only_array_reconstruction_is_admitted(module, name, tmp_path):
    path = tmp_path / "p"
    path.write_bytes(f"c{module}\n{name}\n.".encode())  # GLOBAL module name; STOP
    with pytest.raises(DataError, match=f"refused to unpickle the global '{module}.{name}'"):
        unpickle(path)
    unpickler = RestrictedUnpickler(io.BytesIO(b"."))
    with pytest.raises(pickle.UnpicklingError):
        unpickler.find_class(module, name)
