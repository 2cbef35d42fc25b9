"""scikit-learn's own estimator checks (check_estimator) on both estimators, with the
checks they cannot pass listed with the reason."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from nnc.sklearn import NNClassifier, NNRegressor

FAST = {"train.epochs": 30}  # the checks fit many times on tiny data sets

FLOAT32 = ("nnc computes in float32, as the exported ONNX model does: a matrix product over "
           "a subset of the rows rounds differently (about 3e-7 relative), beyond the "
           "check's tolerance of 1e-7")
EXPECTED_FAILURES: dict[str, dict[str, str]] = {
    "NNClassifier": {},  # its classes, and here its probabilities, come out the same
    "NNRegressor": {"check_methods_subset_invariance": FLOAT32},
}


def expected_failures(estimator: Any) -> dict[str, str]:
    return EXPECTED_FAILURES[type(estimator).__name__]


@parametrize_with_checks([NNClassifier(set=FAST), NNRegressor(set=FAST)],
                         expected_failed_checks=expected_failures)
def test_sklearn_check(estimator: Any, check: Any) -> None:
    check(estimator)
