"""Element-wise activations without parameters: sigmoid, tanh, relu, leaky_relu."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from nnc.compiler.ir import Node, Shape
from nnc.compiler.ops.base import FLOAT_BYTES, OpRule
from nnc.spec import OpSpec
from nnc.spec.ops import LeakyRelu, Relu, Sigmoid, Tanh

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


def activation_mask_bytes(activation: OpSpec | None, units: int) -> int:
    """Bytes per sample an activation keeps besides its output (see ``mask_bytes``)."""
    return ACTIVATION_RULES[activation.op].mask_bytes * units if activation is not None else 0


class ActivationRule(OpRule):
    """An element-wise activation: one ONNX op of the same meaning."""

    onnx_op: ClassVar[str]
    mask_bytes: ClassVar[int] = 0  # kept per unit besides the output; most derive f' from it

    def onnx_attributes(self, attrs: OpSpec) -> dict[str, Any]:
        return {}

    def emit(self, attrs: OpSpec, x: str, out: str, name: str, b: "OnnxBuilder") -> None:
        """The ONNX node computing this activation of ``x`` into ``out``."""
        b.node(self.onnx_op, [x], [out], name, **self.onnx_attributes(attrs))

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        out = b.value(node)
        self.emit(node.attrs, inputs[0], out, node.name, b)
        return out


class SigmoidRule(ActivationRule):
    tag = "sigmoid"
    spec = Sigmoid
    onnx_op = "Sigmoid"
    init_before = "xavier"


class TanhRule(ActivationRule):
    tag = "tanh"
    spec = Tanh
    onnx_op = "Tanh"
    init_before = "xavier"


class ReluRule(ActivationRule):
    tag = "relu"
    spec = Relu
    onnx_op = "Relu"
    init_before = "he"


class LeakyReluRule(ActivationRule):
    tag = "leaky_relu"
    spec = LeakyRelu
    onnx_op = "LeakyRelu"
    init_before = "he"
    mask_bytes = 1  # the sign of the input: the output alone cannot tell it when alpha is 0

    def onnx_attributes(self, attrs: OpSpec) -> dict[str, Any]:
        return {"alpha": float(attrs.alpha)}

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        n = math.prod(node.shape)
        return FLOAT_BYTES * (n + (n if needs_dx[0] else 0)) + activation_mask_bytes(node.attrs, n)


ACTIVATION_RULES: dict[str, ActivationRule] = {
    r.tag: r for r in (SigmoidRule(), TanhRule(), ReluRule(), LeakyReluRule())}
"""The activations a dense layer can fuse (its ``activation:`` shorthand)."""
