"""Losses: the mean over the batch, and the gradient of that mean w.r.t. the scores.

Each loss owns its buffers for one batch size; ``__call__(scores, y)`` returns the
loss and leaves its gradient in ``self.dscores[:n]``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from nnc.runtime.kernels.base import Arena


class Loss:
    """Inputs: scores [n, outputs]; y int64 [n] class labels, or float [n, outputs] targets."""

    name: ClassVar[str]
    classification: ClassVar[bool] = True

    def __init__(self, arena: Arena, batch: int, outputs: int):
        # the labels of a batch: class indices, or regression targets
        self.labels = (arena.alloc(batch, (), np.int64) if self.classification
                       else arena.alloc(batch, outputs))
        self.dscores = arena.alloc(batch, outputs)
        self.scratch = arena.alloc(batch, outputs)
        self.row = arena.alloc(batch, 1)
        self.rows = np.arange(batch)
        self.predicted = arena.alloc(batch, (), np.int64)
        self.hits = arena.alloc(batch, (), np.bool_)
        arena.bytes += self.rows.nbytes

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def correct(self, scores: np.ndarray, y: np.ndarray) -> int:
        """How many samples the scores classify right (argmax of the scores)."""
        n = len(scores)
        predicted = self.predicted[:n]
        scores.argmax(axis=1, out=predicted)
        return int(np.count_nonzero(np.equal(predicted, y, out=self.hits[:n])))


class SoftmaxCrossEntropy(Loss):
    """-log softmax(s)_y, with log-sum-exp shifted by the row max; d = (softmax - onehot) / n."""

    name = "softmax_cross_entropy"

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        n = len(scores)
        shifted, d, row, rows = self.scratch[:n], self.dscores[:n], self.row[:n], self.rows[:n]
        # ufunc methods rather than np.max/np.sum: the same, without their Python layer
        np.maximum.reduce(scores, axis=1, keepdims=True, out=row)
        np.subtract(scores, row, out=shifted)
        np.exp(shifted, out=d)
        np.add.reduce(d, axis=1, keepdims=True, out=row)
        loss = (float(np.log(row).sum(dtype=np.float64))
                - float(shifted[rows, y].sum(dtype=np.float64))) / n
        row *= n
        d /= row  # softmax / n
        d[rows, y] -= 1.0 / n
        return loss


class MulticlassHinge(Loss):
    """SVM loss: sum over j != y of max(0, s_j - s_y + 1), as in CS231n."""

    name = "multiclass_hinge"

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        n = len(scores)
        margins, d, row, rows = self.scratch[:n], self.dscores[:n], self.row[:n], self.rows[:n]
        row[:, 0] = scores[rows, y]
        np.subtract(scores, row, out=margins)
        margins += 1
        margins[rows, y] = 0
        np.maximum(margins, 0, out=margins)
        loss = float(margins.sum(dtype=np.float64)) / n
        np.greater(margins, 0, out=d)  # 1.0 where the margin is violated
        np.add.reduce(d, axis=1, keepdims=True, out=row)
        d[rows, y] = -row[:, 0]
        d /= n
        return loss


class BinaryCrossEntropy(Loss):
    """One logit s per sample: max(s, 0) - s*y + log(1 + exp(-|s|)); d = (sigmoid(s) - y) / n."""

    name = "binary_cross_entropy"

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        n = len(scores)
        s, t, d, target = scores[:, 0], self.scratch[:n, 0], self.dscores[:n, 0], self.row[:n, 0]
        np.copyto(target, y, casting="unsafe")
        np.abs(s, out=t)
        np.negative(t, out=t)
        np.exp(t, out=t)
        np.log1p(t, out=t)
        np.maximum(s, 0, out=d)
        t += d
        np.multiply(s, target, out=d)
        t -= d
        loss = float(t.sum(dtype=np.float64)) / n
        np.multiply(s, 0.5, out=d)  # sigmoid(s) = (1 + tanh(s/2)) / 2
        np.tanh(d, out=d)
        d += 1
        d *= 0.5
        d -= target
        d /= n
        return loss

    def correct(self, scores: np.ndarray, y: np.ndarray) -> int:
        n = len(scores)
        predicted = self.predicted[:n]
        np.greater(scores[:, 0], 0, out=predicted)
        return int(np.count_nonzero(np.equal(predicted, y, out=self.hits[:n])))


class MeanSquaredError(Loss):
    """mean over all elements of (s - y)^2, as torch.nn.MSELoss."""

    name = "mse"
    classification = False

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        d = self.dscores[:len(scores)]
        np.subtract(scores, y, out=d)
        loss = float(np.vdot(d, d)) / d.size
        d *= 2.0 / d.size
        return loss

    def correct(self, scores: np.ndarray, y: np.ndarray) -> int:
        raise TypeError("mse is a regression loss: no accuracy")


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (SoftmaxCrossEntropy, MulticlassHinge, BinaryCrossEntropy,
                              MeanSquaredError)
}
