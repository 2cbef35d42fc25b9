"""maxout: max over pieces of affine maps; W is [pieces, units, in], b is [pieces, units]."""

from __future__ import annotations

from typing import Sequence

from nnc.compiler.ir import ZEROS, InitRule, Node, Shape
from nnc.compiler.ops.base import FLOAT_BYTES, OpRule, weight_init
from nnc.spec.ops import Maxout


class MaxoutRule(OpRule):
    tag = "maxout"
    spec = Maxout

    def infer(self, attrs: Maxout, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        super().infer(attrs, inputs)
        return (attrs.units,)

    def params(self, attrs: Maxout, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        (fan_in,), k, units = in_shapes[0], attrs.pieces, attrs.units
        params = [("weight", (k, units, fan_in), weight_init(init_choice, fan_in, units))]
        if attrs.bias:
            params.append(("bias", (k, units), ZEROS))
        return params

    def neurons(self, node: Node) -> int:
        return node.attrs.units

    def macs(self, node: Node, in_shapes: Sequence[Shape]) -> int:
        return node.attrs.pieces * node.attrs.units * in_shapes[0][0]

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        # pieces z and their gradient (floats), the winner mask (bytes), output, the
        # winning index (int64) and dx
        k, units, fan_in = node.attrs.pieces, node.attrs.units, in_shapes[0][0]
        return (FLOAT_BYTES * (2 * k * units + units + (fan_in if needs_dx[0] else 0))
                + k * units + 8 * units)
