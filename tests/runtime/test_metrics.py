"""Metrics against scikit-learn's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from nnc.base.losses import LOSSES
from nnc.runtime import metrics


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_classification_matches_scikit_learn(classes: int) -> None:
    rng = np.random.default_rng(classes)
    y = rng.integers(0, classes, 400)
    scores = rng.standard_normal((400, classes)) + np.eye(classes)[y] * 1.5
    m = metrics.classification(y, scores, classes, LOSSES["softmax_cross_entropy"].classify(scores))
    predicted = scores.argmax(1)
    assert m["confusion_matrix"] == sk.confusion_matrix(y, predicted,
                                                        labels=range(classes)).tolist()
    p, r, f, s = sk.precision_recall_fscore_support(y, predicted, labels=range(classes),
                                                    zero_division=0)
    np.testing.assert_allclose(m["per_class"]["precision"], p)
    np.testing.assert_allclose(m["per_class"]["recall"], r)
    np.testing.assert_allclose(m["per_class"]["f1"], f)
    assert m["per_class"]["support"] == s.tolist()
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    if classes == 2:
        margin = scores[:, 1] - scores[:, 0]
        assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, margin))
        assert m["average_precision"] == pytest.approx(sk.average_precision_score(y, margin))


def test_one_logit_and_tied_scores() -> None:
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    logits = np.array([[-1.0], [2.0], [0.5], [0.5], [0.5], [-3.0], [2.0], [-0.2]])
    m = metrics.classification(y, logits, 2, LOSSES["binary_cross_entropy"].classify(logits))
    assert m["roc_auc"] == pytest.approx(sk.roc_auc_score(y, logits[:, 0]))
    assert m["average_precision"] == pytest.approx(sk.average_precision_score(y, logits[:, 0]))
    assert m["confusion_matrix"] == sk.confusion_matrix(y, (logits[:, 0] > 0).astype(int)).tolist()


def test_regression_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_normal((200, 2)) * np.array([100, 1])  # targets of unlike scales
    predicted = y + rng.standard_normal((200, 2)) * np.array([10, 0.5])
    m = metrics.regression(y, predicted)
    assert m["mae"] == pytest.approx(sk.mean_absolute_error(y, predicted))
    assert m["rmse"] == pytest.approx(sk.root_mean_squared_error(y, predicted))
    assert m["r2"] == pytest.approx(sk.r2_score(y, predicted))
