"""Graph + weights -> an ONNX model, each op lowered by its rule in ``OP_RULES``.

The model takes one input, ``input`` [batch, *features] (raw features: the data's
preprocessing, if any, is its first two nodes), and gives ``scores`` [batch, outputs]
and, if asked, ``probabilities``. Node and initializer names are the spec's names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnc.base.errors import ExportError
from nnc.base.losses import LOSSES
from nnc.base.version import __version__
from nnc.compiler.ir import Graph, Node
from nnc.compiler.ops import OP_RULES

INPUT, SCORES, PROBABILITIES = "input", "scores", "probabilities"
MIN_OPSET = 13


class OnnxBuilder:
    """Collects nodes and initializers; hands out unique value names."""

    def __init__(self, opset: int, weights: Mapping[str, np.ndarray]):
        self.opset, self.weights = opset, weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.taken = {INPUT, SCORES, PROBABILITIES}
        self.node_names: set[str] = set()
        self.values: dict[str, str] = {}

    def unique(self, base: str) -> str:
        """``base``, or ``base_2``, ... if taken: a fresh value name."""
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def value(self, node: Node) -> str:
        """The ONNX value holding ``node``'s output, named after the node."""
        if node.name not in self.values:
            self.values[node.name] = self.unique(node.name)
        return self.values[node.name]

    def param(self, name: str, shape: tuple[int, ...] | None = None) -> str:
        """An initializer holding the parameter ``name`` (reshaped to ``shape`` if given)."""
        array = np.asarray(self.weights[name], dtype=np.float32)
        self.add_initializer(name, array.reshape(shape) if shape else array)
        return name

    def constant(self, name: str, values: list[int]) -> str:
        """An int64 initializer (a shape, axes)."""
        self.add_initializer(name, np.asarray(values, dtype=np.int64))
        return name

    def add_initializer(self, name: str, array: np.ndarray) -> None:
        self.taken.add(name)
        self.initializers.append(numpy_helper.from_array(array, name))

    def node(self, op_type: str, inputs: list[str], outputs: list[str], name: str,
             **attributes: Any) -> None:
        base, i = name, 1
        while name in self.node_names:
            i += 1
            name = f"{base}_{i}"
        self.node_names.add(name)
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, **attributes))

    def reduce_max(self, x: str, out: str, axis: int, name: str) -> None:
        """ReduceMax over one axis (axes became an input in opset 18)."""
        if self.opset >= 18:
            axes = self.constant(f"{name}.axes", [axis])
            self.node("ReduceMax", [x, axes], [out], name, keepdims=0)
        else:
            self.node("ReduceMax", [x], [out], name, axes=[axis], keepdims=0)


def export_onnx(graph: Graph, weights: Mapping[str, np.ndarray], *, opset: int = 17,
                probabilities: bool = False,
                preprocess: tuple[np.ndarray, np.ndarray] | None = None,
                metadata: Mapping[str, Any] | None = None, intermediates: bool = False
                ) -> onnx.ModelProto:
    """The ONNX model of ``graph`` with ``weights`` (name -> array).

    ``preprocess`` is (shift, scale): the model computes (input - shift) * scale first.
    ``intermediates`` also makes every node's value a graph output (to locate disagreements).
    """
    if opset < MIN_OPSET:
        raise ExportError(f"opset {opset} is too old; nnc exports opset {MIN_OPSET} or newer")
    loss = graph.spec.loss  # the spec checked that a loss with probabilities asks for them
    probability = LOSSES[loss].probability if probabilities and loss else None
    b = OnnxBuilder(opset, weights)
    values = {graph.input_name: _preprocessed_input(b, graph, preprocess)}
    for node in graph.nodes:
        values[node.name] = OP_RULES[node.op].lower(node, [values[i] for i in node.inputs], b)
    b.node("Identity", [values[graph.output]], [SCORES], SCORES)
    n_out = graph.output_shape[0]
    outputs = [helper.make_tensor_value_info(SCORES, TensorProto.FLOAT, ["batch", n_out])]
    if probability is not None:
        attributes = {"axis": 1} if probability == "Softmax" else {}
        b.node(probability, [SCORES], [PROBABILITIES], PROBABILITIES, **attributes)
        outputs.append(helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT,
                                                     ["batch", n_out]))
    if intermediates:
        outputs += [helper.make_tensor_value_info(v, TensorProto.FLOAT, None)
                    for name, v in b.values.items()]
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT,
                                            ["batch", *graph.input_shape])]
    onnx_graph = helper.make_graph(b.nodes, graph.name, inputs, outputs, b.initializers)
    opset_id = helper.make_opsetid("", opset)
    model = helper.make_model(onnx_graph, opset_imports=[opset_id], producer_name="nnc",
                              producer_version=__version__,
                              doc_string=graph.spec.description or graph.name)
    model.ir_version = helper.find_min_ir_version_for([opset_id])
    helper.set_model_props(model, _metadata(graph, metadata or {}))
    return model


def _preprocessed_input(b: OnnxBuilder, graph: Graph,
                        preprocess: tuple[np.ndarray, np.ndarray] | None) -> str:
    if preprocess is None:
        return INPUT
    shift, scale = (np.asarray(a, dtype=np.float32) for a in preprocess)
    b.add_initializer("preprocess.shift", shift.reshape(graph.input_shape))
    b.add_initializer("preprocess.scale", scale.reshape(graph.input_shape))
    centered, scaled = b.unique("input_centered"), b.unique("input_scaled")
    b.node("Sub", [INPUT, "preprocess.shift"], [centered], "preprocess_shift")
    b.node("Mul", [centered, "preprocess.scale"], [scaled], "preprocess_scale")
    return scaled


def _metadata(graph: Graph, extra: Mapping[str, Any]) -> dict[str, str]:
    props = {"nnc_version": __version__, "spec_name": graph.name,
             "param_count": str(graph.param_count), "loss": graph.spec.loss or "",
             "spec": json.dumps(graph.spec.model_dump(mode="json", exclude_none=True),
                                sort_keys=True)}
    props.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
    return props
