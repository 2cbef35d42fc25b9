"""prelu: leaky ReLU with a learned slope, one per unit ([units]) or shared ([1])."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from nnc.compiler.ir import InitRule, Node, Shape
from nnc.compiler.ops.base import FLOAT_BYTES, OpRule
from nnc.spec.ops import Prelu

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder

SLOPE_INIT = InitRule("constant", 0.25, "constant(0.25)")  # as in He et al. 2015 and PyTorch


class PreluRule(OpRule):
    tag = "prelu"
    spec = Prelu
    init_before = "he"

    def params(self, attrs: Prelu, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        return [("slope", (1,) if attrs.shared else out, SLOPE_INIT)]

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        n = math.prod(node.shape)  # output, dx (also the slope gradient's scratch), a mask
        return FLOAT_BYTES * 2 * n + n

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        out = b.value(node)  # the slope [units] or [1] broadcasts over the batch
        b.node("PRelu", [inputs[0], b.param(f"{node.name}.slope")], [out], node.name)
        return out
