"""dropout and gaussian_noise: random in training, the identity otherwise."""

from __future__ import annotations

from typing import cast

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Kernel, KernelBinding
from nnc.spec.ops import Dropout, GaussianNoise


class DropoutKernel(Kernel):
    """Inverted dropout: out = x * mask, mask = (u >= p) / (1 - p), u ~ U[0, 1)."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.p, self.rng = cast(Dropout, self.node.attrs).p, bound.rng
        # training only: inference passes the input on
        self.out, self.mask = (cast(np.ndarray, self.buffers.get(k)) for k in ("out", "mask"))
        self.dx = self.buffers.get("dx")

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        x = xs[0]
        if not train:
            return x
        n = len(x)
        mask, out = self.mask[:n], self.out[:n]
        self.rng.random(out=mask, dtype=mask.dtype)
        np.greater_equal(mask, self.p, out=mask)  # 1.0 where kept
        mask *= 1.0 / (1.0 - self.p)
        np.multiply(x, mask, out=out)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        if self.dx is None:
            return [None]
        n = len(dout)
        return [np.multiply(dout, self.mask[:n], out=self.dx[:n])]


class GaussianNoiseKernel(Kernel):
    """Input noise: out = x + std * N(0, 1); its gradient passes straight through."""

    def __init__(self, step: Step, bound: KernelBinding):
        super().__init__(step, bound)
        self.std, self.rng = cast(GaussianNoise, self.node.attrs).std, bound.rng
        self.out = cast(np.ndarray, self.buffers.get("out"))  # training only

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        x = xs[0]
        if not train:
            return x
        out = self.out[:len(x)]
        self.rng.standard_normal(out=out, dtype=out.dtype)
        out *= self.std
        out += x
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        return [dout if self.step.needs_dx[0] else None]
