"""nnc.runtime.data: the built-in sets, the split, standardization, determinism, checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnc.base.errors import DataError
from nnc.runtime.data import Dataset, Preprocess, split

BUILT_IN = [
    # data section, features, outputs, loss, samples, classes
    ({"digits": {}}, 64, 10, "softmax_cross_entropy", 1797, 10),
    ({"breast_cancer": {}}, 30, 1, "binary_cross_entropy", 569, 2),
    ({"breast_cancer": {}}, 30, 2, "multiclass_hinge", 569, 2),
    ({"spiral": {"classes": 4, "points": 50}}, 2, 4, "softmax_cross_entropy", 200, 4),
    ({"function": {"fn": "abs", "samples": 300}}, 1, 1, "mse", 300, None),
]


def seed_rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def assert_layout(ds: Dataset, features: int) -> None:
    for x in (ds.x_train, ds.x_val, ds.x_val_raw):
        assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape[1] == features
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_val) == len(ds.y_val)
    assert len(ds.x_val_raw) == len(ds.x_val)


@pytest.mark.parametrize("data, features, outputs, loss, samples, classes", BUILT_IN)
def test_built_in_sets_load_with_their_shapes(load, data, features, outputs, loss, samples,
                                              classes):
    ds = load(data, features, outputs, loss)
    assert_layout(ds, features)
    assert len(ds.x_train) + len(ds.x_val) == samples
    assert len(ds.x_val) == round(0.2 * samples)
    assert ds.classes == classes
    assert ds.name == next(iter(data)) or ds.name.startswith("function:")
    assert ds.preprocess is None and ds.x_val_raw is ds.x_val
    if loss == "mse":
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (len(ds.x_train), outputs)
    else:
        assert ds.y_train.dtype == np.int64 and ds.y_train.ndim == 1
        assert set(np.unique(ds.y_train)) == set(range(classes))


def test_digits_and_breast_cancer_are_scikit_learns(load):
    from sklearn.datasets import load_breast_cancer, load_digits

    for data, sk, outputs in (({"digits": {}}, load_digits, 10),
                              ({"breast_cancer": {}}, load_breast_cancer, 2)):
        x, y = sk(return_X_y=True)
        ds = load({**data, "val_split": 0}, x.shape[1], outputs)
        np.testing.assert_array_equal(ds.x_train, x.astype(np.float32))
        np.testing.assert_array_equal(ds.y_train, y)
        assert ds.x_val.shape == (0, x.shape[1]) and ds.y_val.shape == (0,)


def test_the_bundled_sets_load_without_importing_scikit_learn(load, monkeypatch) -> None:
    """Read from the files scikit-learn ships (its import is most of a small run's start-up);
    where they are not, scikit-learn's loaders give the same arrays."""
    import subprocess
    import sys

    code = ("import sys, pathlib; from nnc.runtime.data import load_data; "
            "from nnc.spec.sections import DataSpec\n"
            "for data, outputs in (({'digits': {}}, 10), ({'breast_cancer': {}}, 2)):\n"
            "    d = load_data(DataSpec.model_validate(data), base_dir=pathlib.Path('.'), "
            "features=64 if outputs == 10 else 30, outputs=outputs, "
            "loss='softmax_cross_entropy', seed=0, spec_file='s')\n"
            "print('sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
    from nnc.runtime import sources

    found = load({"digits": {}, "val_split": 0}, 64, 10)
    read = found.x_train.copy()
    found.x_train[:] = -1.0  # the file is read once per process: each run gets its own copy
    again = load({"digits": {}, "val_split": 0}, 64, 10)
    np.testing.assert_array_equal(again.x_train, read)
    assert not sources._bundled_table("digits.csv.gz").flags.writeable
    monkeypatch.setattr(sources, "_bundled_table", lambda name: None)
    fallback = load({"digits": {}, "val_split": 0}, 64, 10)
    np.testing.assert_array_equal(again.x_train, fallback.x_train)
    np.testing.assert_array_equal(again.y_train, fallback.y_train)


def test_spiral_is_cs231ns(load):
    seed, n, k, noise = 3, 40, 3, 0.3
    ds = load({"spiral": {"classes": k, "points": n, "noise": noise}, "val_split": 0}, 2, k,
              seed=seed)
    rng = seed_rng(seed, 1)
    x, y = np.zeros((n * k, 2)), np.zeros(n * k, dtype=np.int64)
    for j in range(k):  # CS231n's code, with the seeded generator
        ix = range(n * j, n * (j + 1))
        r = np.linspace(0.0, 1, n)
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.standard_normal(n) * noise
        x[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    np.testing.assert_allclose(ds.x_train, x, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ds.y_train, y)


@pytest.mark.parametrize("fn, oracle", [("sin", np.sin), ("abs", np.abs),
                                        ("step", lambda x: (x >= 0).astype(float))])
def test_function_samples_fn_on_the_interval(load, fn, oracle):
    ds = load({"function": {"fn": fn, "low": -2.0, "high": 3.0, "samples": 500},
               "val_split": 0}, 1, 1, "mse")
    x = ds.x_train[:, 0]
    assert x.min() >= -2 and x.max() <= 3 and x.std() > 1
    y = ds.coding.targets_in_units(ds.y_train)[:, 0]  # trained on standardized targets
    np.testing.assert_allclose(y, oracle(x.astype(np.float64)), atol=2e-6)
    assert abs(ds.y_train.mean()) < 1e-5 and abs(ds.y_train.std() - 1) < 1e-5


def test_function_noise_is_gaussian_of_the_given_scale(load):
    ds = load({"function": {"fn": "sin", "samples": 20000, "noise": 0.5}, "val_split": 0},
              1, 1, "mse")
    residual = ds.coding.targets_in_units(ds.y_train)[:, 0] - np.sin(ds.x_train[:, 0])
    assert abs(residual.mean()) < 0.02 and abs(residual.std() - 0.5) < 0.02


def test_stratified_split_keeps_class_proportions(load):
    ds = load({"digits": {}, "val_split": 0.25}, 64, 10)
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val]), minlength=10)
    val = np.bincount(ds.y_val, minlength=10)
    assert np.all(np.abs(val - 0.25 * counts) <= 1)
    assert val.sum() == round(0.25 * counts.sum())
    spiral = load({"spiral": {"classes": 5, "points": 100}, "val_split": 0.3}, 2, 5)
    np.testing.assert_array_equal(np.bincount(spiral.y_val), [30] * 5)
    np.testing.assert_array_equal(np.bincount(spiral.y_train), [70] * 5)


def test_mse_split_is_random_and_keeps_every_sample(load):
    ds = load({"function": {"samples": 100}, "val_split": 0.3}, 1, 1, "mse")
    assert len(ds.x_val) == 30 and len(ds.x_train) == 70
    everything = load({"function": {"samples": 100}, "val_split": 0}, 1, 1, "mse")
    both = np.sort(np.concatenate([ds.x_train[:, 0], ds.x_val[:, 0]]))
    np.testing.assert_array_equal(both, np.sort(everything.x_train[:, 0]))


@given(n=st.integers(1, 300), fraction=st.floats(0, 0.99), classes=st.integers(1, 12),
       seed=st.integers(0, 2**32), stratified=st.booleans())
@settings(max_examples=150, deadline=None)
def test_split_partitions_and_stratifies(n, fraction, classes, seed, stratified):
    y = np.random.default_rng(seed).integers(0, classes, n)
    train, val = split(n, fraction, y if stratified else None, seed)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))
    assert len(train) >= 1 and np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert len(val) <= np.floor(fraction * n + 0.5)  # half rounds up
    if stratified:
        counts, in_val = np.bincount(y, minlength=classes), np.bincount(y[val], minlength=classes)
        assert np.all(np.abs(in_val - fraction * counts) < 1 + 1e-9)
        assert np.all((counts - in_val >= 1) | (counts == 0))  # every class keeps a sample


@pytest.mark.parametrize("data, features, outputs, loss", [
    ({"digits": {}}, 64, 10, "softmax_cross_entropy"),
    ({"spiral": {}}, 2, 3, "softmax_cross_entropy"),
    ({"function": {"noise": 0.1}}, 1, 1, "mse"),
])
def test_same_seed_same_arrays_other_seed_other_split(load, data, features, outputs, loss):
    a, b = (load(data, features, outputs, loss, seed=7) for _ in range(2))
    for field in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = load(data, features, outputs, loss, seed=8)
    assert not np.array_equal(a.x_val, c.x_val)


def test_standardize_is_fitted_on_the_training_split_only(load):
    ds = load({"digits": {}, "standardize": True}, 64, 10)
    raw = load({"digits": {}}, 64, 10)
    np.testing.assert_array_equal(ds.x_val_raw, raw.x_val)
    np.testing.assert_array_equal(ds.y_train, raw.y_train)
    mean, std = raw.x_train.astype(np.float64).mean(0), raw.x_train.astype(np.float64).std(0)
    p = ds.preprocess
    assert p.shift.dtype == np.float32 and p.scale.dtype == np.float32 and p.shift.shape == (64,)
    np.testing.assert_allclose(p.shift, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(p.scale, 1 / np.where(std > 0, std, 1), rtol=1e-5)
    expected = (raw.x_train - mean) / np.where(std > 0, std, 1)
    np.testing.assert_allclose(ds.x_train, expected, rtol=1e-4, atol=1e-5)
    varying = std > 0
    np.testing.assert_allclose(ds.x_train[:, varying].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train[:, varying].std(0), 1, atol=1e-4)
    assert not np.allclose(ds.x_val[:, varying].mean(0), 0, atol=1e-3)  # val is not refitted
    np.testing.assert_allclose(ds.x_val, p.apply(ds.x_val_raw), rtol=1e-6)


def test_preprocess_apply_copies_unless_asked_to_work_in_place():
    p = Preprocess(np.array([1, 2], np.float32), np.array([0.5, 2], np.float32))
    x = np.array([[3, 4], [5, 6]], dtype=np.float32)
    out = p.apply(x)
    np.testing.assert_array_equal(out, [[1, 4], [2, 8]])
    np.testing.assert_array_equal(x, [[3, 4], [5, 6]])
    assert p.apply(x, inplace=True) is x
    np.testing.assert_array_equal(x, [[1, 4], [2, 8]])
    ints = np.array([[3, 4]])
    assert p.apply(ints, inplace=True).dtype == np.float32 and ints[0, 0] == 3


@pytest.mark.parametrize("data, features, outputs, loss, message", [
    ({"digits": {}}, 3072, 10, "softmax_cross_entropy",
     "spec.yaml: data.digits: digits has 64 features per sample, but the network's input has "
     "3072"),
    ({"digits": {}}, 64, 12, "softmax_cross_entropy",
     "spec.yaml: data.digits: digits has 10 classes, but the network has 12 output units"),
    ({"spiral": {"classes": 3}}, 2, 2, "multiclass_hinge",
     "spec.yaml: data.spiral: spiral has 3 classes, but the network has 2 output units"),
    ({"digits": {}}, 64, 1, "binary_cross_entropy",
     "spec.yaml: data.digits: digits has 10 classes, but binary_cross_entropy takes 2"),
    ({"function": {}}, 1, 3, "mse",
     "spec.yaml: data.function: function sin has 1 target per sample, but the network has 3 "
     "output units"),
    ({"function": {"noise": 0.5}}, 1, 1, "softmax_cross_entropy",
     "spec.yaml: data.function: label"),
])
def test_mismatches_with_the_network_name_both_sides(load, data, features, outputs, loss,
                                                     message):
    with pytest.raises(DataError) as e:
        load(data, features, outputs, loss)
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


def test_every_source_of_the_spec_has_a_reader():
    from nnc.runtime.data import SOURCES
    from nnc.spec.sections import DataSpec

    assert set(SOURCES) == set(DataSpec.choices)
