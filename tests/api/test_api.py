"""The Python API: the README's example works, and misuse is an NncError, never a raw
TypeError or an onnxruntime exception."""

from __future__ import annotations

import numpy as np
import pytest

import nnc
from nnc.base.errors import NncError

from helpers import MODELS


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


@pytest.fixture(scope="module")
def spec():
    return nnc.load(MODELS / "digits.yaml", overrides=["train.epochs=3"])


def test_the_readme_example(spec, digits, tmp_path) -> None:
    x, _ = digits
    graph = nnc.compile(spec)
    assert nnc.summarize(graph).totals.params == 9610
    trained = nnc.train(spec)
    assert trained.result.epochs_run == 3 and trained.result.val_accuracy > 0.9
    model = nnc.export(spec, trained, tmp_path / "digits.onnx")
    scores = nnc.predict(tmp_path / "digits.onnx", x[:10])
    assert scores.shape == (10, 10)
    np.testing.assert_allclose(scores, nnc.predict(model, x[:10]), rtol=1e-6)
    probabilities = nnc.predict(model, x[:10], output="probabilities")
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)


def test_training_on_arrays_and_on_a_spec_object(spec, digits) -> None:
    x, y = digits
    on_arrays = nnc.train(spec, x=x, y=y)
    assert on_arrays.dataset.name == "arrays" and len(on_arrays.dataset.x_val) == 359
    on_object = nnc.train(spec.spec, x=x[:500], y=y[:500], x_val=x[500:600], y_val=y[500:600])
    assert len(on_object.dataset.x_val) == 100


def test_a_single_override_string(spec) -> None:
    assert nnc.load(MODELS / "digits.yaml", overrides="train.epochs=7").spec.train.epochs == 7


@pytest.mark.parametrize("call, message", [
    (lambda s, x, y: nnc.train(s, x=x), "give y"),
    (lambda s, x, y: nnc.train(s, y=y), "give x"),
    (lambda s, x, y: nnc.train(s, x=x[:, :10], y=y), "10 features per sample"),
    (lambda s, x, y: nnc.train(s, x=x, y=np.where(np.arange(len(y)) == 3, 20, y)), "label"),
    (lambda s, x, y: nnc.train(s, x="abc", y=y), "array of numbers"),
    (lambda s, x, y: nnc.export(MODELS / "three-layer.yaml", nnc.train(s)), "does not match"),
    (lambda s, x, y: nnc.predict(nnc.export(s, nnc.train(s)), x[:, :10]), "takes [64] features"),
    (lambda s, x, y: nnc.predict(nnc.export(s, nnc.train(s)), x, output="nope"), "no output"),
    (lambda s, x, y: nnc.load(MODELS / "nope.yaml"), "no such file"),
])
def test_misuse_is_an_nnc_error(spec, digits, call, message) -> None:
    x, y = digits
    with pytest.raises(NncError, match=message.replace("[", r"\[")):
        call(spec, x, y)


def test_a_sweep_from_python(tmp_path) -> None:
    import sys

    result = nnc.sweep(MODELS / "capacity-sweep.yaml", ["train.epochs=30"], tmp_path / "s",
                       workers=2)
    assert result.counts == {"complete": 9, "pruned": 0, "failed": 0}
    assert result.best is not None and (tmp_path / "s" / "best" / "model.onnx").is_file()
    assert "nnc.sweep_driver" in sys.modules and callable(nnc.sweep)  # not the module
