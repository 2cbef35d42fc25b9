"""The typed DAG IR every later stage reads: nodes in topological order, with shapes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from nnc.spec import OpSpec, Spec

Shape = tuple[int, ...]


@dataclass(frozen=True)
class InitRule:
    """How a parameter starts: ``normal`` (with ``std``: He, Xavier or explicit) or ``constant``."""

    kind: str  # "normal" | "constant"
    scale: float = 0.0  # the std of a normal draw, or the constant
    source: str = ""  # what chose it: "he", "xavier", "normal(0.01)", "zeros", ...

    def __str__(self) -> str:
        return self.source or f"{self.kind}({self.scale:g})"


ZEROS = InitRule("constant", 0.0, "zeros")


@dataclass(frozen=True)
class Param:
    """A learnable tensor ``<node>.<role>``, role one of weight, bias, slope."""

    name: str
    role: str
    shape: Shape
    init: InitRule

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Node:
    """One op applied to named inputs; ``shape`` is its output's per-sample shape.

    ``activation`` is an element-wise activation fused into the node's output (a dense
    layer's ``activation:`` shorthand, or one the runtime plan fused).
    """

    name: str
    op: str
    attrs: OpSpec
    inputs: tuple[str, ...]
    shape: Shape
    params: tuple[Param, ...] = ()
    origin: tuple[Any, ...] = ()  # the spec path it came from, e.g. ("layers", 2)
    activation: OpSpec | None = None


@dataclass(frozen=True)
class Graph:
    """A network: one input, nodes in topological order, one output node."""

    name: str
    input_name: str
    input_shape: Shape
    nodes: tuple[Node, ...]
    output: str
    spec: Spec = field(repr=False, compare=False)

    @cached_property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def shape_of(self, value: str) -> Shape:
        """The per-sample shape of the graph input or of a node's output."""
        return self.input_shape if value == self.input_name else self.by_name[value].shape

    @cached_property
    def consumers(self) -> dict[str, tuple[str, ...]]:
        """For each value (input or node), the nodes reading it, in order."""
        out: dict[str, list[str]] = {self.input_name: [], **{n.name: [] for n in self.nodes}}
        for node in self.nodes:
            for name in node.inputs:
                out[name].append(node.name)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def needs_grad(self) -> frozenset[str]:
        """Values whose gradient backprop must compute: those with parameters upstream."""
        out: set[str] = set()
        for node in self.nodes:
            if node.params or any(i in out for i in node.inputs):
                out.add(node.name)
        return frozenset(out)

    @property
    def params(self) -> tuple[Param, ...]:
        return tuple(p for n in self.nodes for p in n.params)

    @property
    def output_shape(self) -> Shape:
        return self.shape_of(self.output)

    @property
    def param_count(self) -> int:
        return sum(p.size for p in self.params)
