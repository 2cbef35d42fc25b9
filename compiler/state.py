"""The state of training, declared once: what the optimizer keeps besides the parameters
and their gradients, and the best weights kept for early stopping. The sizing report
counts these buffers; the runtime's optimizer and trainer allocate exactly them.
"""

from __future__ import annotations

from nnc.base.buffers import Buffer
from nnc.spec.sections import TrainSpec

CHUNK = 1 << 16  # elements of the optimizer's scratch (y += a*x in place, by chunks)


def optimizer_state(train: TrainSpec, n_params: int) -> list[Buffer]:
    """The optimizer's buffers for ``n_params`` parameters: SGD keeps a velocity when it
    has momentum, and a bounded scratch for L2 and Nesterov's look-ahead."""
    _, sgd = train.optimizer.chosen
    out = []
    if sgd.momentum > 0:
        out.append(Buffer("velocity", (n_params,), per_sample=False))
    if train.l2 > 0 or sgd.nesterov:
        out.append(Buffer("scratch", (min(n_params, CHUNK),), per_sample=False))
    return out


def kept_weights(train: TrainSpec, n_params: int) -> list[Buffer]:
    """The best weights so far, kept when early stopping may restore them."""
    return [Buffer("best", (n_params,), per_sample=False)] if train.early_stopping else []
