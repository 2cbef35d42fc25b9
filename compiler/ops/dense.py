"""dense: s = Wx + b, W of shape [units, in] (as ONNX Gemm with transB=1, and PyTorch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from nnc.base.activations import ACTIVATIONS
from nnc.base.buffers import Buffer
from nnc.compiler.ir import ZEROS, InitRule, Node, Shape
from nnc.compiler.ops.activations import kept_buffers
from nnc.compiler.ops.base import OpRule, input_gradient, weight_init
from nnc.spec.ops import Dense, OpSpec

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


class DenseRule(OpRule):
    fuses_activation = True

    def infer(self, attrs: OpSpec, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        super().infer(attrs, inputs)
        return (cast(Dense, attrs).units,)

    def params(self, attrs: OpSpec, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        dense = cast(Dense, attrs)
        (fan_in,), units = in_shapes[0], dense.units
        params: list[tuple[str, Shape, InitRule]] = [
            ("weight", (units, fan_in), weight_init(init_choice, fan_in, units))]
        if dense.bias:
            params.append(("bias", (units,), ZEROS))
        return params

    def neurons(self, node: Node) -> int:
        return cast(Dense, node.attrs).units

    def macs(self, node: Node, in_shapes: Sequence[Shape]) -> int:
        return cast(Dense, node.attrs).units * in_shapes[0][0]

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        # the output, what a fused activation keeps and the pre-activation gradient; dx
        fused = node.activation is not None
        return [Buffer("out", node.shape), *kept_buffers(node.activation, node.shape),
                *([Buffer("dz", node.shape, training=True)] if fused else []),
                *input_gradient(in_shapes[0], needs_dx)]

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        # Gemm computes x W^T + b with transB=1: the weight stays [out, in], as in PyTorch
        operands = [inputs[0], b.param(f"{node.name}.weight")]
        if cast(Dense, node.attrs).bias:
            operands.append(b.param(f"{node.name}.bias"))
        out = b.value(node)
        if node.activation is None:
            b.node("Gemm", operands, [out], node.name, transB=1)
            return out
        linear = b.unique(f"{node.name}_linear")
        b.node("Gemm", operands, [linear], node.name, transB=1)
        ACTIVATIONS[node.activation.op].onnx(node.activation, b, linear, out,
                                             f"{node.name}_{node.activation.op}")
        return out
