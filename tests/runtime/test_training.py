"""The trainer: SGD updates against an independent implementation, determinism, early
stopping, epochs: 0, and a memory estimate equal to what the runtime allocates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnc import pipeline
from nnc.compiler import compile_spec, lower_to_plan
from nnc.compiler.sizing import training_memory
from nnc.runtime.data import Dataset
from nnc.runtime.params import ParamStore
from nnc.runtime.trainer import Trainer
from nnc.spec import OP_SPECS, load_spec_text

from helpers import op_spec, plan_of

TWO_LAYER = """
name: two-layer
input: [4]
layers:
  - {op: dense, units: 5}
  - relu
  - {op: dense, units: 3}
loss: softmax_cross_entropy
train: {epochs: 2, batch_size: 8, optimizer: {sgd: {lr: 0.3, momentum: 0.9, nesterov: NESTEROV}},
        l2: 0.05}
"""


def dataset(x: np.ndarray, y: np.ndarray, classes: int | None = 3) -> Dataset:
    empty = np.zeros((0, x.shape[1]), dtype=x.dtype)
    return Dataset(x, y, empty, y[:0], empty, None, classes, "arrays")


def reference_sgd(W1, b1, W2, b2, x, y, lr, mu, l2, nesterov, steps):
    """Two-layer ReLU net, softmax cross-entropy, L2 on weights, SGD with momentum as
    PyTorch does it: written out with plain NumPy, independently of nnc's kernels."""
    params = [W1.copy(), b1.copy(), W2.copy(), b2.copy()]
    velocity = [np.zeros_like(p) for p in params]
    n = len(x)
    for _ in range(steps):
        W1, b1, W2, b2 = params
        h = np.maximum(0, x @ W1.T + b1)
        s = h @ W2.T + b2
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        ds = p.copy()
        ds[np.arange(n), y] -= 1
        ds /= n
        dh = (ds @ W2) * (h > 0)
        grads = [dh.T @ x + l2 * W1, dh.sum(0), ds.T @ h + l2 * W2, ds.sum(0)]
        for p_, v, g in zip(params, velocity, grads):  # in place: the arrays in params
            v[...] *= mu
            v[...] += g
            p_[...] -= lr * (g + mu * v if nesterov else v)
    return params


@pytest.mark.parametrize("nesterov", [False, True])
def test_two_full_batch_steps_match_an_independent_implementation(nesterov: bool) -> None:
    spec = load_spec_text(TWO_LAYER.replace("NESTEROV", str(nesterov).lower())).spec
    plan = lower_to_plan(compile_spec(spec))
    params = ParamStore(plan, np.float64).initialize(0)
    params.data += np.random.default_rng(1).standard_normal(params.data.shape) * 0.1
    start = {k: v.copy() for k, v in params.views.items()}
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    Trainer(plan, params, dataset(x, y), spec.train, spec.loss).run()
    expected = reference_sgd(start["dense_1.weight"], start["dense_1.bias"],
                             start["dense_2.weight"], start["dense_2.bias"], x, y,
                             lr=0.3, mu=0.9, l2=0.05, nesterov=nesterov, steps=2)
    names = ["dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"]
    for name, want in zip(names, expected):
        assert not np.allclose(params.views[name], start[name])  # it did move
        np.testing.assert_allclose(params.views[name], want, rtol=1e-12, atol=1e-14)


def test_initial_weights_depend_only_on_spec_and_seed() -> None:
    plan = plan_of(op_spec("maxout"))
    a, b = ParamStore(plan).initialize(7), ParamStore(plan).initialize(7)
    assert a.data.tobytes() == b.data.tobytes()
    assert ParamStore(plan).initialize(8).data.tobytes() != a.data.tobytes()


def test_default_inits_have_the_documented_scale() -> None:
    plan = plan_of("name: t\ninput: [400]\nlayers: [{op: dense, units: 300}, relu,"
                   " {op: dense, units: 200}, tanh, {op: dense, units: 10}, prelu]\n")
    params = ParamStore(plan).initialize(0)
    he = params.views["dense_1.weight"].std()
    xavier = params.views["dense_2.weight"].std()
    assert he == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert xavier == pytest.approx(math.sqrt(2 / (300 + 200)), rel=0.02)
    assert (params.views["dense_1.bias"] == 0).all()
    assert (params.views["prelu_1.slope"] == 0.25).all()


def spiral_run(extra: str = "", epochs: int = 40, data: str = "val_split: 0.3"):
    text = f"""
name: s
input: [2]
layers: [{{op: dense, units: 64}}, relu, {{op: dropout, p: 0.2}}, {{op: dense, units: 3}}]
loss: softmax_cross_entropy
data: {{spiral: {{points: 60}}, {data}}}
train: {{epochs: {epochs}, batch_size: 16, optimizer: {{sgd: {{lr: 0.5, momentum: 0.9}}}}, {extra}}}
"""
    return pipeline.train(pipeline.prepare(load_spec_text(text)))


def test_training_is_deterministic() -> None:
    a, b = spiral_run(), spiral_run()
    assert a.params.data.tobytes() == b.params.data.tobytes()
    assert [r.train_loss for r in a.result.history] == [r.train_loss for r in b.result.history]


def test_early_stopping_restores_the_best_epoch() -> None:
    stopped = spiral_run("early_stopping: {patience: 3, metric: val_loss}", epochs=200)
    result = stopped.result
    assert result.stopped_early
    best = result.best_epoch
    assert result.epochs_run == best + 3
    losses = [r.val_loss for r in result.history]
    assert losses[best - 1] == min(losses)
    # training for exactly `best` epochs from the same seed gives the kept weights
    plain = spiral_run(epochs=best)
    assert stopped.params.data.tobytes() == plain.params.data.tobytes()


def test_epochs_zero_keeps_the_initial_weights() -> None:
    zero, five = spiral_run(epochs=0), spiral_run(epochs=5)
    plan = zero.params.plan
    assert zero.params.data.tobytes() == ParamStore(plan).initialize(0).data.tobytes()
    assert five.params.data.tobytes() != zero.params.data.tobytes()


SPECS = [op_spec(op) for op in OP_SPECS]


@pytest.mark.parametrize("text", SPECS)
@pytest.mark.parametrize("train", ["{batch_size: 16}",
                                   "{batch_size: 5, optimizer: {sgd: {lr: 0.1, momentum: 0.9, "
                                   "nesterov: true}}, l2: 0.01, early_stopping: {patience: 2}}",
                                   "{batch_size: 8, optimizer: {adam: {amsgrad: true}}}",
                                   "{batch_size: 8, optimizer: {rmsprop: {momentum: 0.5, "
                                   "centered: true}}}",
                                   "{batch_size: 8, optimizer: {adagrad: {}}, l2: 0.01}"])
def test_memory_estimate_is_what_the_runtime_allocates(text: str, train: str) -> None:
    spec = load_spec_text(text + f"loss: mse\ntrain: {train}\n").spec
    plan = lower_to_plan(compile_spec(spec))
    params = ParamStore(plan)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = rng.standard_normal((40, 3)).astype(np.float32)
    data = Dataset(x, y, x[:8], y[:8], x[:8], None, None, "arrays")
    trainer = Trainer(plan, params, data, spec.train, "mse")
    estimate = training_memory(plan, spec.train.batch_size)
    kept = trainer.best.nbytes if trainer.best is not None else 0
    state = sum(a.nbytes for a in trainer.optimizer.state.values())
    assert (kept, state) == (estimate.best_params, estimate.optimizer)
    # one arena holds the batch buffers, the optimizer's state and the kept weights
    assert trainer.executor.arena.bytes == estimate.activations + state + kept
    assert params.data.nbytes == estimate.params
    assert trainer.executor.grad.nbytes == estimate.gradients


@pytest.mark.parametrize("change, message", [
    (lambda a: a.__setitem__("step", np.array([-1])), "step must be 1 int64 values at least 0"),
    (lambda a: a.__setitem__("step", np.array([1.0])), "step must be 1 int64 values"),
    (lambda a: a.__setitem__("exp_avg", a["exp_avg"][:-1]), "exp_avg must be 43 finite floats"),
    (lambda a: a["exp_avg_sq"].__setitem__(0, np.nan), "exp_avg_sq must be 43 finite floats")])
def test_a_state_without_the_optimizers_arrays_is_refused(change, message) -> None:
    """Adam's saved moments and step count are checked like the parameters."""
    from nnc.runtime.trainer import StateMismatch

    text = TWO_LAYER.replace("sgd: {lr: 0.3, momentum: 0.9, nesterov: NESTEROV}", "adam: {}")
    spec = load_spec_text(text).spec
    plan = plan_of(text)
    rng = np.random.default_rng(0)
    data = dataset(rng.standard_normal((16, 4)).astype(np.float32), rng.integers(0, 3, 16))
    trainer = Trainer(plan, ParamStore(plan).initialize(0), data, spec.train,
                      "softmax_cross_entropy")
    trainer.step(np.arange(8), 0.01)
    saved = trainer.state_dict()
    saved.arrays = {k: v.copy() for k, v in saved.arrays.items()}
    assert int(saved.arrays["step"][0]) == 1 and plan.n_params == 43
    trainer.load_state_dict(saved)  # as saved: taken
    change(saved.arrays)
    with pytest.raises(StateMismatch, match=message):
        trainer.load_state_dict(saved)
