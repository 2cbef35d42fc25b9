"""Regularizers that act only in training and vanish from exported graphs."""

from __future__ import annotations

import math
from typing import Sequence

from nnc.compiler.ir import Node, Shape
from nnc.compiler.ops.base import FLOAT_BYTES, OpRule
from nnc.spec.ops import Dropout, GaussianNoise


class DropoutRule(OpRule):
    tag = "dropout"
    spec = Dropout
    training_only = True

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        n = math.prod(node.shape)  # output, the scaled keep-mask, dx
        return FLOAT_BYTES * (2 * n + (n if needs_dx[0] else 0))


class GaussianNoiseRule(OpRule):
    tag = "gaussian_noise"
    spec = GaussianNoise
    training_only = True

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        return FLOAT_BYTES * math.prod(node.shape)  # the output; its gradient passes through
