"""The optimizers (torch.optim's conventions: SGD with momentum, Adam, AdamW, RMSprop,
Adagrad), L2, gradient clipping and lr schedules.

Everything works in place on the flat parameter and gradient buffers and on the state
buffers the optimizer declares (``nnc.compiler.state.optimizer_state``), chunk by chunk.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import cast

import numpy as np

from nnc.compiler.state import CHUNK, SCRATCH, optimizer_state
from nnc.runtime.kernels.base import Arena
from nnc.spec.sections import (
    Adagrad as AdagradSpec,
)
from nnc.spec.sections import (
    Adam as AdamSpec,
)
from nnc.spec.sections import (
    CosineSchedule,
    ExponentialSchedule,
    LrSchedule,
    Rmsprop,
    Sgd,
    StepSchedule,
    TrainSpec,
)


class Optimizer(ABC):
    """What every optimizer shares: clipping, L2, the state, the chunked step.

    ``params`` and ``grads`` are flat buffers; the first ``n_weights`` are the weights.
    ``step`` clips the loss gradient, adds l2*W to the weights' gradient (PyTorch's
    ``weight_decay``, applied to weights only), then ``update`` turns each chunk's gradient
    into the update, which is subtracted from the parameters: after ``step`` the gradient
    buffer holds the update applied (the diagnostics read it). ``state`` holds the
    declared buffers; all but the scratch (one cache-sized chunk) are the optimizer's state.
    """

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        self.params, self.grads, self.n_weights = params, grads, n_weights
        self.l2, self.clip = train.l2, train.clip_grad_norm
        self.state = state
        self.scratch = state.get(SCRATCH)
        # the update runs chunk by chunk, so that each chunk's parameters, gradient and
        # state stay in cache across its few operations (half the memory traffic)
        self.chunks = [(a, min(a + CHUNK, len(params))) for a in range(0, len(params), CHUNK)]

    def state_dict(self) -> dict[str, np.ndarray]:
        """The state a resumed run needs (the scratch is not state)."""
        return {name: a for name, a in self.state.items() if name != SCRATCH}

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy the state in (zeros where a checkpoint had none)."""
        for name, a in self.state_dict().items():
            a[...] = arrays.get(name, 0)

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
        """Clip, add l2 * W, update the state and the parameters in place; returns the
        sum of the squared parameters after the update (non-finite if one is)."""
        self.clip_gradient()
        self.begin(lr)
        l2, n_weights = self.l2, self.n_weights
        squares = 0.0
        for a, b in self.chunks:
            p, g = self.params[a:b], self.grads[a:b]
            if l2 and a < n_weights:  # g += l2 * w, over the weights only
                self.add_scaled_weights(g, p, a, b, l2)
            self.update(p, g, a, b, lr)
            p -= g
            squares += float(np.dot(p, p))
        return squares

    def add_scaled_weights(self, out: np.ndarray, p: np.ndarray, a: int, b: int,
                           scale: float) -> None:
        """out += scale * p over the weights of chunk [a, b)."""
        w = min(b, self.n_weights) - a
        if w > 0:
            t = cast(np.ndarray, self.scratch)[:w]
            np.multiply(p[:w], scale, out=t)
            out[:w] += t

    def begin(self, lr: float) -> None:  # noqa: B027 (a hook most optimizers leave empty)
        """Before the chunks of a step (Adam counts its steps here)."""

    @abstractmethod
    def update(self, p: np.ndarray, g: np.ndarray, a: int, b: int, lr: float) -> None:
        """Turn chunk [a, b)'s gradient ``g`` into the update to subtract from ``p``."""


class SGD(Optimizer):
    """v = momentum*v + g; w -= lr*v (or w -= lr*(g + momentum*v) with Nesterov).
    State: ``velocity``, with momentum."""

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        super().__init__(params, grads, n_weights, train, state)
        sgd = cast(Sgd, train.optimizer.sgd)
        self.momentum, self.nesterov = sgd.momentum, sgd.nesterov
        self.velocity = state.get("velocity")

    def update(self, p: np.ndarray, g: np.ndarray, a: int, b: int, lr: float) -> None:
        if self.velocity is None:
            g *= lr
            return
        mu, v = self.momentum, self.velocity[a:b]
        v *= mu
        v += g
        if self.nesterov:  # g + mu * v
            t = cast(np.ndarray, self.scratch)[:b - a]
            np.multiply(v, mu, out=t)
            g += t
            g *= lr
        else:
            np.multiply(v, lr, out=g)


class Adam(Optimizer):
    """torch.optim.Adam, and AdamW (decoupled weight decay on the weights) when the spec
    has a ``weight_decay``. State: ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (with
    amsgrad), ``step``."""

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        super().__init__(params, grads, n_weights, train, state)
        spec = cast(AdamSpec, train.optimizer.chosen[1])
        self.beta1, self.beta2, self.eps = spec.beta1, spec.beta2, spec.eps
        self.decay = float(getattr(spec, "weight_decay", 0.0))
        self.exp_avg, self.exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        self.max_exp_avg_sq = state.get("max_exp_avg_sq")
        self.count = state["step"]
        self.step_size = self.correction2 = 1.0

    def begin(self, lr: float) -> None:
        self.count += 1
        t = int(self.count[0])
        self.step_size = lr / (1 - self.beta1 ** t)
        self.correction2 = (1 - self.beta2 ** t) ** 0.5

    def update(self, p: np.ndarray, g: np.ndarray, a: int, b: int, lr: float) -> None:
        m, v = self.exp_avg[a:b], self.exp_avg_sq[a:b]
        t = cast(np.ndarray, self.scratch)[:b - a]
        np.subtract(g, m, out=t)  # m = m + (1-beta1) * (g - m), torch's lerp
        t *= 1 - self.beta1
        m += t
        v *= self.beta2  # v = beta2*v + (1-beta2)*g^2
        np.multiply(g, g, out=t)
        t *= 1 - self.beta2
        v += t
        if self.max_exp_avg_sq is not None:
            v = self.max_exp_avg_sq[a:b]
            np.maximum(v, self.exp_avg_sq[a:b], out=v)
        np.sqrt(v, out=t)  # sqrt(v) / sqrt(1-beta2^t) + eps
        t /= self.correction2
        t += self.eps
        np.divide(m, t, out=g)
        g *= self.step_size
        if self.decay and a < self.n_weights:  # AdamW: w -= lr*weight_decay*w, weights only
            self.add_scaled_weights(g, p, a, b, lr * self.decay)


class RMSprop(Optimizer):
    """torch.optim.RMSprop. State: ``square_avg``, ``momentum_buffer`` (with momentum),
    ``grad_avg`` (centered)."""

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        super().__init__(params, grads, n_weights, train, state)
        spec = cast(Rmsprop, train.optimizer.rmsprop)
        self.alpha, self.eps, self.momentum = spec.alpha, spec.eps, spec.momentum
        self.square_avg = state["square_avg"]
        self.buffer, self.grad_avg = state.get("momentum_buffer"), state.get("grad_avg")

    def update(self, p: np.ndarray, g: np.ndarray, a: int, b: int, lr: float) -> None:
        s, t = self.square_avg[a:b], cast(np.ndarray, self.scratch)[:b - a]
        s *= self.alpha  # s = alpha*s + (1-alpha)*g^2
        np.multiply(g, g, out=t)
        t *= 1 - self.alpha
        s += t
        if self.grad_avg is not None:  # centered: sqrt(s - a^2), a = lerp(a, g, 1-alpha)
            ga = self.grad_avg[a:b]
            np.subtract(g, ga, out=t)
            t *= 1 - self.alpha
            ga += t
            np.multiply(ga, ga, out=t)
            np.subtract(s, t, out=t)
            np.sqrt(t, out=t)
        else:
            np.sqrt(s, out=t)
        t += self.eps
        if self.buffer is not None:  # b = momentum*b + g/avg; the update is lr*b
            buf = self.buffer[a:b]
            buf *= self.momentum
            np.divide(g, t, out=t)
            buf += t
            np.multiply(buf, lr, out=g)
        else:
            np.divide(g, t, out=g)
            g *= lr


class Adagrad(Optimizer):
    """torch.optim.Adagrad (no lr decay, accumulator from 0). State: ``state_sum``."""

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_weights: int, train: TrainSpec,
                 state: dict[str, np.ndarray]):
        super().__init__(params, grads, n_weights, train, state)
        self.eps = cast(AdagradSpec, train.optimizer.adagrad).eps
        self.state_sum = state["state_sum"]

    def update(self, p: np.ndarray, g: np.ndarray, a: int, b: int, lr: float) -> None:
        s, t = self.state_sum[a:b], cast(np.ndarray, self.scratch)[:b - a]
        np.multiply(g, g, out=t)
        s += t
        np.sqrt(s, out=t)
        t += self.eps
        np.divide(g, t, out=g)
        g *= lr


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "adam": Adam, "adamw": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def make_optimizer(train: TrainSpec, params: np.ndarray, grads: np.ndarray, n_weights: int,
                   arena: Arena | None = None) -> Optimizer:
    """The optimizer ``train`` asks for, with its declared state allocated (in ``arena``,
    which counts the bytes, if given)."""
    arena = arena or Arena(params.dtype, 1, training=True)
    state = arena.allocate(optimizer_state(train, len(params)))
    return OPTIMIZERS[train.optimizer.chosen[0]](params, grads, n_weights, train, state)


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
