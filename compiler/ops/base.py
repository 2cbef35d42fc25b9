"""What every op rule provides, and the helpers they share."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar, Sequence

from nnc.compiler.ir import InitRule, Node, Shape
from nnc.spec import OpSpec

if TYPE_CHECKING:
    from nnc.compiler.onnx_export import OnnxBuilder

FLOAT_BYTES = 4  # float32, everywhere outside gradient checks


class ShapeError(Exception):
    """A shape rule failed; the compiler adds the node's name and place in the spec."""


class OpRule:
    """The static meaning of one op: shape rule, parameters, size, cost and buffers.

    Methods take the node (its attrs are the op's spec model) and the per-sample
    shapes of its inputs. Subclasses set ``tag`` and ``spec``; the compiler finds them
    in ``nnc.compiler.ops.OP_RULES`` under the same tag as the spec and the runtime.
    """

    tag: ClassVar[str]
    spec: ClassVar[type[OpSpec]]
    training_only: ClassVar[bool] = False  # vanishes from inference graphs
    init_before: ClassVar[str | None] = None  # how to initialize a layer whose output it reads
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

    def train_bytes(self, node: Node, in_shapes: Sequence[Shape], needs_dx: Sequence[bool]) -> int:
        """Bytes per sample the runtime allocates for this node in training (its own output
        included). Default: the output and one input-gradient buffer."""
        n = math.prod(node.shape)
        return FLOAT_BYTES * (n + (n if needs_dx[0] else 0))

    def lower(self, node: Node, inputs: list[str], b: "OnnxBuilder") -> str:
        """Emit the ONNX nodes computing ``node`` from the values ``inputs``; return the name
        of the value holding its output (``b.value(node)`` unless the op vanishes)."""
        raise NotImplementedError(f"{self.tag} has no ONNX lowering")


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
    return InitRule("normal", float(std), f"normal({std:g})")
