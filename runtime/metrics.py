"""Metrics of a trained network on labelled samples: for classification the confusion
matrix, precision, recall and F1 per class and, with two classes, the ROC and
precision-recall curves with their areas; for regression MAE, RMSE and R2.

Definitions follow scikit-learn's (``confusion_matrix``, ``precision_recall_fscore_support``
with zero_division=0, ``roc_auc_score``, ``average_precision_score``, ``r2_score``); the
tests compare with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CURVE_POINTS = 101  # points kept of a ROC or precision-recall curve (for drawing)


def classification(y: np.ndarray, scores: np.ndarray, classes: int,
                   predicted: np.ndarray) -> dict[str, Any]:
    """y int [N] labels, scores [N, C] (or [N, 1] logits for one binary unit), and the
    classes the loss predicts from them (``Loss.classify``)."""
    binary_logit = scores.shape[1] == 1
    matrix = np.bincount(y * classes + predicted, minlength=classes * classes) \
        .reshape(classes, classes)
    true_positive = np.diag(matrix).astype(np.float64)
    predicted_count, support = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_count > 0, true_positive / predicted_count, 0.0)
        recall = np.where(support > 0, true_positive / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    out: dict[str, Any] = {
        "samples": len(y), "accuracy": float(true_positive.sum() / max(len(y), 1)),
        "confusion_matrix": matrix.tolist(),
        "per_class": {"precision": precision.tolist(), "recall": recall.tolist(),
                      "f1": f1.tolist(), "support": support.tolist()},
        "macro_f1": float(f1.mean()),
    }
    if classes == 2 and len(np.unique(y)) == 2:
        positive = scores[:, 0] if binary_logit else scores[:, 1] - scores[:, 0]
        out.update(binary_curves(y, positive))
    return out


def binary_curves(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """ROC and precision-recall curves of ``score`` (higher: class 1) and their areas."""
    order = np.argsort(-score, kind="mergesort")
    y_sorted, s_sorted = y[order], score[order]
    distinct = np.r_[np.flatnonzero(np.diff(s_sorted)), len(y) - 1]  # last of each score
    tp = np.cumsum(y_sorted)[distinct].astype(np.float64)
    fp = (distinct + 1 - tp)
    positives, negatives = tp[-1], fp[-1]
    tpr, fpr = np.r_[0.0, tp / positives], np.r_[0.0, fp / negatives]
    precision, recall = tp / (tp + fp), tp / positives
    roc_auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # the trapezoid rule
    # average precision: sum over thresholds of (R_n - R_{n-1}) P_n, as scikit-learn
    average_precision = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return {"roc_auc": roc_auc, "average_precision": average_precision,
            "roc_curve": {"fpr": _thin(fpr), "tpr": _thin(tpr)},
            "pr_curve": {"recall": _thin(np.r_[0.0, recall]),
                         "precision": _thin(np.r_[1.0, precision])}}


def _thin(values: np.ndarray) -> list[float]:
    if len(values) > CURVE_POINTS:
        values = values[np.unique(np.linspace(0, len(values) - 1, CURVE_POINTS).astype(np.int64))]
    return [float(v) for v in values]


def regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """y, predicted [N, k] targets: MAE, RMSE and R2 of each target, averaged over the
    targets (scikit-learn's uniform_average)."""
    error = predicted.astype(np.float64) - y
    y64 = y.astype(np.float64)
    total = ((y64 - y64.mean(axis=0)) ** 2).sum(axis=0)
    residual = (error ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual > 0, 0.0, 1.0))
    return {"samples": len(y), "mae": float(np.abs(error).mean(axis=0).mean()),
            "rmse": float(np.sqrt((error ** 2).mean(axis=0)).mean()), "r2": float(r2.mean())}
