"""The loss table's probabilities: what onnxruntime computes with the ONNX op each loss
names for its ``probabilities`` output (Softmax over the units, Sigmoid of a logit)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from nnc.base.losses import LOSSES
from nnc.runtime import onnx_run


@pytest.mark.parametrize("name", [n for n, loss in LOSSES.items() if loss.probability])
def test_probabilities_are_what_the_exported_op_computes(name) -> None:
    loss = LOSSES[name]
    units = 1 if loss.labels == "binary" else 4
    scores = np.random.default_rng(0).normal(0, 30, (64, units)).astype(np.float32)
    scores[:2] = [[-800.0] * units, [800.0] * units]  # beyond exp's range
    node = helper.make_node(loss.probability, ["s"], ["p"],
                            **({"axis": 1} if loss.probability == "Softmax" else {}))
    graph = helper.make_graph([node], "p", [helper.make_tensor_value_info(
        "s", TensorProto.FLOAT, [None, units])], [helper.make_tensor_value_info(
            "p", TensorProto.FLOAT, [None, units])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    expected, = onnx_run.run(onnx_run.session(model), scores, ["p"])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow
        got = loss.probabilities(scores.astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert np.isfinite(got).all()


def test_a_loss_without_probabilities_says_so() -> None:
    with pytest.raises(ValueError, match="mse gives no probabilities"):
        LOSSES["mse"].probabilities(np.zeros((2, 1)))
