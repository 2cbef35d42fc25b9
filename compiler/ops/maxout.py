"""maxout: max over pieces of affine maps; W is [pieces, units, in], b is [pieces, units]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from nnc.base.buffers import Buffer
from nnc.compiler.ir import ZEROS, InitRule, Node, Shape
from nnc.compiler.ops.base import OpRule, input_gradient, weight_init
from nnc.spec.ops import Maxout, OpSpec

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


class MaxoutRule(OpRule):
    init_before = "he"
    own_init = "he"  # a max of linear pieces behaves like the ReLU family

    def infer(self, attrs: OpSpec, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        super().infer(attrs, inputs)
        return (cast(Maxout, attrs).units,)

    def params(self, attrs: OpSpec, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        maxout = cast(Maxout, attrs)
        (fan_in,), k, units = in_shapes[0], maxout.pieces, maxout.units
        params: list[tuple[str, Shape, InitRule]] = [
            ("weight", (k, units, fan_in), weight_init(init_choice, fan_in, units))]
        if maxout.bias:
            params.append(("bias", (k, units), ZEROS))
        return params

    def neurons(self, node: Node) -> int:
        return cast(Maxout, node.attrs).units

    def macs(self, node: Node, in_shapes: Sequence[Shape]) -> int:
        maxout = cast(Maxout, node.attrs)
        return maxout.pieces * maxout.units * in_shapes[0][0]

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        # the pieces z, the output; for backprop the winning piece, its mask over the
        # pieces, the gradient of z, and dx
        maxout = cast(Maxout, node.attrs)
        pieces = (maxout.pieces, maxout.units)
        return [Buffer("z", pieces), Buffer("out", node.shape),
                Buffer("winner", node.shape, "int64", training=True),
                Buffer("won", pieces, "bool", training=True),
                Buffer("dz", pieces, training=True), *input_gradient(in_shapes[0], needs_dx)]

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        # one Gemm to [n, pieces * units], a Reshape to [n, pieces, units], a max over pieces
        maxout = cast(Maxout, node.attrs)
        k, units = maxout.pieces, maxout.units
        weight = b.param(f"{node.name}.weight", (k * units, -1))
        operands = [inputs[0], weight]
        if maxout.bias:
            operands.append(b.param(f"{node.name}.bias", (k * units,)))
        pieces, grouped = b.unique(f"{node.name}_pieces"), b.unique(f"{node.name}_grouped")
        out = b.value(node)
        b.node("Gemm", operands, [pieces], f"{node.name}_gemm", transB=1)
        shape = b.constant(f"{node.name}.grouped_shape", [-1, k, units])
        b.node("Reshape", [pieces, shape], [grouped], f"{node.name}_reshape")
        b.reduce_max(grouped, out, axis=1, name=node.name)
        return out
