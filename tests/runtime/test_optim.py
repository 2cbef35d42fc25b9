"""Learning-rate schedules (as PyTorch's StepLR, ExponentialLR, CosineAnnealingLR), gradient
clipping (as torch.nn.utils.clip_grad_norm_, before weight decay) with every optimizer, and
Adam on the digits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnc.runtime.optim import OPTIMIZERS as RUNTIME
from nnc.runtime.optim import lr_at, make_optimizer
from nnc.spec.sections import LrSchedule, Optimizer, TrainSpec


def schedule(**kind) -> LrSchedule:
    return LrSchedule.model_validate(kind)


def test_step_schedule() -> None:
    s = schedule(step={"step_size": 3, "gamma": 0.5})
    assert [lr_at(0.8, s, e, 10) for e in range(7)] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2]


def test_exponential_schedule() -> None:
    s = schedule(exponential={"gamma": 0.9})
    assert [lr_at(1.0, s, e, 10) for e in range(3)] == pytest.approx([1.0, 0.9, 0.81])


def test_cosine_schedule_anneals_to_min_lr_over_the_epochs() -> None:
    s = schedule(cosine={"min_lr": 0.01})
    lrs = [lr_at(0.11, s, e, 4) for e in range(5)]
    expected = [0.01 + 0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert lrs == pytest.approx(expected) and lrs[0] == pytest.approx(0.11)
    assert lrs[-1] == pytest.approx(0.01)


def test_no_schedule_keeps_the_rate() -> None:
    assert lr_at(0.3, None, 99, 100) == 0.3


@pytest.mark.parametrize("norm, clip", [(10.0, 2.0), (1.0, 2.0)])
def test_clipping_scales_the_loss_gradient_before_weight_decay(norm: float, clip: float) -> None:
    rng = np.random.default_rng(0)
    params = rng.standard_normal(50)
    grad = rng.standard_normal(50)
    grad *= norm / np.linalg.norm(grad)
    g, before = grad.copy(), params.copy()
    sgd = make_optimizer(TrainSpec(l2=0.1, clip_grad_norm=clip), params, g, n_weights=30)
    sgd.step(1.0)  # no momentum, lr 1: the step is the regularized gradient
    scale = clip / (norm + 1e-6) if norm > clip else 1.0
    expected = grad * scale
    expected[:30] += 0.1 * before[:30]  # weight decay on the weights only, after clipping
    np.testing.assert_allclose(before - params, expected, rtol=1e-12)
    np.testing.assert_allclose(g, expected, rtol=1e-12)  # the gradient buffer holds the update


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_a_chunked_step_equals_the_formula(momentum: float, nesterov: bool) -> None:
    """Parameters longer than a chunk: the same as PyTorch's equations over the whole."""
    rng = np.random.default_rng(1)
    n, n_weights = 150_000, 140_000
    params, grad, velocity = (rng.standard_normal(n) for _ in range(3))
    train = TrainSpec.model_validate({"l2": 0.01, "optimizer": {"sgd": {
        "lr": 0.1, "momentum": momentum, "nesterov": nesterov}}})
    sgd = make_optimizer(train, p := params.copy(), grad.copy(), n_weights)
    if sgd.velocity is not None:
        sgd.velocity[...] = velocity
    squares = sgd.step(0.1)
    g = grad.copy()
    g[:n_weights] += 0.01 * params[:n_weights]
    if momentum:
        v = momentum * velocity + g
        g = g + momentum * v if nesterov else v
    np.testing.assert_allclose(p, params - 0.1 * g, rtol=1e-12)
    assert squares == pytest.approx(float(np.dot(p, p)), rel=1e-12)


def test_adam_learns_the_digits() -> None:
    """models/digits.yaml with Adam at lr 1e-3 (its other settings as they are)."""
    import nnc

    from helpers import MODELS

    spec = nnc.load(MODELS / "digits.yaml", overrides=["train.optimizer={adam: {lr: 0.001}}"])
    assert spec.spec.train.optimizer.chosen[0] == "adam"
    trained = nnc.train(spec)
    assert trained.result.val_accuracy is not None and trained.result.val_accuracy >= 0.97


OPTIMIZERS = [{"adam": {}}, {"adam": {"amsgrad": True}}, {"adamw": {"weight_decay": 0.5}},
              {"rmsprop": {"momentum": 0.9, "centered": True}}, {"adagrad": {}},
              {"sgd": {"momentum": 0.9}}]


def first_update(optimizer: dict, grad: np.ndarray, lr: float, **train) -> np.ndarray:
    """The change of the parameters in one step from fresh state."""
    params = np.random.default_rng(3).standard_normal(len(grad))
    before = params.copy()
    spec = TrainSpec.model_validate({"optimizer": optimizer, **train})
    make_optimizer(spec, params, grad.copy(), n_weights=len(grad) - 5).step(lr)
    return before - params


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=str)
def test_every_optimizer_steps_with_the_scheduled_lr(optimizer: dict) -> None:
    """The step uses the lr it is given (the schedule's), not the section's: from fresh
    state, the update is proportional to it."""
    grad = np.random.default_rng(4).standard_normal(40)
    np.testing.assert_allclose(first_update(optimizer, grad, 0.02),
                               first_update(optimizer, grad, 0.01) * 2, rtol=1e-9)


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=str)
def test_every_optimizer_clips_the_loss_gradient_first(optimizer: dict) -> None:
    grad = np.random.default_rng(5).standard_normal(40) * 10
    clipped = grad * 0.5 / (np.linalg.norm(grad) + 1e-6)
    np.testing.assert_allclose(first_update(optimizer, grad, 0.1, clip_grad_norm=0.5, l2=0.1),
                               first_update(optimizer, clipped, 0.1, l2=0.1), rtol=1e-9)


def test_the_spec_and_the_runtime_know_the_same_optimizers() -> None:
    assert set(Optimizer.choices) == set(RUNTIME) == {o for case in OPTIMIZERS for o in case}
