"""Graph + weights -> an ONNX model, each op lowered by its rule in ``OP_RULES``.

The model takes one input, ``input`` [batch, *features] (raw features: the data's
preprocessing, if any, is its first two nodes; for a CSV table, the table's columns as
they are: numbers with NaN for empty cells, or the cells as strings when a column holds
categories, filled and one-hot encoded in the graph), and gives ``scores`` [batch,
outputs] (regression targets in their units), ``probabilities`` when the loss has them,
and for classification ``label`` [batch], the predicted class (its name when the classes
have names). Node and initializer names are the spec's names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nnc.base.coding import (
    INPUT,
    LABEL,
    MISSING,
    NO_CODING,
    PROBABILITIES,
    SCORES,
    Coding,
    Column,
)
from nnc.base.errors import ExportError
from nnc.base.losses import LOSSES
from nnc.base.version import __version__
from nnc.compiler.ir import Graph, Node
from nnc.compiler.ops import OP_RULES

MIN_OPSET = 13
ML_DOMAIN, ML_OPSET = "ai.onnx.ml", 2  # LabelEncoder from strings to integers


class OnnxBuilder:
    """Collects nodes and initializers; hands out unique value names."""

    def __init__(self, opset: int, weights: Mapping[str, np.ndarray]):
        self.opset, self.weights = opset, weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.taken = {INPUT, SCORES, PROBABILITIES, LABEL}
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

    def array(self, base: str, values: np.ndarray) -> str:
        """An initializer of ``values`` under a fresh name."""
        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(values, name))
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
                metadata: Mapping[str, Any] | None = None, intermediates: bool = False,
                coding: Coding = NO_CODING) -> onnx.ModelProto:
    """The ONNX model of ``graph`` with ``weights`` (name -> array).

    ``preprocess`` is (shift, scale): the model computes (input - shift) * scale first.
    ``probabilities``: add that output if the loss gives probabilities.
    ``coding``: a table's columns (filled, one-hot encoded), the targets' standardization
    (undone), the class names (``label``), and the names kept in the metadata.
    ``intermediates`` also makes every node's value a graph output (to locate disagreements).
    """
    if opset < MIN_OPSET:
        raise ExportError(f"opset {opset} is too old; nnc exports opset {MIN_OPSET} or newer")
    loss = graph.spec.loss
    probability = LOSSES[loss].probability if probabilities and loss else None
    b = OnnxBuilder(opset, weights)
    features = _table_features(b, coding) if coding.columns is not None else INPUT
    values = {graph.input_name: _preprocessed_input(b, graph, preprocess, features)}
    for node in graph.nodes:
        values[node.name] = OP_RULES[node.op].lower(node, [values[i] for i in node.inputs], b)
    _scores(b, values[graph.output], coding)
    n_out = graph.output_shape[0]
    outputs = [helper.make_tensor_value_info(SCORES, TensorProto.FLOAT, ["batch", n_out])]
    if probability is not None:
        attributes = {"axis": 1} if probability == "Softmax" else {}
        b.node(probability, [SCORES], [PROBABILITIES], PROBABILITIES, **attributes)
        outputs.append(helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT,
                                                     ["batch", n_out]))
    if loss and LOSSES[loss].classification:
        outputs.append(_label(b, LOSSES[loss].labels == "binary", coding.class_names))
    if intermediates:
        outputs += [helper.make_tensor_value_info(v, TensorProto.FLOAT, None)
                    for name, v in b.values.items()]
    if coding.columns is not None:
        kind = TensorProto.STRING if coding.text_input else TensorProto.FLOAT
        inputs = [helper.make_tensor_value_info(INPUT, kind, ["batch", len(coding.columns)])]
    else:
        inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT,
                                                ["batch", *graph.input_shape])]
    onnx_graph = helper.make_graph(b.nodes, graph.name, inputs, outputs, b.initializers)
    opsets = [helper.make_opsetid("", opset)]
    if coding.text_input:
        opsets.append(helper.make_opsetid(ML_DOMAIN, ML_OPSET))
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="nnc",
                              producer_version=__version__,
                              doc_string=graph.spec.description or graph.name)
    model.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(model, _metadata(graph, metadata or {}, coding))
    return model


def _table_features(b: OnnxBuilder, coding: Coding) -> str:
    """A table's cells -> the network's features: a number column's empty cells (NaN, or
    "" in a table of strings) get its training mean; a category column becomes one 0/1
    feature per training category (an unseen one: all zeros)."""
    columns: tuple[Column, ...] = coding.columns or ()
    if not coding.text_input:
        fill = b.array("table.fill", np.asarray([c.fill for c in columns], np.float32))
        missing, filled = b.unique("input_missing"), b.unique("input_filled")
        b.node("IsNaN", [INPUT], [missing], "table_missing")
        b.node("Where", [missing, fill, INPUT], [filled], "table_fill")
        return filled
    empty, is_empty, text = b.unique("cells_empty"), b.unique("cells_is_empty"), \
        b.unique("cells_filled")
    b.node("LabelEncoder", [INPUT], [empty], "table_empty", domain=ML_DOMAIN,
           keys_strings=[MISSING], values_int64s=[1], default_int64=0)
    b.node("Cast", [empty], [is_empty], "table_is_empty", to=TensorProto.BOOL)
    nan = b.array("table.nan", np.asarray(["NaN"], dtype=object))
    b.node("Where", [is_empty, nan, INPUT], [text], "table_nan")  # "" -> NaN, then a float
    parts = []
    for j, column in enumerate(columns):
        if column.width == 0:
            continue
        at = b.constant(b.unique(f"table.{j}.index"), [j])
        cell = b.unique(f"column_{j}")
        name = f"column_{j}"
        if column.kind == "number":
            b.node("Gather", [text, at], [cell], f"{name}_take", axis=1)
            number, missing, filled = (b.unique(f"{name}_{s}") for s in ("number", "missing",
                                                                         "filled"))
            b.node("Cast", [cell], [number], f"{name}_parse", to=TensorProto.FLOAT)
            b.node("IsNaN", [number], [missing], f"{name}_missing")
            fill = b.array(f"table.{j}.fill", np.asarray([column.fill], np.float32))
            b.node("Where", [missing, fill, number], [filled], f"{name}_fill")
            parts.append(filled)
        else:
            b.node("Gather", [INPUT, at], [cell], f"{name}_take", axis=1)
            index, hot, onehot = (b.unique(f"{name}_{s}") for s in ("index", "hot", "onehot"))
            b.node("LabelEncoder", [cell], [index], f"{name}_index", domain=ML_DOMAIN,
                   keys_strings=list(column.categories),
                   values_int64s=list(range(column.width)), default_int64=-1)
            every = b.constant(b.unique(f"table.{j}.categories"), list(range(column.width)))
            b.node("Equal", [index, every], [hot], f"{name}_compare")
            b.node("Cast", [hot], [onehot], f"{name}_onehot", to=TensorProto.FLOAT)
            parts.append(onehot)
    features = b.unique("table_features")
    b.node("Concat", parts, [features], "table_features", axis=1)
    return features


def _scores(b: OnnxBuilder, output: str, coding: Coding) -> None:
    """``scores``: the network's output, regression targets put back in their units."""
    if coding.target_scale is None or coding.target_shift is None:
        b.node("Identity", [output], [SCORES], SCORES)
        return
    scale = b.array("target.scale", np.asarray(coding.target_scale, np.float32))
    shift = b.array("target.shift", np.asarray(coding.target_shift, np.float32))
    scaled = b.unique("scores_scaled")
    b.node("Mul", [output, scale], [scaled], "target_scale")
    b.node("Add", [scaled, shift], [SCORES], "target_shift")


def _label(b: OnnxBuilder, binary: bool, names: tuple[str, ...] | None) -> onnx.ValueInfoProto:
    """``label`` [batch]: the class the loss predicts (argmax, or logit > 0), by name when
    the classes have names."""
    index = b.unique("label_index")
    if binary:
        positive, flat = b.unique("label_positive"), b.unique("label_positive_flat")
        b.node("Greater", [SCORES, b.array("label.zero", np.zeros(1, np.float32))],
               [positive], "label_positive")
        b.node("Reshape", [positive, b.constant(b.unique("label.shape"), [-1])], [flat],
               "label_flatten")
        b.node("Cast", [flat], [index], "label_index", to=TensorProto.INT64)
    else:
        b.node("ArgMax", [SCORES], [index], "label_argmax", axis=1, keepdims=0)
    if names is None:
        b.node("Identity", [index], [LABEL], LABEL)
        return helper.make_tensor_value_info(LABEL, TensorProto.INT64, ["batch"])
    table = b.array("label.names", np.asarray(names, dtype=object))
    b.node("Gather", [table, index], [LABEL], LABEL, axis=0)
    return helper.make_tensor_value_info(LABEL, TensorProto.STRING, ["batch"])


def _preprocessed_input(b: OnnxBuilder, graph: Graph,
                        preprocess: tuple[np.ndarray, np.ndarray] | None,
                        features: str = INPUT) -> str:
    if preprocess is None:
        return features
    shift, scale = (np.asarray(a, dtype=np.float32) for a in preprocess)
    b.add_initializer("preprocess.shift", shift.reshape(graph.input_shape))
    b.add_initializer("preprocess.scale", scale.reshape(graph.input_shape))
    centered, scaled = b.unique("input_centered"), b.unique("input_scaled")
    b.node("Sub", [features, "preprocess.shift"], [centered], "preprocess_shift")
    b.node("Mul", [centered, "preprocess.scale"], [scaled], "preprocess_scale")
    return scaled


def _metadata(graph: Graph, extra: Mapping[str, Any], coding: Coding) -> dict[str, str]:
    props = {"nnc_version": __version__, "spec_name": graph.name,
             "param_count": str(graph.param_count), "loss": graph.spec.loss or "",
             "spec": json.dumps(graph.spec.model_dump(mode="json", exclude_none=True),
                                sort_keys=True)}
    if not coding.empty:  # "coding" is what `nnc predict` reads; the names are for people
        props["coding"] = coding.to_json()
        for key in ("feature_names", "class_names"):
            if key in coding.to_dict():
                props[key] = json.dumps(coding.to_dict()[key])
    props.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
    return props
