"""maxout: out = max over k of (x W_k^T + b_k); the gradient flows to the winning piece."""

from __future__ import annotations

from typing import cast

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Kernel, KernelBinding
from nnc.spec.ops import Maxout


class MaxoutKernel(Kernel):
    """Inputs: x [n, in]. Output: [n, units]. Params: weight [pieces, units, in], bias
    [pieces, units]; computed as one GEMM to [n, pieces * units], then a max over pieces."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        attrs = cast(Maxout, self.node.attrs)
        k, units = attrs.pieces, attrs.units
        self.k = k
        weight, dweight = self.param(bound, "weight")
        self.W = weight.reshape(k * units, -1)
        self.dW = dweight.reshape(k * units, -1) if dweight is not None else None
        self.b: np.ndarray | None
        self.db: np.ndarray | None
        if attrs.bias:
            bias, dbias = self.param(bound, "bias")
            self.b = bias.reshape(-1)
            self.db = dbias.reshape(-1) if dbias is not None else None
        else:
            self.b = self.db = None
        buffers = self.buffers
        self.z, self.out = cast(np.ndarray, buffers.get("z")), cast(np.ndarray, buffers.get("out"))
        # training only
        self.winner, self.won, self.dz = (
            cast(np.ndarray, buffers.get(name)) for name in ("winner", "won", "dz"))
        self.dx = buffers.get("dx")
        self.pieces = np.arange(k).reshape(1, k, 1)
        self.ones = cast(np.ndarray, bound.ones)  # training only
        self.x = cast(np.ndarray, None)  # the input of the last forward

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        x = self.x = xs[0]
        n = len(x)
        z = self.z[:n]
        z2 = z.reshape(n, -1)  # [n, pieces * units], a view
        np.matmul(x, self.W.T, out=z2)
        if self.b is not None:
            z2 += self.b
        out = self.out[:n]
        np.copyto(out, z[:, 0])
        if not (train and self.dW is not None):
            for j in range(1, self.k):
                np.maximum(out, z[:, j], out=out)
            return out
        # the winning piece, first of equals (np.argmax over a middle axis would copy z)
        winner, better = self.winner[:n], self.won[:n, 0]
        winner.fill(0)
        for j in range(1, self.k):
            np.greater(z[:, j], out, out=better)
            np.copyto(out, z[:, j], where=better)
            np.copyto(winner, j, where=better)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        n = len(dout)
        won, dz = self.won[:n], self.dz[:n]
        np.equal(self.winner[:n, None, :], self.pieces, out=won)
        np.multiply(won, dout[:, None, :], out=dz)
        dz2 = dz.reshape(n, -1)
        np.matmul(dz2.T, self.x, out=cast(np.ndarray, self.dW))  # training: not None
        if self.db is not None:
            np.matmul(self.ones[:n], dz2, out=self.db)
        if self.dx is None:
            return [None]
        dx = self.dx[:n]
        np.matmul(dz2, self.W, out=dx)
        return [dx]
