"""Losses, each one entry of one table: ``LOSSES``.

An entry says everything nnc knows of a loss: what it needs of the network's output and
of the labels, the probability output it gives an exported model, its metrics, the
buffers it works in, and its math: the mean loss over the batch and the gradient of that
mean w.r.t. the scores (PyTorch's conventions). The spec (the ``loss`` field and its
checks), the compiler (the output check, sizing, ONNX) and the runtime (training, data
checks) all read this table; each check against it runs once.

value(bufs, scores, y) returns the loss and leaves its gradient in ``bufs["dscores"][:n]``;
correct(bufs, scores, y) counts the samples classified right. ``bufs`` maps the names of
:meth:`Loss.buffers` to arrays of at least n rows (the runtime allocates them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nnc.base.buffers import Buffer

Array = np.ndarray
Bufs = dict[str, Array]


@dataclass(frozen=True)
class Loss:
    """One loss; see the module docstring.

    labels: "classes" (an index 0..units-1 per sample), "binary" (0 or 1 per sample, one
    output unit holding a logit) or "targets" (real values, one per output unit).
    probability: the ONNX op turning scores into the ``probabilities`` output, or None.
    """

    name: str
    summary: str
    labels: Literal["classes", "binary", "targets"]
    value: Callable[[Bufs, Array, Array], float]
    correct: Callable[[Bufs, Array, Array], int] | None
    probability: str | None = None
    uses: tuple[str, ...] = ("labels", "dscores")  # the buffers value and correct work in

    def classify(self, scores: Array) -> Array:
        """The predicted classes (int64 [n]) of scores [n, units]: argmax, or logit > 0 for
        a binary loss's single unit."""
        if self.labels == "binary":
            return np.asarray(scores[:, 0] > 0, dtype=np.int64)
        return np.asarray(scores.argmax(axis=1), dtype=np.int64)

    def probabilities(self, scores: Array) -> Array:
        """What the exported model's ``probabilities`` output holds for scores [n, units]:
        the NumPy side of ``probability`` (softmax over the units; the sigmoid of a binary
        loss's logit, [n, 1])."""
        if self.probability == "Sigmoid":  # 1 / (1 + e^-s), without overflowing
            return np.asarray(np.exp(-np.logaddexp(0.0, -scores)))
        if self.probability == "Softmax":
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            return np.asarray(e / e.sum(axis=1, keepdims=True))
        raise ValueError(f"{self.name} gives no probabilities")

    @property
    def classification(self) -> bool:
        return self.labels != "targets"

    @property
    def metrics(self) -> tuple[str, ...]:
        """What a run reports besides the loss."""
        return ("accuracy",) if self.classification else ()

    def output_problem(self, units: int) -> str | None:
        """Why a network with ``units`` outputs does not fit this loss, or None."""
        if self.labels == "binary" and units != 1:
            return (f"{self.name} needs exactly 1 output unit (a logit), but the network has "
                    f"{units}; use softmax_cross_entropy for {units} classes")
        if self.labels == "classes" and units < 2:
            return (f"{self.name} needs an output unit per class (2 or more), but the network "
                    f"has {units}; for two classes and one unit use binary_cross_entropy")
        return None

    def buffers(self, outputs: int) -> list[Buffer]:
        """Per-sample buffers, those of ``uses`` among: the labels of a batch, the score
        gradient, scratch, a row value, row indices, the predicted classes and whether
        each was right."""
        labels = Buffer("labels", (outputs,)) if self.labels == "targets" else \
            Buffer("labels", (), "int64")
        every = [labels, Buffer("dscores", (outputs,)), Buffer("scratch", (outputs,)),
                 Buffer("row", (1,)), Buffer("rows", (), "int64"),
                 Buffer("predicted", (), "int64"), Buffer("hits", (), "bool")]
        return [b for b in every if b.name in self.uses]


def _argmax_correct(b: Bufs, scores: Array, y: Array) -> int:
    n = len(scores)
    predicted = b["predicted"][:n]
    scores.argmax(axis=1, out=predicted)
    return int(np.count_nonzero(np.equal(predicted, y, out=b["hits"][:n])))


def _softmax_cross_entropy(b: Bufs, scores: Array, y: Array) -> float:
    """-log softmax(s)_y, log-sum-exp shifted by the row max; d = (softmax - onehot) / n."""
    n = len(scores)
    shifted, d, row, rows = b["scratch"][:n], b["dscores"][:n], b["row"][:n], b["rows"][:n]
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


def _multiclass_hinge(b: Bufs, scores: Array, y: Array) -> float:
    """sum over j != y of max(0, s_j - s_y + 1), as in CS231n's SVM."""
    n = len(scores)
    margins, d, row, rows = b["scratch"][:n], b["dscores"][:n], b["row"][:n], b["rows"][:n]
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


def _binary_cross_entropy(b: Bufs, scores: Array, y: Array) -> float:
    """One logit s: max(s, 0) - s*y + log(1 + exp(-|s|)); d = (sigmoid(s) - y) / n."""
    n = len(scores)
    s, t, d, target = scores[:, 0], b["scratch"][:n, 0], b["dscores"][:n, 0], b["row"][:n, 0]
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


def _logit_correct(b: Bufs, scores: Array, y: Array) -> int:
    n = len(scores)
    predicted = b["predicted"][:n]
    np.greater(scores[:, 0], 0, out=predicted)
    return int(np.count_nonzero(np.equal(predicted, y, out=b["hits"][:n])))


def _mse(b: Bufs, scores: Array, y: Array) -> float:
    """The mean over all elements of (s - y)^2, as torch.nn.MSELoss."""
    d = b["dscores"][:len(scores)]
    np.subtract(scores, y, out=d)
    loss = float(np.vdot(d, d)) / d.size
    d *= 2.0 / d.size
    return loss


CLASSES = ("labels", "dscores", "scratch", "row", "rows", "predicted", "hits")

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (
    Loss("softmax_cross_entropy", "softmax and cross-entropy over the classes", "classes",
         _softmax_cross_entropy, _argmax_correct, probability="Softmax", uses=CLASSES),
    Loss("multiclass_hinge", "the multiclass SVM loss (CS231n)", "classes",
         _multiclass_hinge, _argmax_correct, uses=CLASSES),
    Loss("binary_cross_entropy", "one output unit holding a logit", "binary",
         _binary_cross_entropy, _logit_correct, probability="Sigmoid",
         uses=("labels", "dscores", "scratch", "row", "predicted", "hits")),
    Loss("mse", "mean squared error, as torch.nn.MSELoss", "targets", _mse, None),
)}
"""Every loss by name (the spec's ``loss`` field takes these)."""
