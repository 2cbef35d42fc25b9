"""prelu: leaky ReLU with a learned slope, one per unit ([units]) or shared ([1])."""

from __future__ import annotations

from typing import Sequence

from nnc.compiler.ir import InitRule, Shape
from nnc.compiler.ops.base import OpRule
from nnc.spec.ops import Prelu

SLOPE_INIT = InitRule("constant", 0.25, "constant(0.25)")  # as in He et al. 2015 and PyTorch


class PreluRule(OpRule):
    tag = "prelu"
    spec = Prelu

    def params(self, attrs: Prelu, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        return [("slope", (1,) if attrs.shared else out, SLOPE_INIT)]
