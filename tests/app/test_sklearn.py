"""The scikit-learn estimators (nnc.sklearn): specs given every way, what the data
determine, dotted spec parameters in GridSearchCV and Pipeline, partial_fit, pickling,
and the exported ONNX model against predict."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from nnc.sklearn import NNClassifier, NNRegressor
from nnc.spec import load_spec

from helpers import MODELS

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
QUICK = {"train.epochs": 5}

# The README's digits net: noise on the inputs regularizes it enough for an unshuffled
# 5-fold cross-validation (the last hidden layer's units come from the classes).
DIGITS_NET: dict[str, Any] = {
    "name": "digits-cv",
    "layers": [{"op": "gaussian_noise", "std": 1.0}, {"op": "dense", "units": 256}, "relu",
               {"op": "dense"}],
    "data": {"standardize": True},
    "train": {"epochs": 100, "l2": 1.0e-3, "diagnostics_every": 0,
              "optimizer": {"sgd": {"lr": 0.05, "momentum": 0.9}}},
}


def onnx_outputs(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})))


@pytest.mark.slow
def test_cross_val_score_on_digits_reaches_095() -> None:
    scores = cross_val_score(NNClassifier(DIGITS_NET), X_DIGITS, Y_DIGITS, cv=5)
    assert scores.mean() >= 0.95, scores


def test_exported_classifier_predicts_in_onnxruntime_what_predict_returns(
        tmp_path: Path) -> None:
    net = NNClassifier(MODELS / "digits.yaml", set=QUICK).fit(X_DIGITS, Y_DIGITS)
    net.to_onnx(tmp_path / "m.onnx")
    got = onnx_outputs(tmp_path / "m.onnx", X_DIGITS)
    np.testing.assert_array_equal(got["label"], net.predict(X_DIGITS))
    np.testing.assert_allclose(got["probabilities"], net.predict_proba(X_DIGITS), atol=1e-5)


def test_class_names_words_and_numbers_reach_the_onnx_label(tmp_path: Path) -> None:
    x, y = X_DIGITS[:300], Y_DIGITS[:300]
    for labels in (np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                             "eight", "nine"])[y], y * 2 + 3):
        net = NNClassifier(set=QUICK).fit(x, labels)
        assert list(net.classes_) == sorted(set(labels.tolist()))
        predicted = net.predict(x)
        assert predicted.dtype == labels.dtype and set(predicted) <= set(labels)
        net.to_onnx(tmp_path / "m.onnx")
        got = onnx_outputs(tmp_path / "m.onnx", x)["label"]
        assert [str(v) for v in got] == [str(v) for v in predicted]


def test_exported_regressor_predicts_what_predict_returns(tmp_path: Path) -> None:
    x, y = make_regression(200, 5, n_targets=2, noise=1.0, random_state=0)
    net = NNRegressor(set=QUICK).fit(x, y * 100 + 50)  # targets standardized inside
    assert net.predict(x).shape == (200, 2) and net.score(x, y * 100 + 50) > 0.5
    model = net.to_onnx(tmp_path / "r.onnx")
    assert model.graph.output[0].name == "scores"
    np.testing.assert_allclose(onnx_outputs(tmp_path / "r.onnx", x)["scores"], net.predict(x),
                               rtol=1e-4, atol=1e-3)
    one = NNRegressor(set=QUICK).fit(x, y[:, 0])
    assert one.predict(x).shape == (200,) and one.n_outputs_ == 1


def test_input_and_output_units_come_from_the_data() -> None:
    net = NNClassifier({"name": "n", "layers": [{"op": "dense", "units": 7}, "tanh",
                                                {"op": "dense"}]}, set=QUICK)
    net.fit(X_DIGITS[:200, :10], Y_DIGITS[:200] % 3)
    assert net.spec_.input == [10] and net.spec_.layers[-1].units == 3
    assert net.n_features_in_ == 10 and list(net.classes_) == [0, 1, 2]
    binary = NNClassifier({"name": "b", "layers": [{"op": "dense"}],
                           "loss": "binary_cross_entropy"}, set=QUICK)
    binary.fit(X_DIGITS[:200], Y_DIGITS[:200] < 5)
    assert binary.spec_.layers[-1].units == 1 and binary.predict_proba(X_DIGITS[:3]).shape == \
        (3, 2)


def test_the_specs_data_source_is_ignored_and_its_options_kept() -> None:
    spec = {"name": "d", "input": [64], "layers": [{"op": "dense"}],
            "data": {"csv": {"path": "no-such-file.csv", "label": "y"}, "val_split": 0.5}}
    net = NNClassifier(spec, set=QUICK).fit(X_DIGITS, Y_DIGITS)
    assert net.spec_.data is None
    assert net.history_[-1]["val_loss"] is not None  # half held out, as the spec says
    assert NNClassifier({"name": "d", "layers": [{"op": "dense"}]}, set=QUICK) \
        .fit(X_DIGITS, Y_DIGITS).history_[-1]["val_loss"] is None  # no data section: all in


def test_a_spec_is_a_path_a_dict_a_spec_or_a_loaded_file_alike() -> None:
    path = MODELS / "digits.yaml"
    loaded = load_spec(path)
    nets = [NNClassifier(s, set=QUICK).fit(X_DIGITS, Y_DIGITS)
            for s in (path, str(path), loaded, loaded.spec,
                      loaded.spec.model_dump(mode="json", exclude_none=True))]
    for net in nets[1:]:
        np.testing.assert_array_equal(net.predict_proba(X_DIGITS[:50]),
                                      nets[0].predict_proba(X_DIGITS[:50]))


def test_bad_specs_and_parameters_are_value_errors_in_fit() -> None:
    net = NNClassifier(set={"layers.0.units": -2})  # stored as given: checked in fit
    with pytest.raises(ValueError, match=r"layers\.0\.units: must be greater"):
        net.fit(X_DIGITS[:50], Y_DIGITS[:50])
    with pytest.raises(ValueError, match="has 64 features per sample, but the network's "
                                         "input has 3"):
        NNClassifier({"name": "x", "input": [3], "layers": [{"op": "dense"}]}).fit(
            X_DIGITS[:50], Y_DIGITS[:50])
    with pytest.raises(ValueError, match="NNRegressor needs a regression loss"):
        NNRegressor({"name": "x", "layers": [{"op": "dense"}],
                     "loss": "softmax_cross_entropy"}).fit(X_DIGITS[:50], Y_DIGITS[:50])
    with pytest.raises(TypeError, match="spec must be"):
        NNClassifier(spec=3).fit(X_DIGITS[:50], Y_DIGITS[:50])  # type: ignore[arg-type]


def test_spec_fields_are_parameters_by_their_dotted_paths() -> None:
    net = NNClassifier(MODELS / "digits.yaml", set={"train.epochs": 3})
    net.set_params(**{"layers.0.units": 16, "train.l2": 0.0})
    assert net.set == {"train.epochs": 3, "layers.0.units": 16, "train.l2": 0.0}
    assert net.get_params()["layers.0.units"] == 16
    assert set(net.get_params(deep=False)) == {"spec", "set"}
    copy = clone(net)
    assert copy.get_params() == net.get_params() and copy.set is not net.set
    pipe = Pipeline([("scale", StandardScaler()), ("net", NNClassifier(set=QUICK))])
    pipe.set_params(**{"net__layers.0.units": 8})
    assert pipe.named_steps["net"].set == {**QUICK, "layers.0.units": 8}


def test_grid_search_over_spec_fields_in_a_pipeline() -> None:
    pipe = Pipeline([("scale", StandardScaler()),
                     ("net", NNClassifier(MODELS / "digits.yaml", set=QUICK))])
    search = GridSearchCV(pipe, {"net__layers.0.units": [4, 64]}, cv=3)
    search.fit(X_DIGITS, Y_DIGITS)
    assert search.best_params_ == {"net__layers.0.units": 64}
    assert search.best_estimator_.named_steps["net"].spec_.layers[0].units == 64
    direct = GridSearchCV(NNClassifier(MODELS / "digits.yaml", set=QUICK),
                          {"train.l2": [1e-4, 1e-3]}, cv=2).fit(X_DIGITS, Y_DIGITS)
    assert list(direct.cv_results_["param_train.l2"]) == [1e-4, 1e-3]


def test_feature_names_from_a_data_frame_reach_the_model(tmp_path: Path) -> None:
    frame = pd.DataFrame(X_DIGITS[:, :6], columns=[f"px{i}" for i in range(6)])
    net = NNClassifier(set=QUICK).fit(frame, Y_DIGITS)
    assert list(net.feature_names_in_) == [f"px{i}" for i in range(6)]
    model = net.to_onnx()
    meta = {p.key: p.value for p in model.metadata_props}
    assert "px5" in str(meta)
    with pytest.warns(UserWarning, match="fitted with feature names"):
        net.predict(X_DIGITS[:3, :6])


def test_partial_fit_goes_on_from_the_weights_so_far() -> None:
    net = NNClassifier(set={"train.batch_size": 32})
    with pytest.raises(ValueError, match="classes must be passed"):
        net.partial_fit(X_DIGITS[:100], Y_DIGITS[:100])
    net.partial_fit(X_DIGITS[:600], Y_DIGITS[:600], classes=np.arange(10))
    first = net.score(X_DIGITS[600:], Y_DIGITS[600:])
    for _ in range(5):
        net.partial_fit(X_DIGITS[:600], Y_DIGITS[:600])
    assert net.n_iter_ == 6 and net.score(X_DIGITS[600:], Y_DIGITS[600:]) > first + 0.05
    with pytest.raises(ValueError, match="labels not in classes"):
        net.partial_fit(X_DIGITS[:5], np.full(5, 11))
    with pytest.raises(ValueError, match="differs from those of the first"):
        net.partial_fit(X_DIGITS[:5], Y_DIGITS[:5], classes=np.arange(11))


@pytest.mark.parametrize("optimizer", [{"sgd": {"lr": 0.05, "momentum": 0.9}},
                                       {"adam": {"lr": 0.001}}], ids=["momentum", "adam"])
def test_partial_fit_goes_on_with_the_optimizers_state(optimizer) -> None:
    """Three calls of one epoch train as one fit of three epochs (same order of minibatches):
    momentum, Adam's moments and its step count go on from call to call."""
    fields = {"train.shuffle": False, "train.optimizer": optimizer, "train.batch_size": 64,
              "data.val_split": 0.0}
    fit = NNClassifier(set={**fields, "train.epochs": 3}).fit(X_DIGITS[:600], Y_DIGITS[:600])
    net = NNClassifier(set=fields)
    net.partial_fit(X_DIGITS[:600], Y_DIGITS[:600], classes=np.arange(10))
    for _ in range(2):
        net.partial_fit(X_DIGITS[:600], Y_DIGITS[:600])
    for name, weights in fit.model_.params.state_dict().items():
        np.testing.assert_allclose(net.model_.params.state_dict()[name], weights, rtol=1e-6,
                                   atol=1e-7, err_msg=name)


def test_regressor_partial_fit_keeps_the_first_standardization() -> None:
    x, y = make_regression(300, 4, noise=0.5, random_state=1)
    net = NNRegressor(set={"train.optimizer.sgd.lr": 0.01})
    net.partial_fit(x[:150], y[:150] + 1000)
    coding = net.model_.coding
    net.partial_fit(x[150:], y[150:] + 1000)  # another batch, another mean: the same coding
    assert net.model_.coding == coding and net.n_iter_ == 2


def test_a_fitted_estimator_pickles() -> None:
    net = NNClassifier(load_spec(MODELS / "digits.yaml").spec, set=QUICK).fit(X_DIGITS, Y_DIGITS)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict_proba(X_DIGITS), net.predict_proba(X_DIGITS))
