"""What a kernel is, and the context that gives it parameters and buffers.

A kernel is bound to one plan step and owns the buffers of that step for one batch
size, allocated once; forward and backward then run without allocating arrays. Rows
``[:n]`` of a buffer serve a smaller last batch.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from nnc.compiler.plan import Step


class Arena:
    """Allocates the buffers of one executor and counts their bytes."""

    def __init__(self, dtype: np.dtype):
        self.dtype = np.dtype(dtype)
        self.bytes = 0

    def alloc(self, batch: int, shape: tuple[int, ...] | int = (), dtype: np.dtype | None = None
              ) -> np.ndarray:
        """A zeroed [batch, *shape] buffer (float unless ``dtype`` says otherwise)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        array = np.zeros((batch, *shape), dtype=dtype or self.dtype)
        self.bytes += array.nbytes
        return array


class Context:
    """What a kernel needs at construction: its parameters, gradients, buffers and randomness.

    ``training`` is False for an inference-only executor: no gradient buffers then.
    """

    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray] | None,
                 arena: Arena, batch: int, rng: np.random.Generator):
        self.params, self.grads, self.arena, self.batch, self.rng = params, grads, arena, batch, rng
        # shared by every kernel that sums a gradient over the batch as a GEMV
        self.ones = arena.alloc(batch) if grads is not None else None
        if self.ones is not None:
            self.ones.fill(1)

    @property
    def training(self) -> bool:
        return self.grads is not None

    @property
    def dtype(self) -> np.dtype:
        return self.arena.dtype

    def alloc(self, shape: tuple[int, ...] | int, dtype: np.dtype | None = None) -> np.ndarray:
        """A per-batch buffer: [batch, *shape]."""
        return self.arena.alloc(self.batch, shape, dtype)


class Kernel:
    """Forward and backward of one op, side by side.

    ``forward(xs, train)`` takes one [n, ...] array per input and returns the output
    (a view of a buffer the kernel owns, or an input itself for identities).
    ``backward(dout)`` writes the parameter gradients and returns one input gradient
    per input (None where the step does not need it). It must not modify ``dout``.
    """

    tag: ClassVar[str]

    def __init__(self, step: Step, ctx: Context):
        self.step, self.node = step, step.node
        self.width = math.prod(step.node.shape)

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        raise NotImplementedError

    def param(self, ctx: Context, role: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The parameter ``<node>.<role>`` and its gradient buffer (None when not training)."""
        name = f"{self.node.name}.{role}"
        return ctx.params[name], (ctx.grads[name] if ctx.grads is not None else None)
