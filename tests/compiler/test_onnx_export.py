"""ONNX export: every op, DAGs, every loss head and every example in models/ pass the
checker, and onnxruntime computes what the NumPy runtime computes (relative 1e-5) on
1000 random inputs at batch sizes 1, 7 and 1000."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from nnc import pipeline
from nnc.base.errors import SpecError
from nnc.base.losses import LOSSES
from nnc.compiler.onnx_export import export_onnx
from nnc.runtime import onnx_run
from nnc.runtime.executor import Executor
from nnc.runtime.params import ParamStore
from nnc.spec import OP_SPECS, load_spec_text

from helpers import MODELS, op_spec, plan_of, random_params

BATCHES = (1, 7, 1000)


def assert_parity(plan, params, samples: int = 1000, opset: int = 17,
                  preprocess=None) -> float:
    model = export_onnx(plan.graph, params.state_dict(), opset=opset, preprocess=preprocess)
    onnx.checker.check_model(model, full_check=True)
    sess = onnx_run.session(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, *plan.graph.input_shape)).astype(np.float32)
    worst = 0.0
    for batch in BATCHES:
        executor = Executor(plan, params, batch, training=False)
        for start in range(0, samples, batch):
            chunk = x[start:start + batch]
            theirs = sess.run(["scores"], {"input": chunk})[0]
            inputs = chunk if preprocess is None else (chunk - preprocess[0]) * preprocess[1]
            ours = executor.forward(np.ascontiguousarray(inputs, dtype=np.float32))
            diff = np.abs(theirs - ours).max() / max(1.0, np.abs(ours).max())
            worst = max(worst, float(diff))
    assert worst <= 1e-5, worst
    return worst


@pytest.mark.parametrize("op", sorted(OP_SPECS))
def test_every_op(op: str) -> None:
    plan = plan_of(op_spec(op))
    assert_parity(plan, random_params(plan, np.float32))


@pytest.mark.parametrize("layer", ["prelu", "{op: prelu, shared: true}",
                                   "{op: maxout, units: 7, pieces: 2, bias: false}",
                                   "{op: maxout, units: 3, pieces: 5}"])
def test_prelu_and_maxout_variants(layer: str) -> None:
    plan = plan_of(op_spec("relu").replace("- {op: relu}", f"- {layer}"))
    assert_parity(plan, random_params(plan, np.float32))


@pytest.mark.parametrize("opset", [13, 17, 18, onnx_run.max_opset()])
def test_opsets(opset: int) -> None:
    plan = plan_of(op_spec("maxout"))  # ReduceMax changed its axes in opset 18
    assert_parity(plan, random_params(plan, np.float32), samples=50, opset=opset)


def test_preprocessing_is_part_of_the_model() -> None:
    plan = plan_of(op_spec("tanh"))
    shift = np.linspace(-1, 1, 4).astype(np.float32)
    scale = np.linspace(0.5, 2, 4).astype(np.float32)
    assert_parity(plan, random_params(plan, np.float32), preprocess=(shift, scale))


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.slow) if p.stem == "modern-96m" else p
    for p in sorted(MODELS.glob("*.yaml"))], ids=lambda p: p.stem)
def test_every_example(path) -> None:
    prepared = pipeline.prepare(path)
    store = ParamStore(prepared.plan).initialize(1)
    # a 96M-parameter net at batch 1 reads 385 MB per sample: fewer samples there
    samples = 1000 if prepared.graph.param_count < 10_000_000 else 8
    assert_parity(prepared.plan, store, samples=samples)


@pytest.mark.parametrize("loss, op", [("softmax_cross_entropy", "Softmax"),
                                      ("binary_cross_entropy", "Sigmoid")])
def test_probabilities_output(loss: str, op: str) -> None:
    outputs = 1 if loss == "binary_cross_entropy" else 3
    plan = plan_of(op_spec("relu", outputs, f"loss: {loss}\n"))
    params = random_params(plan, np.float32)
    model = export_onnx(plan.graph, params.state_dict(), probabilities=True)
    assert [o.name for o in model.graph.output] == ["scores", "probabilities", "label"]
    assert next(n for n in model.graph.node if n.output[0] == "probabilities").op_type == op
    x = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    scores, probabilities, label = onnx_run.session(model).run(None, {"input": x})
    np.testing.assert_array_equal(label, LOSSES[loss].classify(scores))  # the class, by index
    expected = (np.exp(scores) / np.exp(scores).sum(1, keepdims=True) if outputs > 1
                else 1 / (1 + np.exp(-scores)))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["multiclass_hinge", "mse"])
def test_probabilities_refused_for_other_losses(loss: str) -> None:
    """The spec refuses them, with the place of the option (checked once, not again here)."""
    text = op_spec("relu", 3, f"loss: {loss}\nexport: {{onnx: {{probabilities: true}}}}\n")
    with pytest.raises(SpecError, match="probabilities needs a loss that gives probabilities"):
        load_spec_text(text)


def test_names_follow_the_spec_and_training_only_ops_vanish() -> None:
    text = (MODELS / "dag.yaml").read_text().replace(
        "input: fc1, activation: relu}", "input: drop, activation: relu}").replace(
        "    - {name: skip,", "    - {name: drop, op: dropout, input: fc1}\n    - {name: skip,")
    plan = plan_of(text)
    model = export_onnx(plan.graph, random_params(plan, np.float32).state_dict())
    names = {n.name for n in model.graph.node}
    assert {"fc1", "fc2", "skip", "wide", "both", "scores"} <= names
    assert "drop" not in names and not any(n.op_type == "Dropout" for n in model.graph.node)
    assert {i.name for i in model.graph.initializer} == {p.name for p in plan.graph.params}
    assert [i.name for i in model.graph.input] == ["input"]
    props = {p.key: p.value for p in model.metadata_props}
    assert props["spec_name"] == "dag" and int(props["param_count"]) == plan.graph.param_count
    assert load_spec_text(props["spec"], fmt="json").spec.name == "dag"
