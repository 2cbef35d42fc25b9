"""Spec -> Graph: names, references, topological order, shapes and parameters.

Both forms of a spec normalize to the same list of named nodes first; every later
check runs once on that list and points back at the node's place in the spec.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, cast

from nnc.base.errors import CompileError, Problem
from nnc.base.losses import LOSSES
from nnc.compiler.ir import Graph, Node, Param, Shape
from nnc.compiler.ops import OP_RULES, ShapeError
from nnc.spec import OP_SPECS, GraphSpec, OpSpec, Spec, SpecFile, parse_init
from nnc.spec.messages import did_you_mean
from nnc.spec.ops import JoinOp, UnaryOp
from nnc.spec.sweep import SweepSpec, metric_problem, path_problem

SEQUENTIAL_INPUT = "input"


@dataclass
class _Draft:
    name: str
    attrs: OpSpec
    inputs: tuple[str, ...]
    origin: tuple[Any, ...]


class _Errors:
    def __init__(self, spec_file: SpecFile | None):
        self.spec_file = spec_file
        self.problems: list[Problem] = []

    def add(self, origin: tuple[Any, ...], message: str) -> None:
        if self.spec_file is not None:
            self.problems.append(self.spec_file.problem(origin, message))
        else:
            self.problems.append(Problem(message, path=".".join(map(str, origin)) or None))

    def raise_if_any(self) -> None:
        if self.problems:  # in file order, as the loader reports them
            raise CompileError(sorted(self.problems, key=lambda p: (p.line or 0, p.col or 0)))


def compile_spec(spec: Spec | SpecFile) -> Graph:
    """Compile a validated spec to the graph IR; raises CompileError naming every problem."""
    spec_file = spec if isinstance(spec, SpecFile) else None
    spec = spec.spec if isinstance(spec, SpecFile) else spec
    errors = _Errors(spec_file)
    output_origin: tuple[Any, ...]
    if spec.graph is not None:
        (input_name, input_shape), = spec.graph.inputs.items()
        drafts = _graph_drafts(spec.graph, errors)
        output, output_origin = spec.graph.output, ("graph", "output")
    else:  # a chain: the spec's validator made sure it has layers, and input or data
        if spec.input is None:  # the pipeline fills it from the data before compiling
            errors.add(("layers",), "the input's size is not known: give `input`, or let "
                       "nnc count the data's features (nnc check/build do)")
            errors.raise_if_any()
        input_name, input_shape = SEQUENTIAL_INPUT, cast(list[int], spec.input)
        drafts = _chain_drafts(spec, errors)
        output, output_origin = drafts[-1].name if drafts else "", ("layers",)
    errors.raise_if_any()
    _check_names(drafts, input_name, output, output_origin, errors)
    errors.raise_if_any()
    ordered = _topological(drafts, input_name, errors)
    errors.raise_if_any()
    _check_reaches_output(ordered, output, errors)
    errors.raise_if_any()
    nodes = _typed_nodes(ordered, input_name, tuple(input_shape), errors)
    errors.raise_if_any()
    graph = Graph(spec.name, input_name, tuple(input_shape), tuple(nodes), output, spec)
    units = math.prod(graph.output_shape)
    if spec.loss is not None:
        problem = LOSSES[spec.loss].output_problem(units)
        if problem:
            errors.add(("loss",), problem)
    if spec.sweep is not None:
        _check_sweep(spec, units, errors)
    errors.raise_if_any()
    return graph


def _check_sweep(spec: Spec, units: int, errors: _Errors) -> None:
    """The sweep's metric fits the loss, and each of its paths names a field of the spec."""
    sweep = cast(SweepSpec, spec.sweep)
    entry = LOSSES.get(spec.loss or "")
    classes = None if entry is None or not entry.classification else \
        2 if entry.labels == "binary" else units
    problem = metric_problem(sweep.metric, spec.loss, classes)
    if problem:
        errors.add(("sweep", "metric"), problem)
    data = spec.model_dump(mode="json")
    for path in sweep.parameters:
        problem = path_problem(data, path)
        if problem:
            errors.add(("sweep", "parameters", path), problem)


def _chain_drafts(spec: Spec, errors: _Errors) -> list[_Draft]:
    layers = cast(list[OpSpec], spec.layers)  # a chain has layers (the spec's validator)
    taken = {layer.name for layer in layers if layer.name}
    counters: dict[str, int] = {}
    drafts, previous = [], SEQUENTIAL_INPUT
    for i, attrs in enumerate(layers):
        origin = ("layers", i)
        if attrs.arity == "many":
            errors.add(origin, f"{attrs.op} joins several nodes; write the network in the "
                               "graph form (graph: {inputs, nodes, output}) to use it")
        if getattr(attrs, "input", None) or getattr(attrs, "inputs", None):
            errors.add(origin, "a layer reads the layer before it; `input`/`inputs` belong to "
                               "the graph form")
        name = attrs.name
        while name is None or (name in taken and attrs.name is None):
            counters[attrs.op] = counters.get(attrs.op, 0) + 1
            name = f"{attrs.op}_{counters[attrs.op]}"
        taken.add(name)
        drafts.append(_Draft(name, attrs, (previous,), origin))
        previous = name
    return drafts


def _graph_drafts(graph: GraphSpec, errors: _Errors) -> list[_Draft]:
    drafts = []
    for i, attrs in enumerate(graph.nodes):
        origin = ("graph", "nodes", i)
        if attrs.name is None:
            errors.add(origin, f"every graph node needs a `name` (this {attrs.op} has none)")
        if attrs.arity == "many":
            inputs = tuple(cast(JoinOp, attrs).inputs or ())
            if not inputs:
                errors.add(origin, f"{attrs.op} needs `inputs: [a, b, ...]` (two or more)")
        else:
            read = cast(UnaryOp, attrs).input
            inputs = (read,) if read else ()
            if not inputs:
                errors.add(origin, f"{attrs.op} needs `input: NAME` (a node or the graph input)")
        drafts.append(_Draft(attrs.name or f"#{i}", attrs, inputs, origin))
    return drafts


def _check_names(drafts: list[_Draft], input_name: str, output: str,
                 output_origin: tuple[Any, ...], errors: _Errors) -> None:
    seen: dict[str, tuple[Any, ...]] = {input_name: ()}
    for d in drafts:
        if d.name in seen:
            first = "the graph input" if d.name == input_name else \
                ".".join(map(str, seen[d.name]))
            errors.add(d.origin, f"duplicate name {d.name!r} (also {first})")
        seen.setdefault(d.name, d.origin)
    for d in drafts:
        for ref in d.inputs:
            if ref == d.name:
                errors.add(d.origin, f"{d.name!r} reads itself (a cycle of one node)")
            elif ref not in seen:
                errors.add(d.origin, f"unknown input {ref!r}" + did_you_mean(ref, seen))
    nodes = {d.name for d in drafts}
    if output not in nodes:
        hint = " (the graph input is not a node)" if output == input_name else \
            did_you_mean(output, nodes)
        errors.add(output_origin, f"output {output!r} is not a node{hint}")


def _topological(drafts: list[_Draft], input_name: str, errors: _Errors) -> list[_Draft]:
    """Kahn's algorithm, keeping spec order among ready nodes; reports a cycle by name."""
    index = {d.name: i for i, d in enumerate(drafts)}
    waiting = {d.name: {r for r in d.inputs if r != input_name} for d in drafts}
    readers: dict[str, list[str]] = {d.name: [] for d in drafts}
    for d in drafts:
        for r in waiting[d.name]:
            readers[r].append(d.name)
    ready = [index[n] for n, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered = []
    while ready:
        d = drafts[heapq.heappop(ready)]
        ordered.append(d)
        for reader in readers[d.name]:
            waiting[reader].discard(d.name)
            if not waiting[reader]:
                heapq.heappush(ready, index[reader])
    if len(ordered) < len(drafts):
        cycle = _find_cycle({n: deps for n, deps in waiting.items() if deps})
        first = drafts[index[cycle[0]]]
        errors.add(first.origin, "the graph has a cycle: " + " -> ".join(cycle + [cycle[0]]))
    return ordered


def _find_cycle(waiting: dict[str, set[str]]) -> list[str]:
    """One cycle among the nodes left by Kahn's algorithm (each still waits on one of them)."""
    node = min(waiting)
    path: list[str] = []
    seen: dict[str, int] = {}
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = min(waiting[node])
    cycle = path[seen[node]:]
    return list(reversed(cycle))  # in data-flow order: producer -> consumer


def _check_reaches_output(ordered: list[_Draft], output: str, errors: _Errors) -> None:
    needed = {output}
    for d in reversed(ordered):
        if d.name in needed:
            needed.update(d.inputs)
    for d in ordered:
        if d.name not in needed:
            errors.add(d.origin, f"{d.name!r} does not feed the output {output!r}; "
                                 "remove it or connect it")


def _typed_nodes(ordered: list[_Draft], input_name: str, input_shape: Shape,
                 errors: _Errors) -> list[Node]:
    shapes: dict[str, Shape | None] = {input_name: input_shape}
    consumers: dict[str, list[_Draft]] = {}
    for d in ordered:
        for r in d.inputs:
            consumers.setdefault(r, []).append(d)
    nodes = []
    for d in ordered:
        in_shapes = [s for r in d.inputs if (s := shapes[r]) is not None]
        if len(in_shapes) < len(d.inputs):
            shapes[d.name] = None  # an input already failed; do not pile on
            continue
        rule = OP_RULES[d.attrs.op]
        try:
            shape = rule.infer(d.attrs, list(zip(d.inputs, in_shapes)))
        except ShapeError as e:
            errors.add(d.origin, f"{d.attrs.op} {d.name!r}: {e}")
            shapes[d.name] = None
            continue
        shapes[d.name] = shape
        choice = _weight_init(d, consumers)
        params = tuple(Param(f"{d.name}.{role}", role, pshape, init)
                       for role, pshape, init in rule.params(d.attrs, in_shapes, shape, choice))
        nodes.append(Node(d.name, d.attrs.op, d.attrs, d.inputs, shape, params, d.origin,
                          _activation_of(d.attrs)))
    return nodes


def _activation_of(attrs: OpSpec) -> OpSpec | None:
    """The op spec of a dense layer's ``activation:`` shorthand."""
    tag = getattr(attrs, "activation", None)
    return OP_SPECS[tag](op=tag) if tag else None


def _weight_init(d: _Draft, consumers: dict[str, list[_Draft]]) -> tuple[str, float | None]:
    """The explicit ``init``; else the op's own default (maxout: He); else what the op that
    alone reads the layer asks for (looking through training-only ops: He before the ReLU
    family, Xavier before sigmoid and tanh); else Xavier (e.g. the output layer)."""
    explicit = getattr(d.attrs, "init", None)
    if explicit:
        return parse_init(explicit)
    own = OP_RULES[d.attrs.op].own_init
    if own:
        return own, None
    following = getattr(d.attrs, "activation", None)
    node = d
    while following is None:
        readers = consumers.get(node.name, [])
        if len(readers) != 1:
            break
        node = readers[0]
        if not OP_RULES[node.attrs.op].training_only:
            following = node.attrs.op
    return (OP_RULES[following].init_before if following else None) or "xavier", None
