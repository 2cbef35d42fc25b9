"""What every op rule provides, and the helpers they share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from nnc.base.buffers import Buffer
from nnc.compiler.ir import InitRule, Node, Shape
from nnc.spec import OpSpec

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder


class ShapeError(Exception):
    """A shape rule failed; the compiler adds the node's name and place in the spec."""


class OpRule:
    """The static meaning of one op: shape rule, parameters, size, cost, buffers, ONNX.

    Methods take the node (its attrs are the op's spec model) and the per-sample
    shapes of its inputs. The compiler finds a rule in ``nnc.compiler.ops.OP_RULES``
    under the op's tag in the spec's registry, ``OP_SPECS``.
    """

    training_only: ClassVar[bool] = False  # vanishes from inference graphs
    init_before: str | None = None  # how to initialize a layer whose output it reads
    own_init: ClassVar[str | None] = None  # its own weights' default init (else: by what follows)
    fuses_activation: ClassVar[bool] = False  # a following activation can run in its kernel

    def infer(self, attrs: OpSpec, inputs: Sequence[tuple[str, Shape]]) -> Shape:
        """The output shape, from the (name, shape) of each input; raises ShapeError."""
        return vector_input(inputs)

    def params(self, attrs: OpSpec, in_shapes: Sequence[Shape], out: Shape,
               init_choice: tuple[str, float | None]) -> list[tuple[str, Shape, InitRule]]:
        """(role, shape, init) of each parameter; ``init_choice`` is (he|xavier|normal, std)."""
        return []

    def neurons(self, node: Node) -> int:
        """Units that compute a weighted sum (dense and maxout units)."""
        return 0

    def macs(self, node: Node, in_shapes: Sequence[Shape]) -> int:
        """Multiply-adds per sample."""
        return 0

    def buffers(self, node: Node, in_shapes: Sequence[Shape],
                needs_dx: Sequence[bool]) -> list[Buffer]:
        """The per-sample buffers its kernel works in, declared once: the kernel gets
        exactly these (by name) and the sizing report counts them. Default: the output,
        and the input's gradient when backprop needs it."""
        return [Buffer("out", node.shape), *input_gradient(node.shape, needs_dx)]

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        """Emit the ONNX nodes computing ``node`` from the values ``inputs``; return the name
        of the value holding its output (``b.value(node)`` unless the op vanishes)."""
        raise NotImplementedError(f"{node.op} has no ONNX lowering")


def input_gradient(shape: Shape, needs_dx: Sequence[bool]) -> list[Buffer]:
    """The buffer of the (first) input's gradient, when backprop needs it."""
    return [Buffer("dx", shape, training=True)] if needs_dx[0] else []


def vector_input(inputs: Sequence[tuple[str, Shape]]) -> Shape:
    """The shape of a single rank-1 input (every v1 op works on feature vectors)."""
    (name, shape), = inputs
    if len(shape) != 1:
        raise ShapeError(f"expects a feature vector, but {name} has shape {list(shape)}; "
                         "v1 ops work on flat features (write `input: "
                         f"[{math.prod(shape)}]`)")
    return shape


def weight_init(choice: tuple[str, float | None], fan_in: int, fan_out: int) -> InitRule:
    """He (std sqrt(2/fan_in)), Xavier (sqrt(2/(fan_in+fan_out))) or an explicit normal std."""
    kind, std = choice
    if kind == "he":
        return InitRule("normal", math.sqrt(2.0 / fan_in), "he")
    if kind == "xavier":
        return InitRule("normal", math.sqrt(2.0 / (fan_in + fan_out)), "xavier")
    std = cast(float, std)  # normal(STD) always comes with its std
    return InitRule("normal", float(std), f"normal({std:g})")
