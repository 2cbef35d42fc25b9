"""The compiler rule of every element-wise activation, made from its entry in ``ACTIVATIONS``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnc.base.activations import ACTIVATIONS, Activation
from nnc.base.buffers import Buffer
from nnc.compiler.ir import Node, Shape
from nnc.compiler.ops.base import OpRule, input_gradient
from nnc.spec import OpSpec

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


def kept_buffers(activation: OpSpec | None, shape: Shape) -> list[Buffer]:
    """What an activation's forward keeps for its backward, per unit (none for most:
    their derivative comes from the output)."""
    if activation is None:
        return []
    return [Buffer(name, shape, dtype) for name, dtype in ACTIVATIONS[activation.op].keeps]


class ActivationRule(OpRule):
    """An element-wise activation: the shape of its input, no parameters."""

    def __init__(self, activation: Activation):
        self.init_before = activation.init

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        return [Buffer("out", node.shape), *kept_buffers(node.attrs, node.shape),
                *input_gradient(node.shape, needs_dx)]

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        out = b.value(node)
        ACTIVATIONS[node.op].onnx(node.attrs, b, inputs[0], out, node.name)
        return out


ACTIVATION_RULES: dict[str, ActivationRule] = {
    tag: ActivationRule(activation) for tag, activation in ACTIVATIONS.items()}
