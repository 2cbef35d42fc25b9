"""The parity check: a wrong lowering is caught (exit 1) and the message names the first
node where onnxruntime and the NumPy runtime disagree."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nnc.base.activations import ACTIVATIONS, onnx_op
from nnc.base.errors import ParityError
from nnc.compiler.onnx_export import export_onnx
from nnc.runtime.parity import check_parity

from helpers import MODELS, op_spec, plan_of, random_params


@pytest.fixture
def broken_relu(monkeypatch):
    """A lowering bug: relu exported as a sigmoid."""
    wrong = dataclasses.replace(ACTIVATIONS["relu"], onnx=onnx_op("Sigmoid"))
    monkeypatch.setitem(ACTIVATIONS, "relu", wrong)


def test_a_disagreement_names_its_first_node(broken_relu) -> None:
    plan = plan_of(op_spec("relu").replace("- {op: relu}", "- {op: relu, name: hidden}"))
    params = random_params(plan, np.float32)
    model = export_onnx(plan.graph, params.state_dict())
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    with pytest.raises(ParityError, match=r"first disagreement at node 'hidden' \(dense \+ relu,"):
        check_parity(plan, params, model, x, None)


def test_agreement_is_measured(cli, tmp_path) -> None:
    plan = plan_of(op_spec("maxout"))
    params = random_params(plan, np.float32)
    x = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    parity = check_parity(plan, params, export_onnx(plan.graph, params.state_dict()), x, None)
    assert parity.ok and parity.samples == 50 and parity.max_abs_diff < 1e-5


def test_build_exits_1_and_writes_no_model_on_a_parity_failure(cli, tmp_path, broken_relu):
    result = cli("build", "--no-report", MODELS / "spiral-two-layer.yaml", "-o", tmp_path, "--set",
                 "train.epochs=2")
    assert result.exit_code == 1
    assert "onnxruntime disagrees with the NumPy runtime" in result.stderr
    assert "first disagreement at node 'relu_1'" in result.stderr
    assert not (tmp_path / "model.onnx").exists()
