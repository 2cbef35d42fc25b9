"""The kernel of every element-wise activation: its math is its entry in ``ACTIVATIONS``."""

from __future__ import annotations

import numpy as np

from nnc.base.activations import ACTIVATIONS
from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Kernel, KernelBinding


class ActivationKernel(Kernel):
    """A standalone activation op: out = f(x), dx = f'(x) * dout."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.f, self.attrs = ACTIVATIONS[self.node.op], self.node.attrs
        self.out, self.dx = self.buffers["out"], self.buffers.get("dx")

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        out = self.out[:len(xs[0])]
        self.f.forward(self.attrs, xs[0], out, self.buffers)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        if self.dx is None:
            return [None]
        n = len(dout)
        return [self.f.backward(self.attrs, self.out[:n], dout, self.dx[:n], self.buffers)]
