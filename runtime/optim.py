"""SGD with momentum (PyTorch's convention), L2, gradient clipping and lr schedules.

Everything works in place on the flat parameter and gradient buffers and on the state
buffers the optimizer declares (``nnc.compiler.state.optimizer_state``).
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from nnc.compiler.state import optimizer_state
from nnc.runtime.kernels.base import Arena
from nnc.spec.sections import (
    CosineSchedule,
    ExponentialSchedule,
    LrSchedule,
    Sgd,
    StepSchedule,
    TrainSpec,
)


def axpy(y: np.ndarray, a: float, x: np.ndarray, scratch: np.ndarray) -> None:
    """y += a * x, through ``scratch`` in chunks (NumPy has no in-place axpy)."""
    if len(y) <= len(scratch):
        tmp = scratch[:len(y)]
        np.multiply(x, a, out=tmp)
        y += tmp
        return
    for start in range(0, len(y), len(scratch)):
        stop = min(start + len(scratch), len(y))
        tmp = scratch[:stop - start]
        np.multiply(x[start:stop], a, out=tmp)
        y[start:stop] += tmp


class SGD:
    """v = momentum*v + g; w -= lr*v (or w -= lr*(g + momentum*v) with Nesterov), where
    g includes l2*w for the weights (PyTorch's ``weight_decay``, applied to weights only).

    ``params`` and ``grads`` are flat buffers; the first ``n_weights`` are the weights.
    The gradient buffer is used as scratch: it is garbage after ``step``. ``state`` holds
    the declared buffers: ``velocity`` (with momentum), ``scratch`` (with L2 or Nesterov).
    """

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        sgd = cast(Sgd, train.optimizer.sgd)  # the one choice, so the one given
        self.params, self.grads, self.n_weights = params, grads, n_weights
        self.momentum, self.nesterov = sgd.momentum, sgd.nesterov
        self.l2, self.clip = train.l2, train.clip_grad_norm
        self.state = state
        self.velocity = state.get("velocity")
        self.scratch = cast(np.ndarray, state.get("scratch"))  # there for L2 and Nesterov

    def state_dict(self) -> dict[str, np.ndarray]:
        """The state a resumed run needs (the scratch is not state)."""
        return {"velocity": self.velocity} if self.velocity is not None else {}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy the state in (zeros where a checkpoint had none)."""
        if self.velocity is not None:
            self.velocity[...] = arrays.get("velocity", 0)

    def l2_penalty(self) -> float:
        """l2/2 * sum(W^2) over the weights."""
        if not self.l2:
            return 0.0
        w = self.params[:self.n_weights]
        return 0.5 * self.l2 * float(np.vdot(w, w))

    def grad_norm(self) -> float:
        return math.sqrt(float(np.vdot(self.grads, self.grads)))

    def regularize(self) -> None:
        """Clip the loss gradient (as PyTorch, before weight decay), then add l2 * W."""
        g, p = self.grads, self.params
        if self.clip is not None:
            norm = self.grad_norm()
            if norm > self.clip:
                g *= self.clip / (norm + 1e-6)
        if self.l2:
            axpy(g[:self.n_weights], self.l2, p[:self.n_weights], self.scratch)

    def step(self, lr: float) -> None:
        """Regularize the gradient, then update the velocity and the parameters in place."""
        self.regularize()
        g, p = self.grads, self.params
        v = self.velocity
        if v is None:
            g *= lr
        else:
            v *= self.momentum
            v += g
            if self.nesterov:
                axpy(g, self.momentum, v, self.scratch)
                g *= lr
            else:
                np.multiply(v, lr, out=g)
        p -= g


def make_optimizer(train: TrainSpec, params: np.ndarray, grads: np.ndarray, n_weights: int,
                   arena: Arena | None = None) -> SGD:
    """The optimizer ``train`` asks for, with its declared state allocated (in ``arena``,
    which counts the bytes, if given)."""
    arena = arena or Arena(params.dtype, 1, training=True)
    return SGD(params, grads, n_weights, train, arena.allocate(optimizer_state(train, len(params))))


def lr_at(base_lr: float, schedule: LrSchedule | None, epoch: int, epochs: int) -> float:
    """The learning rate of (0-based) ``epoch``."""
    if schedule is None:
        return base_lr
    kind, s = schedule.chosen
    if kind == "step":
        step = cast(StepSchedule, s)
        return base_lr * step.gamma ** (epoch // step.step_size)
    if kind == "exponential":
        return base_lr * cast(ExponentialSchedule, s).gamma ** epoch
    min_lr = cast(CosineSchedule, s).min_lr
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2
