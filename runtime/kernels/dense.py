"""dense: out = f(x W^T + b), with an optional fused element-wise activation f."""

from __future__ import annotations

from typing import cast

import numpy as np

from nnc.base.activations import ACTIVATIONS
from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Kernel, KernelBinding
from nnc.spec.ops import Dense


class DenseKernel(Kernel):
    """Inputs: x [n, in]. Output: [n, units]. Params: weight [units, in], bias [units]."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.W, dW = self.param(bound, "weight")
        self.dW = cast(np.ndarray, dW)  # training only
        self.WT = self.W.T  # the view matmul reads: x W^T
        self.b: np.ndarray | None
        self.db: np.ndarray | None
        bias = cast(Dense, self.node.attrs).bias
        self.b, self.db = self.param(bound, "bias") if bias else (None, None)
        self.act = self.node.activation
        self.f = ACTIVATIONS[self.act.op] if self.act is not None else None
        self.out = cast(np.ndarray, self.buffers.get("out"))
        self.dz = cast(np.ndarray, self.buffers.get("dz"))  # training, with an activation
        self.dx = self.buffers.get("dx")
        self.ones = cast(np.ndarray, bound.ones)  # training only
        self.x = cast(np.ndarray, None)  # the input of the last forward

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        x = self.x = xs[0]
        out = self.out[:len(x)]
        np.matmul(x, self.WT, out=out)
        if self.b is not None:
            out += self.b
        if self.f is not None:
            self.f.forward(self.act, out, out, self.buffers)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        n = len(dout)
        dz = dout
        if self.f is not None:
            dz = self.f.backward(self.act, self.out[:n], dout, self.dz[:n], self.buffers)
        np.matmul(dz.T, self.x, out=self.dW)
        if self.db is not None:
            np.matmul(self.ones[:n], dz, out=self.db)  # the bias gradient as a GEMV
        if self.dx is None:
            return [None]
        dx = self.dx[:n]
        np.matmul(dz, self.W, out=dx)
        return [dx]
