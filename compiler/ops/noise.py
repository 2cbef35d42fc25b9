"""Regularizers that act only in training and vanish from exported graphs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from nnc.compiler.ir import Node, Shape
from nnc.compiler.ops.base import FLOAT_BYTES, OpRule
from nnc.spec.ops import Dropout, GaussianNoise

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


class TrainingOnlyRule(OpRule):
    """Identity at inference: nothing is exported, readers read the input."""

    training_only = True

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        return inputs[0]


class DropoutRule(TrainingOnlyRule):
    tag = "dropout"
    spec = Dropout

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        n = math.prod(node.shape)  # output, the scaled keep-mask, dx
        return FLOAT_BYTES * (2 * n + (n if needs_dx[0] else 0))


class GaussianNoiseRule(TrainingOnlyRule):
    tag = "gaussian_noise"
    spec = GaussianNoise

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        return FLOAT_BYTES * math.prod(node.shape)  # the output; its gradient passes through
