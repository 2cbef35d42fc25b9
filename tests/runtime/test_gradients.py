"""Central-difference gradient checks, in float64, of every op and every loss, with and
without L2: the analytic gradient (backprop + the optimizer's weight decay) against the
numerical gradient of loss + l2/2 * sum(W^2)."""

from __future__ import annotations

import numpy as np
import pytest

from nnc.base.losses import LOSSES
from nnc.runtime.executor import Executor
from nnc.runtime.losses import BoundLoss
from nnc.runtime.optim import make_optimizer
from nnc.spec import OP_SPECS
from nnc.spec.sections import TrainSpec

from helpers import op_spec, plan_of, random_labels, random_params

H = 1e-6
LOSS_NAMES = sorted(LOSSES)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / max(scale, 1e-12))


def gradient_check(text: str, loss_name: str, l2: float, fuse: bool = True, n: int = 7) -> float:
    plan = plan_of(text, fuse)
    params = random_params(plan)
    outputs = plan.graph.output_shape[0]
    executor = Executor(plan, params, n)
    loss = BoundLoss(loss_name, executor.arena, outputs)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((n, plan.graph.input_shape[0]))
    y = random_labels(loss_name, n, outputs, rng)
    sgd = make_optimizer(TrainSpec(l2=l2), params.data, executor.grad, plan.n_weights)

    def objective() -> float:
        executor.set_rng(np.random.default_rng(5))  # the same dropout masks and noise each time
        return loss(executor.forward(x, train=True), y) + sgd.l2_penalty()

    objective()
    executor.backward(loss.dscores[:n])
    before = params.data.copy()
    sgd.step(1.0)  # without momentum, a step of lr 1 moves the parameters by -(g + l2 W)
    analytic = before - params.data
    params.data[...] = before
    numeric = np.empty_like(analytic)
    for i in range(len(params.data)):
        old = params.data[i]
        params.data[i] = old + H
        plus = objective()
        params.data[i] = old - H
        minus = objective()
        params.data[i] = old
        numeric[i] = (plus - minus) / (2 * H)
    return relative_error(analytic, numeric)


@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("op", sorted(OP_SPECS))
def test_every_op(op: str, l2: float) -> None:
    assert gradient_check(op_spec(op), "softmax_cross_entropy", l2) < 1e-6


@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss(loss: str, l2: float) -> None:
    outputs = 1 if loss == "binary_cross_entropy" else 3
    assert gradient_check(op_spec("relu", outputs), loss, l2) < 1e-6


@pytest.mark.parametrize("op", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_fused_and_separate_activations_agree(op: str) -> None:
    for fuse in (True, False):
        assert gradient_check(op_spec(op), "multiclass_hinge", 0.0, fuse) < 1e-6


def test_shared_prelu_and_biasless_layers() -> None:
    text = op_spec("relu").replace("- {op: relu}", "- {op: prelu, shared: true}") \
        .replace("units: 5}", "units: 5, bias: false}")
    assert gradient_check(text, "softmax_cross_entropy", 0.05) < 1e-6


def test_value_read_by_several_nodes_sums_its_gradients() -> None:
    # in the join specs, b is read by c and by the join itself: two gradient paths
    assert gradient_check(op_spec("add"), "mse", 0.0) < 1e-6
    assert gradient_check(op_spec("concat"), "mse", 0.0) < 1e-6
