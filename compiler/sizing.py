"""The sizing report: neurons, parameters, multiply-adds and memory, from shapes alone."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from nnc.base.buffers import FLOAT_BYTES, Buffer, total_bytes
from nnc.base.errors import CompileError
from nnc.base.losses import LOSSES
from nnc.base.machine import format_bytes
from nnc.compiler.ir import Graph
from nnc.compiler.ops import OP_RULES
from nnc.compiler.plan import Plan, lower_to_plan
from nnc.compiler.state import kept_weights, optimizer_state, probe_bytes


@dataclass(frozen=True)
class Counts:
    """Sizes of one node, or totals. FLOPs are 2 x MACs (a multiply-add is two operations)."""

    neurons: int = 0
    weights: int = 0
    biases: int = 0
    other: int = 0
    params: int = 0
    macs: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "flops": self.flops}


@dataclass(frozen=True)
class NodeSize:
    name: str
    op: str
    shape: tuple[int, ...]
    counts: Counts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "output_shape": list(self.shape),
                **self.counts.to_dict()}


@dataclass(frozen=True)
class Memory:
    """Bytes (float32) to train at ``batch_size``; the data set itself is not counted."""

    batch_size: int
    params: int
    gradients: int
    optimizer: int  # momentum, and a bounded scratch for in-place updates
    activations: int  # every buffer the runtime keeps per batch: outputs, gradients, masks
    best_params: int = 0  # the best weights so far, kept for early stopping
    diagnostics: int = 0  # at most: the probe's inference buffers

    @property
    def training(self) -> int:
        return (self.params + self.gradients + self.optimizer + self.activations
                + self.best_params + self.diagnostics)

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "training": self.training}


@dataclass(frozen=True)
class SizingReport:
    name: str
    input_shape: tuple[int, ...]
    nodes: tuple[NodeSize, ...]
    totals: Counts
    memory: Memory

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input_shape": list(self.input_shape),
                "totals": self.totals.to_dict(), "nodes": [n.to_dict() for n in self.nodes],
                "memory": self.memory.to_dict()}


def node_counts(graph: Graph) -> list[NodeSize]:
    """Per-node sizes, in topological order."""
    out = []
    for node in graph.nodes:
        rule = OP_RULES[node.op]
        in_shapes = [graph.shape_of(i) for i in node.inputs]
        by_role = {"weight": 0, "bias": 0, "slope": 0}
        for p in node.params:
            by_role[p.role] += p.size
        counts = Counts(rule.neurons(node), by_role["weight"], by_role["bias"], by_role["slope"],
                        sum(p.size for p in node.params), rule.macs(node, in_shapes))
        out.append(NodeSize(node.name, node.op, node.shape, counts))
    return out


def size_graph(graph: Graph, batch_size: int | None = None) -> SizingReport:
    """The full report for ``graph``; memory at ``batch_size`` (default: the spec's)."""
    nodes = node_counts(graph)
    totals = sum((n.counts for n in nodes), Counts())
    batch = batch_size or graph.spec.train.batch_size
    return SizingReport(graph.name, graph.input_shape, tuple(nodes), totals,
                        training_memory(lower_to_plan(graph), batch))


def training_memory(plan: Plan, batch_size: int) -> Memory:
    """The bytes of every buffer the runtime allocates to train ``plan`` at ``batch_size``,
    read from their declarations (a test checks the runtime allocates exactly these)."""
    train, n_params = plan.graph.spec.train, plan.n_params
    per_sample = sum(activation_bytes(plan).values())
    return Memory(batch_size, FLOAT_BYTES * n_params, FLOAT_BYTES * n_params,
                  total_bytes(optimizer_state(train, n_params)), per_sample * batch_size,
                  total_bytes(kept_weights(train, n_params)), probe_bytes(plan))


def activation_bytes(plan: Plan) -> dict[str, int]:
    """Per-sample training bytes of each step, of the executor and of the loss."""
    out = {"<executor>": total_bytes(plan.executor_buffers)}
    for step in plan.steps:
        out[step.output] = total_bytes(step.buffers)
    out["<loss>"] = total_bytes(loss_buffers(plan))
    return out


def loss_buffers(plan: Plan) -> list[Buffer]:
    """The loss's per-sample buffers (none without a loss: nothing is trained)."""
    loss = plan.graph.spec.loss
    return LOSSES[loss].buffers(math.prod(plan.graph.output_shape)) if loss else []


def check_memory(memory: Memory, limit: int, file: str | None = None, data_bytes: int = 0,
                 data_where: str = "") -> None:
    """Refuse, before anything is allocated, a run whose estimate, with ``data_bytes`` for
    the data set (of ``data_where``) when it is known beforehand, exceeds ``limit`` bytes."""
    if memory.training + data_bytes > limit:
        parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in memory.to_dict().items()
                          if k not in ("batch_size", "training"))
        data = f", and the data set ({data_where}) {format_bytes(data_bytes)}" \
            if data_bytes else ""
        raise CompileError(
            f"training needs an estimated {format_bytes(memory.training)} at batch size "
            f"{memory.batch_size} ({parts}){data}, more than the limit of "
            f"{format_bytes(limit)}; use a smaller network, batch_size or data set, or raise "
            "--max-memory", file=file)
