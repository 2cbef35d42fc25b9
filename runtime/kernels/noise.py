"""dropout and gaussian_noise: random in training, the identity otherwise."""

from __future__ import annotations

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Context, Kernel


class DropoutKernel(Kernel):
    """Inverted dropout: out = x * mask, mask = (u >= p) / (1 - p), u ~ U[0, 1)."""

    tag = "dropout"

    def __init__(self, step: Step, ctx: Context):
        super().__init__(step, ctx)
        self.p, self.rng = self.node.attrs.p, ctx.rng
        if ctx.training:
            self.out = ctx.alloc(self.width)
            self.mask = ctx.alloc(self.width)
            self.dx = ctx.alloc(self.width) if step.needs_dx[0] else None

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

    tag = "gaussian_noise"

    def __init__(self, step: Step, ctx: Context):
        super().__init__(step, ctx)
        self.std, self.rng = self.node.attrs.std, ctx.rng
        self.out = ctx.alloc(self.width) if ctx.training else None

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
