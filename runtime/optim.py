"""SGD with momentum (PyTorch's convention), L2, gradient clipping and lr schedules.

Everything works in place on the flat parameter and gradient buffers and on the state
buffers the optimizer declares (``nnc.compiler.state.optimizer_state``).
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from nnc.compiler.state import CHUNK, optimizer_state
from nnc.runtime.kernels.base import Arena
from nnc.spec.sections import (
    CosineSchedule,
    ExponentialSchedule,
    LrSchedule,
    Sgd,
    StepSchedule,
    TrainSpec,
)


class SGD:
    """v = momentum*v + g; w -= lr*v (or w -= lr*(g + momentum*v) with Nesterov), where
    g includes l2*w for the weights (PyTorch's ``weight_decay``, applied to weights only).

    ``params`` and ``grads`` are flat buffers; the first ``n_weights`` are the weights.
    After ``step`` the gradient buffer holds the update that was subtracted from the
    parameters (the diagnostics read it). ``state`` holds the declared buffers: ``velocity``
    (with momentum) and ``scratch``, one cache-sized chunk (with L2 or Nesterov).
    """

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        sgd = cast(Sgd, train.optimizer.sgd)  # the one choice, so the one given
        self.params, self.grads, self.n_weights = params, grads, n_weights
        self.momentum, self.nesterov = sgd.momentum, sgd.nesterov
        self.l2, self.clip = train.l2, train.clip_grad_norm
        self.state = state
        self.velocity = state.get("velocity")
        self.scratch = state.get("scratch")
        # the update runs chunk by chunk, so that each chunk's parameters, gradient and
        # velocity stay in cache across its few operations (half the memory traffic)
        self.chunks = [(a, min(a + CHUNK, len(params))) for a in range(0, len(params), CHUNK)]

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

    def clip_gradient(self) -> None:
        """Scale the loss gradient to norm ``clip`` when it is longer (as PyTorch's
        clip_grad_norm_, before weight decay)."""
        if self.clip is not None:
            norm = self.grad_norm()
            if norm > self.clip:
                self.grads *= self.clip / (norm + 1e-6)

    def step(self, lr: float) -> float:
        """Clip, add l2 * W, update the velocity and the parameters in place; returns the
        sum of the squared parameters after the update (non-finite if one is)."""
        self.clip_gradient()
        mu, l2, n_weights, v_all = self.momentum, self.l2, self.n_weights, self.velocity
        squares = 0.0
        for a, b in self.chunks:
            p, g = self.params[a:b], self.grads[a:b]
            if l2 and a < n_weights:  # g += l2 * w, over the weights only
                w = min(b, n_weights) - a
                t = cast(np.ndarray, self.scratch)[:w]
                np.multiply(p[:w], l2, out=t)
                g[:w] += t
            if v_all is not None:
                v = v_all[a:b]
                v *= mu
                v += g
                if self.nesterov:  # g + mu * v
                    t = cast(np.ndarray, self.scratch)[:b - a]
                    np.multiply(v, mu, out=t)
                    g += t
                    g *= lr
                else:
                    np.multiply(v, lr, out=g)
            else:
                g *= lr
            p -= g
            squares += float(np.dot(p, p))
        return squares


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
