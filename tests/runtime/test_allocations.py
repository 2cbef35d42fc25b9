"""After the first step, a training step allocates no array larger than a few kilobytes:
every activation, gradient, mask and optimizer temporary lives in a buffer of the plan.

NumPy's ufuncs also allocate an iteration buffer when they broadcast or stride (up to
8192 elements per operand, bounded whatever the sizes): the steps are measured with
that buffer shrunk to 64 elements (np.setbufsize), so that what remains are arrays."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from nnc.runtime.data import Dataset
from nnc.runtime.params import ParamStore
from nnc.runtime.trainer import Trainer
from nnc.spec import OP_SPECS, load_spec_text

from helpers import op_spec, plan_of

LIMIT = 8 * 1024  # a few small index arrays and Python objects
TRAIN = ("train: {batch_size: 128, optimizer: {sgd: {lr: 0.01, momentum: 0.9, nesterov: true}},"
         " l2: 0.001, clip_grad_norm: 5.0}\n")


def peak_of_a_step(text: str, loss: str, outputs: int, train: str = TRAIN) -> int:
    spec = load_spec_text(text + f"loss: {loss}\n" + train).spec
    plan = plan_of(text + f"loss: {loss}\n" + train)
    rng = np.random.default_rng(0)
    n, features = 1000, plan.graph.input_shape[0]
    x = rng.standard_normal((n, features)).astype(np.float32) * 0.1
    y = (rng.standard_normal((n, outputs)).astype(np.float32) if loss == "mse"
         else rng.integers(0, max(outputs, 2), n))
    data = Dataset(x, y, x[:0], y[:0], x[:0], None, None, "arrays")
    trainer = Trainer(plan, ParamStore(plan).initialize(0), data, spec.train, loss)
    order = rng.permutation(n)
    trainer.step(order[:128], 0.01)  # the first step may warm caches up
    trainer.step(order[128:256], 0.01)
    old_bufsize = np.setbufsize(64)
    tracemalloc.start()
    try:
        worst = 0
        for i in range(2, 6):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            trainer.step(order[i * 128:(i + 1) * 128], 0.01)
            worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
        trainer.step(order[-100:], 0.01)  # a smaller last batch reuses the same buffers
        worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
        return worst
    finally:
        tracemalloc.stop()
        np.setbufsize(old_bufsize)


@pytest.mark.parametrize("op", sorted(OP_SPECS))
def test_a_step_of_every_op_allocates_nothing_big(op: str) -> None:
    text = op_spec(op, 3).replace("input: [4]", "input: [256]").replace("[4]}", "[256]}") \
        .replace("units: 5", "units: 200").replace("units: 6", "units: 200")
    assert peak_of_a_step(text, "softmax_cross_entropy", 3) < LIMIT


@pytest.mark.parametrize("loss, outputs", [("multiclass_hinge", 10), ("mse", 10),
                                           ("binary_cross_entropy", 1)])
def test_a_step_of_every_loss_allocates_nothing_big(loss: str, outputs: int) -> None:
    text = op_spec("relu", outputs).replace("input: [4]", "input: [256]") \
        .replace("units: 5", "units: 200")
    assert peak_of_a_step(text, loss, outputs) < LIMIT


def test_what_a_step_allocates_does_not_grow_with_the_network() -> None:
    small = op_spec("maxout", 10).replace("input: [4]", "input: [256]")
    large = small.replace("input: [256]", "input: [1024]").replace("units: 5", "units: 800") \
        .replace("units: 4", "units: 400")
    a = peak_of_a_step(small, "softmax_cross_entropy", 10)
    b = peak_of_a_step(large, "softmax_cross_entropy", 10)
    assert b < LIMIT and b <= a + 4096, (a, b)


@pytest.mark.parametrize("optimizer", [
    "adam: {}", "adam: {amsgrad: true}", "adamw: {weight_decay: 0.1}",
    "rmsprop: {momentum: 0.9, centered: true}", "rmsprop: {}", "adagrad: {}"])
def test_a_step_of_every_optimizer_allocates_nothing_big(optimizer: str) -> None:
    """Over more parameters than a chunk of the update (CHUNK), with L2 and clipping."""
    text = op_spec("relu", 10).replace("input: [4]", "input: [1024]") \
        .replace("units: 5", "units: 100")
    train = TRAIN.replace("sgd: {lr: 0.01, momentum: 0.9, nesterov: true}", optimizer)
    assert train != TRAIN
    assert peak_of_a_step(text, "softmax_cross_entropy", 10, train) < LIMIT
