"""Ops that join several nodes: add (same shapes) and concat (along features)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnc.base.buffers import Buffer
from nnc.compiler.ir import Node, Shape
from nnc.compiler.ops.base import OpRule, ShapeError
from nnc.spec.ops import OpSpec

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


def _described(inputs: Sequence[tuple[str, Shape]]) -> str:
    return ", ".join(f"{name} {list(shape)}" for name, shape in inputs)


class AddRule(OpRule):

    def infer(self, attrs: OpSpec, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        if any(len(shape) != 1 for _, shape in inputs):
            raise ShapeError(f"joins feature vectors only; got {_described(inputs)}")
        shapes = {shape for _, shape in inputs}
        if len(shapes) != 1:
            raise ShapeError(f"needs inputs of one shape; got {_described(inputs)}")
        return inputs[0][1]

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        return [Buffer("out", node.shape)]  # each input's gradient is dout itself

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        out = b.value(node)
        b.node("Add" if len(inputs) == 2 else "Sum", inputs, [out], node.name)
        return out


class ConcatRule(OpRule):

    def infer(self, attrs: OpSpec, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        if any(len(shape) != 1 for _, shape in inputs):
            raise ShapeError(f"joins feature vectors only; got {_described(inputs)}")
        return (sum(shape[0] for _, shape in inputs),)

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        return [Buffer("out", node.shape)]  # each input's gradient is a view of dout

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        out = b.value(node)
        b.node("Concat", inputs, [out], node.name, axis=1)
        return out
