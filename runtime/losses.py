"""A loss of ``LOSSES`` bound to its buffers for one batch size."""

from __future__ import annotations

import numpy as np

from nnc.base.losses import LOSSES
from nnc.runtime.kernels.base import Arena


class BoundLoss:
    """``loss(scores, y)`` returns the mean loss over the batch and leaves its gradient
    w.r.t. the scores in ``dscores[:n]``; scores [n, outputs], y int64 [n] class labels or
    float [n, outputs] targets."""

    def __init__(self, name: str, arena: Arena, outputs: int):
        self.entry = entry = LOSSES[name]
        self.buffers = arena.allocate(entry.buffers(outputs))
        if "rows" in self.buffers:
            self.buffers["rows"][...] = np.arange(len(self.buffers["rows"]))
        self.labels, self.dscores = self.buffers["labels"], self.buffers["dscores"]
        self.classification = entry.classification
        self._value, self._correct = entry.value, entry.correct

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        return self._value(self.buffers, scores, y)

    def correct(self, scores: np.ndarray, y: np.ndarray) -> int:
        """How many samples the scores classify right."""
        if self._correct is None:
            raise TypeError(f"{self.entry.name} is a regression loss: no accuracy")
        return self._correct(self.buffers, scores, y)
