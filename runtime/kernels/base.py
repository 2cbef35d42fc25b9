"""What a kernel is, and what it is bound to: parameters, gradients, buffers, randomness.

A kernel is bound to one plan step and works in the buffers that step declares (its op
rule's ``buffers``), allocated once for one batch size; forward and backward then run
without allocating arrays. Rows ``[:n]`` of a buffer serve a smaller last batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nnc.base.buffers import Buffer
from nnc.compiler.plan import Step

DTYPES = {"bool": np.dtype(np.bool_), "int64": np.dtype(np.int64)}


class Arena:
    """Allocates declared buffers for one executor and counts their bytes."""

    def __init__(self, dtype: np.dtype, batch: int, training: bool):
        self.dtype, self.batch, self.training = np.dtype(dtype), batch, training
        self.bytes = 0

    def allocate(self, buffers: Sequence[Buffer]) -> dict[str, np.ndarray]:
        """Zeroed arrays for ``buffers`` by name: [batch, *shape] per sample, [*shape] for
        state; buffers only training needs are left out of an inference arena."""
        out = {}
        for b in buffers:
            if b.training and not self.training:
                continue
            shape = (self.batch, *b.shape) if b.per_sample else b.shape
            array = np.zeros(shape, dtype=DTYPES.get(b.dtype, self.dtype))
            self.bytes += array.nbytes
            out[b.name] = array
        return out


class KernelBinding:
    """What a kernel is bound to: the parameters and (when training) their gradients by
    name, its step's buffers, the executor's shared vector of ones, and the generator of
    dropout masks and noise."""

    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray] | None,
                 buffers: dict[str, np.ndarray], ones: np.ndarray | None,
                 rng: np.random.Generator):
        self.params, self.grads, self.buffers, self.ones, self.rng = \
            params, grads, buffers, ones, rng

    @property
    def training(self) -> bool:
        return self.grads is not None


class Kernel:
    """Forward and backward of one op, side by side.

    ``forward(xs, train)`` takes one [n, ...] array per input and returns the output
    (a view of a buffer the kernel owns, or an input itself for identities).
    ``backward(dout)`` writes the parameter gradients and returns one input gradient
    per input (None where the step does not need it). It must not modify ``dout``.

    Backward runs only on a training binding, after a forward: so kernels type what only
    training has (gradients, training-only buffers, the ones) and the input forward keeps
    as arrays, though they are None in an inference binding or before the first forward.
    """

    def __init__(self, step: Step, bound: KernelBinding):
        self.step, self.node = step, step.node
        self.width = math.prod(step.node.shape)
        self.buffers = bound.buffers

    def forward(self, xs: list[np.ndarray], train: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> list[np.ndarray | None]:
        raise NotImplementedError

    def param(self, bound: KernelBinding, role: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The parameter ``<node>.<role>`` and its gradient buffer (None when not training)."""
        name = f"{self.node.name}.{role}"
        return bound.params[name], (bound.grads[name] if bound.grads is not None else None)
