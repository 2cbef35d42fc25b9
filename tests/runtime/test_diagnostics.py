"""Diagnostics while training, checked against independent computations from the saved
weights and samples: dead units, saturation, maxout's pieces, gradient and update norms;
and resumed exactly with the rest of the trainer's state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnc import pipeline
from nnc.runtime.data import Dataset
from nnc.runtime.params import ParamStore
from nnc.runtime.trainer import Trainer
from nnc.spec import load_spec, load_spec_text

from helpers import MODELS, op_spec


def train_spec(text: str, x: np.ndarray, y: np.ndarray, batch_size: int = 16):
    train = f"{{epochs: 4, batch_size: {batch_size}, diagnostics_every: 1, " \
        "optimizer: {sgd: {lr: 0.1}}}"
    spec = load_spec_text(f"{text}loss: softmax_cross_entropy\ntrain: {train}\n")
    prepared = pipeline.prepare(spec)
    data = Dataset(x, y, x[:40], y[:40], x[:40], None, 3, "arrays")
    trainer = Trainer(prepared.plan, ParamStore(prepared.plan).initialize(0), data,
                      prepared.spec_file.spec.train, "softmax_cross_entropy")
    return prepared, trainer


def data(n: int = 120, features: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, features)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)


def test_dead_fraction_agrees_with_an_independent_computation(tmp_path) -> None:
    """A ReLU layer half killed by a high learning rate: the share of units negative on every
    probe sample, recomputed from weights.npz and the validation set, within one unit."""
    out = tmp_path / "out"
    spec = load_spec(MODELS / "dying-relu.yaml", ["train.optimizer.sgd.lr=3", "train.epochs=30"])
    prepared = pipeline.prepare(spec)
    report = pipeline.build(prepared, out, html=False)
    weights = np.load(out / "weights.npz")
    val = np.load(out / "val.npz")
    w, b = weights["dense_1.weight"], weights["dense_1.bias"]
    hidden = val["x"][:512].astype(np.float64) @ w.T.astype(np.float64) + b
    dead = float((hidden <= 0).all(axis=0).mean())
    measured = report["diagnostics"]["nodes"]["relu_1"]["dead_fraction"][-1]
    assert 0 < measured < 1  # partly dead: the comparison means something
    assert abs(measured - dead) <= 1 / w.shape[0] + 1e-9
    assert report["diagnostics"]["probe_samples"] == len(val["x"][:512])


def test_saturated_fraction_mean_and_std_of_a_sigmoid() -> None:
    x, y = data()
    _prepared, trainer = train_spec(op_spec("sigmoid").replace("- {op: sigmoid}",
                                                              "- {op: sigmoid, name: s}"), x, y)
    trainer.run()
    record = trainer.history[-1]
    node = record.diagnostics["nodes"]["s"]
    w, b = trainer.params.views["dense_1.weight"], trainer.params.views["dense_1.bias"]
    out = 1 / (1 + np.exp(-(x[:40] @ w.T + b)))
    assert node["kind"] == "sigmoid" and node["dead_fraction"] is None
    assert node["saturated_fraction"] == pytest.approx(((out < 0.01) | (out > 0.99)).mean())
    assert node["mean"] == pytest.approx(out.mean(), rel=1e-5)
    assert node["std"] == pytest.approx(out.std(), rel=1e-4)
    assert sum(node["histogram"]["counts"]) == out.size


def test_maxout_piece_wins_sum_to_one() -> None:
    x, y = data()
    _, trainer = train_spec(op_spec("maxout"), x, y)
    trainer.run()
    wins = trainer.history[-1].diagnostics["nodes"]["maxout_1"]["piece_wins"]
    assert len(wins) == 2 and sum(wins) == pytest.approx(1.0)


def test_gradient_and_update_norms_are_what_the_steps_did() -> None:
    """With plain SGD, update/weight = lr * |g| / |w|: the two measurements agree."""
    x, y = data()
    _, trainer = train_spec(op_spec("relu"), x, y)
    trainer.run()
    params = trainer.history[-1].diagnostics["params"]
    for name, stats in params.items():
        assert stats["grad_norm"] > 0 and stats["update_ratio"] > 0, name
        assert stats["norm"] == pytest.approx(float(np.linalg.norm(trainer.params.views[name])))
    # one step per epoch (the whole set a batch): the step's update is lr times its gradient
    x, y = data()
    _, trainer = train_spec(op_spec("relu"), x, y, batch_size=len(x))
    trainer.run()
    for name, stats in trainer.history[-1].diagnostics["params"].items():
        assert stats["update_ratio"] * stats["norm"] == pytest.approx(0.1 * stats["grad_norm"],
                                                                      rel=1e-4), name
    # the initial measurement has no steps yet
    assert trainer.state.initial["params"]["dense_1.weight"]["grad_norm"] is None
    assert math.isfinite(trainer.state.initial["loss"])


def test_prelu_slopes_are_reported() -> None:
    x, y = data()
    _, trainer = train_spec(op_spec("prelu"), x, y)
    trainer.run()
    slope = trainer.history[-1].diagnostics["params"]["prelu_1.slope"]
    values = trainer.params.views["prelu_1.slope"]
    assert (slope["min"], slope["mean"], slope["max"]) == pytest.approx(
        (values.min(), values.mean(), values.max()))


def test_off_means_no_measurement_and_no_probe() -> None:
    x, y = data()
    spec = load_spec_text(op_spec("relu") + "loss: softmax_cross_entropy\n"
                          "train: {epochs: 2, diagnostics_every: 0}\n")
    prepared = pipeline.prepare(spec)
    assert prepared.sizing.memory.diagnostics == 0
    trainer = Trainer(prepared.plan, ParamStore(prepared.plan).initialize(0),
                      Dataset(x, y, x[:0], y[:0], x[:0], None, 3, "a"), spec.spec.train,
                      "softmax_cross_entropy")
    trainer.run()
    assert trainer.diagnostics is None and trainer.state.initial is None
    assert all(r.diagnostics is None for r in trainer.history)


def test_the_probe_fits_the_memory_estimate() -> None:
    x, y = data(n=800)
    prepared, trainer = train_spec(op_spec("maxout"), x, y)
    probe = trainer.diagnostics.executor.arena.bytes
    assert probe <= prepared.sizing.memory.diagnostics  # 40 probe samples of at most 512
    assert prepared.sizing.memory.diagnostics == probe * 512 // 40


def test_a_resumed_run_measures_the_same(tmp_path) -> None:
    """Diagnostics survive a resume in the middle of a diagnostic epoch, bit for bit."""
    spec = load_spec(MODELS / "digits.yaml", ["train.epochs=4", "train.diagnostics_every=2",
                                              "train.checkpoint_every=1"])
    whole = pipeline.train_to(pipeline.prepare(spec), tmp_path / "a", html=False)

    class StopMidway:
        calls = 0

        def __call__(self) -> int | None:
            self.calls += 1
            return 15 if self.calls == 60 else None  # in epoch 2, a diagnostic epoch

    from nnc.base.errors import Interrupted

    with pytest.raises(Interrupted):
        pipeline.train_to(pipeline.prepare(spec), tmp_path / "b", should_stop=StopMidway(),
                          html=False)
    resumed = pipeline.train_to(pipeline.prepare(spec), tmp_path / "b", resume=True, html=False)
    assert resumed["diagnostics"] == whole["diagnostics"]
    assert (tmp_path / "a" / "weights.npz").read_bytes() == \
        (tmp_path / "b" / "weights.npz").read_bytes()
