"""dense: s = Wx + b, W of shape [units, in] (as ONNX Gemm with transB=1, and PyTorch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from nnc.compiler.ir import ZEROS, InitRule, Node, Shape
from nnc.compiler.ops.activations import ACTIVATION_RULES, activation_mask_bytes
from nnc.compiler.ops.base import FLOAT_BYTES, OpRule, weight_init
from nnc.spec.ops import Dense

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


class DenseRule(OpRule):
    tag = "dense"
    spec = Dense
    fuses_activation = True

    def infer(self, attrs: Dense, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        super().infer(attrs, inputs)
        return (attrs.units,)

    def params(self, attrs: Dense, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        (fan_in,), units = in_shapes[0], attrs.units
        params = [("weight", (units, fan_in), weight_init(init_choice, fan_in, units))]
        if attrs.bias:
            params.append(("bias", (units,), ZEROS))
        return params

    def neurons(self, node: Node) -> int:
        return node.attrs.units

    def macs(self, node: Node, in_shapes: Sequence[Shape]) -> int:
        return node.attrs.units * in_shapes[0][0]

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        # output; the pre-activation gradient when an activation is fused; dx
        units, fan_in = node.attrs.units, in_shapes[0][0]
        dz = units if node.activation is not None else 0
        return (FLOAT_BYTES * (units + dz + (fan_in if needs_dx[0] else 0))
                + activation_mask_bytes(node.activation, units))

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        # Gemm computes x W^T + b with transB=1: the weight stays [out, in], as in PyTorch
        operands = [inputs[0], b.param(f"{node.name}.weight")]
        if node.attrs.bias:
            operands.append(b.param(f"{node.name}.bias"))
        out = b.value(node)
        if node.activation is None:
            b.node("Gemm", operands, [out], node.name, transB=1)
            return out
        linear = b.unique(f"{node.name}_linear")
        b.node("Gemm", operands, [linear], node.name, transB=1)
        ACTIVATION_RULES[node.activation.op].emit(node.activation, linear, out,
                                                  f"{node.name}_{node.activation.op}", b)
        return out
