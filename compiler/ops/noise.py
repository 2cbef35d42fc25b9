"""Regularizers that act only in training and vanish from exported graphs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnc.base.buffers import Buffer
from nnc.compiler.ir import Node, Shape
from nnc.compiler.ops.base import OpRule, input_gradient

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


class TrainingOnlyRule(OpRule):
    """Identity at inference: nothing is exported, readers read the input."""

    training_only = True

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        return inputs[0]


class DropoutRule(TrainingOnlyRule):
    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        # the output and the scaled keep-mask (inference passes the input on); dx
        return [Buffer("out", node.shape, training=True),
                Buffer("mask", node.shape, training=True), *input_gradient(node.shape, needs_dx)]


class GaussianNoiseRule(TrainingOnlyRule):
    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        return [Buffer("out", node.shape, training=True)]  # its gradient passes through
