"""Graph -> the plan the NumPy runtime executes: steps, fusions, buffers and the flat
parameter layout.

Parameters live in one flat buffer (and so do their gradients and the optimizer's
state), weights first, so L2 and the optimizer update are single vector operations.
Every buffer the runtime allocates is declared here (by the op rules, the loss table
and the optimizer's declaration) and counted by the sizing report.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property

from nnc.base.buffers import Buffer
from nnc.compiler.ir import Graph, Node, Param
from nnc.compiler.ops import OP_RULES
from nnc.compiler.ops.activations import ACTIVATION_RULES


@dataclass(frozen=True)
class Span:
    """Where a parameter lives in the flat buffer: ``[offset, stop)``."""

    param: Param
    offset: int

    @property
    def stop(self) -> int:
        return self.offset + self.param.size


@dataclass(frozen=True)
class Step:
    """One kernel call: ``node`` reads ``inputs`` and writes the value ``output``, in the
    per-sample ``buffers`` its rule declares."""

    node: Node
    inputs: tuple[str, ...]
    output: str
    needs_dx: tuple[bool, ...]  # whether backprop needs the gradient of each input
    buffers: tuple[Buffer, ...] = ()


@dataclass(frozen=True)
class Plan:
    graph: Graph
    steps: tuple[Step, ...]
    spans: tuple[Span, ...]
    n_weights: int  # the flat buffer's first n_weights floats are the weights (for L2)

    @property
    def n_params(self) -> int:
        return self.spans[-1].stop if self.spans else 0

    @property
    def output(self) -> str:
        return self.steps[-1].output

    @cached_property
    def accumulated(self) -> frozenset[str]:
        """Values read by several steps whose gradients must be summed in a buffer."""
        readers: dict[str, int] = {}
        for step in self.steps:
            for name, needed in zip(step.inputs, step.needs_dx):
                if needed:
                    readers[name] = readers.get(name, 0) + 1
        return frozenset(name for name, count in readers.items() if count > 1)

    @cached_property
    def span(self) -> dict[str, Span]:
        return {s.param.name: s for s in self.spans}

    @cached_property
    def executor_buffers(self) -> tuple[Buffer, ...]:
        """The executor's own per-sample buffers: the input batch; for training a vector of
        ones (gradients summed over the batch as GEMVs) and a sum per value read by
        several steps."""
        graph = self.graph
        return (Buffer("input", (math.prod(graph.input_shape),)),
                Buffer("ones", (), training=True),
                *(Buffer(f"sum:{name}", graph.shape_of(name), training=True)
                  for name in sorted(self.accumulated)))


def lower_to_plan(graph: Graph, fuse: bool = True) -> Plan:
    """Fuse each layer that can (dense) with the activation that alone reads it, declare
    each step's buffers, and lay out the parameters."""
    steps = []
    fused_into: dict[str, Node] = {}  # activation name -> the dense node computing it
    if fuse:
        for node in graph.nodes:
            readers = graph.consumers[node.name]
            if (OP_RULES[node.op].fuses_activation and node.activation is None
                    and node.name != graph.output and len(readers) == 1
                    and graph.by_name[readers[0]].op in ACTIVATION_RULES):
                act = graph.by_name[readers[0]]
                fused_into[act.name] = dataclasses.replace(node, activation=act.attrs)
    skipped = {n.name for n in fused_into.values()}
    renamed = {dense.name: act for act, dense in fused_into.items()}
    for original in graph.nodes:
        if original.name in skipped:
            continue
        node = fused_into.get(original.name, original)
        output = renamed.get(node.name, node.name)
        inputs = node.inputs
        needs_dx = tuple(i in graph.needs_grad for i in inputs)
        buffers = OP_RULES[node.op].buffers(node, [graph.shape_of(i) for i in inputs], needs_dx)
        steps.append(Step(node, inputs, output, needs_dx, tuple(buffers)))
    return Plan(graph, tuple(steps), *_layout(graph))


def _layout(graph: Graph) -> tuple[tuple[Span, ...], int]:
    params = graph.params
    ordered = [p for p in params if p.role == "weight"] + [p for p in params if p.role != "weight"]
    spans, offset = [], 0
    for p in ordered:
        spans.append(Span(p, offset))
        offset += p.size
    return tuple(spans), sum(p.size for p in params if p.role == "weight")
