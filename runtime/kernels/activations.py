"""Element-wise activations: their math once, used alone or fused into a dense layer.

Every derivative is computed from the activation's *output* (or a mask kept by the
forward pass), so a fused dense layer can apply its activation in place.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nnc.compiler.plan import Step
from nnc.runtime.kernels.base import Context, Kernel
from nnc.spec import OpSpec


class Activation:
    """forward(x, out) may run in place (out is x); backward(out, dout, dx) -> dx."""

    def __init__(self, attrs: OpSpec, ctx: Context, width: int):
        self.attrs = attrs

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError

    def backward(self, out: np.ndarray, dout: np.ndarray, dx: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Sigmoid(Activation):
    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        np.multiply(x, 0.5, out=out)  # sigmoid(x) = (1 + tanh(x/2)) / 2: no overflow
        np.tanh(out, out=out)
        out += 1
        out *= 0.5

    def backward(self, out: np.ndarray, dout: np.ndarray, dx: np.ndarray) -> np.ndarray:
        np.subtract(1, out, out=dx)  # s' = s (1 - s)
        dx *= out
        dx *= dout
        return dx


class Tanh(Activation):
    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        np.tanh(x, out=out)

    def backward(self, out: np.ndarray, dout: np.ndarray, dx: np.ndarray) -> np.ndarray:
        np.multiply(out, out, out=dx)  # tanh' = 1 - tanh^2
        np.subtract(1, dx, out=dx)
        dx *= dout
        return dx


class Relu(Activation):
    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        np.maximum(x, 0, out=out)

    def backward(self, out: np.ndarray, dout: np.ndarray, dx: np.ndarray) -> np.ndarray:
        np.greater(out, 0, out=dx)  # 1.0 where out > 0
        dx *= dout
        return dx


class LeakyRelu(Activation):
    """Keeps a boolean mask of the negative inputs (one byte per unit)."""

    def __init__(self, attrs: OpSpec, ctx: Context, width: int):
        super().__init__(attrs, ctx, width)
        self.alpha = attrs.alpha
        self.negative = ctx.alloc(width, np.bool_)

    def forward(self, x: np.ndarray, out: np.ndarray) -> None:
        negative = self.negative[:len(x)]
        np.less(x, 0, out=negative)
        if out is not x:
            np.copyto(out, x)
        np.multiply(out, self.alpha, out=out, where=negative)

    def backward(self, out: np.ndarray, dout: np.ndarray, dx: np.ndarray) -> np.ndarray:
        np.copyto(dx, dout)
        np.multiply(dx, self.alpha, out=dx, where=self.negative[:len(dout)])
        return dx


ACTIVATIONS: dict[str, Callable[[OpSpec, Context, int], Activation]] = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": Relu, "leaky_relu": LeakyRelu,
}


class ActivationKernel(Kernel):
    """A standalone activation op: out = f(x), dx = f'(x) * dout."""

    def __init__(self, step: Step, ctx: Context):
        super().__init__(step, ctx)
        self.f = ACTIVATIONS[self.tag](self.node.attrs, ctx, self.width)
        self.out = ctx.alloc(self.width)
        self.dx = ctx.alloc(self.width) if ctx.training and step.needs_dx[0] else None

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        out = self.out[:len(xs[0])]
        self.f.forward(xs[0], out)
        return out

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        if self.dx is None:
            return [None]
        n = len(dout)
        return [self.f.backward(self.out[:n], dout, self.dx[:n])]


class SigmoidKernel(ActivationKernel):
    tag = "sigmoid"


class TanhKernel(ActivationKernel):
    tag = "tanh"


class ReluKernel(ActivationKernel):
    tag = "relu"


class LeakyReluKernel(ActivationKernel):
    tag = "leaky_relu"
