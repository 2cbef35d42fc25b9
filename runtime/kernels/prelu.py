"""prelu: out = x for x >= 0, slope * x below; the slope is learned (per unit or shared)."""

from __future__ import annotations

from typing import cast

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Kernel, KernelBinding
from nnc.spec.ops import Prelu


class PreluKernel(Kernel):
    """Inputs: x [n, units]. Output: [n, units]. Params: slope [units] or [1]."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.slope, dslope = self.param(bound, "slope")
        self.dslope = cast(np.ndarray, dslope)  # training only
        self.shared = cast(Prelu, self.node.attrs).shared
        # dx (training only) is also the scratch of the slope's gradient
        self.negative, self.out, self.dx = (
            cast(np.ndarray, self.buffers.get(k)) for k in ("negative", "out", "dx"))
        self.x = cast(np.ndarray, None)  # the input of the last forward

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        x = self.x = xs[0]
        n = len(x)
        out, negative = self.out[:n], self.negative[:n]
        np.less(x, 0, out=negative)
        np.copyto(out, x)
        np.multiply(out, self.slope, out=out, where=negative)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        n = len(dout)
        dx, negative = self.dx[:n], self.negative[:n]
        dx.fill(0)  # d out / d slope = x where x < 0
        np.multiply(dout, self.x, out=dx, where=negative)
        if self.shared:
            self.dslope[0] = dx.sum()
        else:
            np.sum(dx, axis=0, out=self.dslope)
        if not self.step.needs_dx[0]:
            return [None]
        np.copyto(dx, dout)
        np.multiply(dx, self.slope, out=dx, where=negative)
        return [dx]
