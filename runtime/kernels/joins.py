"""add and concat: join several values; their gradients are dout itself, or views of it."""

from __future__ import annotations

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Kernel, KernelBinding


class AddKernel(Kernel):
    """out = x1 + x2 + ...; each input's gradient is dout."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.out = self.buffers["out"]

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        out = self.out[:len(xs[0])]
        np.add(xs[0], xs[1], out=out)
        for x in xs[2:]:
            out += x
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        return [dout if need else None for need in self.step.needs_dx]


class ConcatKernel(Kernel):
    """out = [x1 | x2 | ...] along features; each input's gradient is its slice of dout."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.out = self.buffers["out"]
        self.bounds: list[tuple[int, int]] = []

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        out = self.out[:len(xs[0])]
        start, self.bounds = 0, []
        for x in xs:
            stop = start + x.shape[1]
            np.copyto(out[:, start:stop], x)
            self.bounds.append((start, stop))
            start = stop
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        return [dout[:, a:b] if need else None
                for (a, b), need in zip(self.bounds, self.step.needs_dx)]
