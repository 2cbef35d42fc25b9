"""prelu: leaky ReLU with a learned slope, one per unit ([units]) or shared ([1])."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from nnc.base.buffers import Buffer
from nnc.compiler.ir import InitRule, Node, Shape
from nnc.compiler.ops.base import OpRule
from nnc.spec.ops import OpSpec, Prelu

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder

SLOPE_INIT = InitRule("constant", 0.25, "constant(0.25)")  # as in He et al. 2015 and PyTorch


class PreluRule(OpRule):
    init_before = "he"

    def params(self, attrs: OpSpec, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        return [("slope", (1,) if cast(Prelu, attrs).shared else out, SLOPE_INIT)]

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        # the sign of the input, the output; dx, also the scratch of the slope's gradient
        return [Buffer("negative", node.shape, "bool"), Buffer("out", node.shape),
                Buffer("dx", node.shape, training=True)]

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        out = b.value(node)  # the slope [units] or [1] broadcasts over the batch
        b.node("PRelu", [inputs[0], b.param(f"{node.name}.slope")], [out], node.name)
        return out
