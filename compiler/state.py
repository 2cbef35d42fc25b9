"""The state of training, declared once: what the optimizer keeps besides the parameters
and their gradients, the best weights kept for early stopping, and the probe of the
diagnostics. The sizing report counts these buffers; the runtime's optimizer and trainer
allocate exactly them.
"""

from __future__ import annotations

import math

from nnc.base.buffers import Buffer, total_bytes
from nnc.compiler.plan import Plan
from nnc.spec.sections import TrainSpec

CHUNK = 1 << 16  # elements of the optimizer's scratch (y += a*x in place, by chunks)


SCRATCH = "scratch"  # the one optimizer buffer that is not state: nothing carries over


def optimizer_state(train: TrainSpec, n_params: int) -> list[Buffer]:
    """The optimizer's buffers for ``n_params`` parameters, as its spec section declares
    them: its state vectors (SGD's velocity with momentum; Adam's two moments, and their
    running maximum with amsgrad; RMSprop's mean square, and its momentum and mean gradient
    when asked; Adagrad's sum of squares), Adam's step count, and a bounded scratch for
    the in-place updates."""
    _, opt = train.optimizer.chosen
    out = [Buffer(name, (n_params,), per_sample=False) for name in opt.state_vectors()]
    if opt.counts_steps:  # for the bias corrections
        out.append(Buffer("step", (1,), dtype="int64", per_sample=False))
    if opt.needs_scratch(train.l2):
        out.append(Buffer(SCRATCH, (min(n_params, CHUNK),), per_sample=False))
    return out


def kept_weights(train: TrainSpec, n_params: int) -> list[Buffer]:
    """The best weights so far, kept when early stopping may restore them."""
    return [Buffer("best", (n_params,), per_sample=False)] if train.early_stopping else []


PROBE_SAMPLES = 512  # samples the diagnostics measure the activations on
DIAGNOSTIC_POINTS = 8  # measurements over a run by default, besides the initialization


def diagnostics_every(train: TrainSpec) -> int:
    """Epochs between diagnostics: the spec's, or about DIAGNOSTIC_POINTS over the run;
    0 when they are off."""
    if train.diagnostics_every is not None:
        return train.diagnostics_every
    return max(1, math.ceil(train.epochs / DIAGNOSTIC_POINTS))


def probe_bytes(plan: Plan) -> int:
    """Bytes of the diagnostics' probe: an inference executor for PROBE_SAMPLES samples."""
    if not diagnostics_every(plan.graph.spec.train):
        return 0
    per_sample = total_bytes(plan.executor_buffers, training=False) + sum(
        total_bytes(step.buffers, training=False) for step in plan.steps)
    return per_sample * PROBE_SAMPLES
