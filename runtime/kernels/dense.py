"""dense: out = f(x W^T + b), with an optional fused element-wise activation f."""

from __future__ import annotations

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.activations import ACTIVATIONS
from nnc.runtime.kernels.base import Context, Kernel


class DenseKernel(Kernel):
    """Inputs: x [n, in]. Output: [n, units]. Params: weight [units, in], bias [units]."""

    tag = "dense"

    def __init__(self, step: Step, ctx: Context):
        super().__init__(step, ctx)
        self.W, self.dW = self.param(ctx, "weight")
        self.WT = self.W.T  # the view matmul reads: x W^T
        self.b, self.db = self.param(ctx, "bias") if self.node.attrs.bias else (None, None)
        act = self.node.activation
        self.f = ACTIVATIONS[act.op](act, ctx, self.width) if act is not None else None
        self.out = ctx.alloc(self.width)
        training = ctx.training
        self.dz = ctx.alloc(self.width) if training and self.f is not None else None
        self.dx = ctx.alloc(self.W.shape[1]) if training and step.needs_dx[0] else None
        self.ones = ctx.ones
        self.x: np.ndarray | None = None

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        x = self.x = xs[0]
        out = self.out[:len(x)]
        np.matmul(x, self.WT, out=out)
        if self.b is not None:
            out += self.b
        if self.f is not None:
            self.f.forward(out, out)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        n = len(dout)
        dz = self.f.backward(self.out[:n], dout, self.dz[:n]) if self.f is not None else dout
        np.matmul(dz.T, self.x, out=self.dW)
        if self.db is not None:
            np.matmul(self.ones[:n], dz, out=self.db)  # the bias gradient as a GEMV
        if self.dx is None:
            return [None]
        dx = self.dx[:n]
        np.matmul(dz, self.W, out=dx)
        return [dx]
