"""Runs a plan: forward and backward passes over preallocated buffers."""

from __future__ import annotations

from typing import cast

import numpy as np

from nnc.compiler.plan import Plan
from nnc.runtime.kernels import KERNELS, Arena, KernelBinding
from nnc.runtime.params import ParamStore


class Executor:
    """The kernels of ``plan`` bound to ``params`` and to buffers for up to ``batch`` samples.

    With ``training`` the executor also owns the flat gradient buffer ``grad`` (laid out
    like ``params.data``) and the buffers of the backward pass; ``rng`` drives dropout
    and input noise. Every buffer is one the plan declares.
    """

    def __init__(self, plan: Plan, params: ParamStore, batch: int, *, training: bool = True,
                 rng: np.random.Generator | None = None):
        self.plan, self.params, self.batch = plan, params, batch
        self.arena = Arena(params.data.dtype, batch, training)
        self.grad = np.zeros_like(params.data) if training else None
        grads = params.gradient_views(self.grad) if self.grad is not None else None
        self.rng = rng if rng is not None else np.random.default_rng(0)
        own = self.arena.allocate(plan.executor_buffers)
        self.x = own["input"]  # the input batch
        ones = own.get("ones")
        if ones is not None:
            ones.fill(1)
        self.kernels = [KERNELS[step.node.op](step, KernelBinding(
            params.views, grads, self.arena.allocate(step.buffers), ones, self.rng))
            for step in plan.steps]
        names = [plan.graph.input_name] + [s.output for s in plan.steps]
        self.index = {name: i for i, name in enumerate(names)}  # value name -> its position
        self.wiring = [(k, [self.index[i] for i in s.inputs], self.index[s.output], s.needs_dx)
                       for k, s in zip(self.kernels, plan.steps)]
        self.sums = {self.index[name]: own[f"sum:{name}"] for name in plan.accumulated
                     if f"sum:{name}" in own}
        # each value is set by a forward pass before a step reads it (None until then)
        self.values = cast(list[np.ndarray], [None] * len(names))
        self.grads: list[np.ndarray | None] = [None] * len(names)

    def set_rng(self, rng: np.random.Generator) -> None:
        """Use ``rng`` for dropout masks and noise from now on."""
        self.rng = rng
        for kernel in self.kernels:
            if hasattr(kernel, "rng"):
                kernel.rng = rng

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """Scores [n, *output] for inputs x [n, *input] (n <= batch)."""
        values = self.values
        values[0] = x
        for kernel, inputs, output, _ in self.wiring:
            values[output] = kernel.forward([values[i] for i in inputs], train)
        return values[-1]

    def backward(self, dscores: np.ndarray) -> np.ndarray:
        """Fill ``grad`` from the gradient of the loss w.r.t. the scores of the last forward."""
        grads, sums = self.grads, self.sums
        for i in range(len(grads)):
            grads[i] = None
        grads[-1] = dscores
        for kernel, inputs, output, needs_dx in reversed(self.wiring):
            # dout is None only for a step no gradient reaches, which reads it not (nothing
            # before it needs one); the gradient of a needed input is never None
            dxs = cast("list[np.ndarray]", kernel.backward(cast(np.ndarray, grads[output])))
            for i, dx, needed in zip(inputs, dxs, needs_dx):
                if not needed:
                    continue
                if i not in sums:
                    grads[i] = dx
                    continue
                summed = grads[i]
                if summed is None:
                    grads[i] = summed = sums[i][:len(dx)]
                    np.copyto(summed, dx)
                else:
                    summed += dx
        return cast(np.ndarray, self.grad)  # a training executor's

    def value(self, name: str) -> np.ndarray | None:
        """The output of a step in the last forward pass (for locating ONNX disagreements)."""
        return self.values[self.index[name]]
