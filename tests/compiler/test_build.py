"""Spec -> graph IR: names, topological order, shapes, parameter layouts and inits, errors."""

from __future__ import annotations

import math
import textwrap

import pytest

from nnc.base.errors import CompileError, NncError
from nnc.compiler import Graph, compile_spec
from nnc.spec import load_spec_text


def build(text: str, fmt: str = "yaml") -> Graph:
    return compile_spec(load_spec_text(textwrap.dedent(text), "model.yaml", fmt))


def compile_error(text: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        build(text)
    return info.value


def layout(graph: Graph) -> list[tuple]:
    """What makes two graphs the same network, whatever their input is called."""
    rename = {graph.input_name: "<input>"}
    return [(n.name, n.op, n.shape, tuple(rename.get(i, i) for i in n.inputs),
             tuple((p.name, p.role, p.shape, p.init) for p in n.params)) for n in graph.nodes]


CHAIN = """
    name: net
    input: [3]
    layers:
      - {op: dense, units: 4}
      - relu
      - {op: dense, units: 2}
    """
GRAPH = """
    name: net
    graph:
      inputs: {x: [3]}
      nodes:
        - {name: dense_1, op: dense, units: 4, input: x}
        - {name: relu_1, op: relu, input: dense_1}
        - {name: dense_2, op: dense, units: 2, input: relu_1}
      output: dense_2
    """


def test_both_forms_compile_to_the_same_graph() -> None:
    chain, graph = build(CHAIN), build(GRAPH)
    assert [n.name for n in chain.nodes] == ["dense_1", "relu_1", "dense_2"]
    assert layout(chain) == layout(graph)
    assert (chain.input_shape, chain.output, chain.output_shape) == \
        (graph.input_shape, graph.output, graph.output_shape) == ((3,), "dense_2", (2,))
    assert chain.nodes[0].inputs == ("input",) and graph.nodes[0].inputs == ("x",)


def test_json_and_yaml_compile_to_the_same_graph() -> None:
    json_text = """{"name": "net", "input": [3], "layers": [{"op": "dense", "units": 4},
                    "relu", {"op": "dense", "units": 2}]}"""
    assert layout(build(json_text, "json")) == layout(build(CHAIN))


def test_generated_names_count_per_op_and_skip_given_names() -> None:
    graph = build("""
        name: names
        input: [3]
        layers:
          - {op: dense, units: 4}
          - relu
          - {op: dense, units: 4, name: dense_1}
          - relu
          - {op: dense, units: 2}
        """)
    assert [n.name for n in graph.nodes] == ["dense_2", "relu_1", "dense_1", "relu_2", "dense_3"]
    assert [n.inputs for n in graph.nodes] == [
        ("input",), ("dense_2",), ("relu_1",), ("dense_1",), ("relu_2",)]


def test_topological_order_of_a_graph_written_out_of_order() -> None:
    graph = build("""
        name: shuffled
        graph:
          inputs: {x: [5]}
          nodes:
            - {name: out, op: add, inputs: [left2, right]}
            - {name: left2, op: dense, units: 3, input: left}
            - {name: right, op: dense, units: 3, input: x}
            - {name: left, op: relu, input: fc}
            - {name: fc, op: dense, units: 4, input: x}
          output: out
        """)
    order = [n.name for n in graph.nodes]
    # Kahn's algorithm, taking ready nodes in the order the spec lists them
    assert order == ["right", "fc", "left", "left2", "out"]
    position = {name: i for i, name in enumerate(order)}
    for node in graph.nodes:
        assert all(position.get(i, -1) < position[node.name] for i in node.inputs)
    assert graph.output == "out" and graph.shape_of("left") == (4,)


def test_parameter_layouts_and_names() -> None:
    graph = build("""
        name: layouts
        input: [6]
        layers:
          - {op: dense, units: 5, name: fc}
          - {op: prelu, name: act}
          - {op: maxout, units: 4, pieces: 3, name: mx}
          - {op: prelu, shared: true, name: act2}
          - {op: dense, units: 2, bias: false, name: head}
        """)
    params = {p.name: (p.role, p.shape) for p in graph.params}
    assert params == {
        "fc.weight": ("weight", (5, 6)),  # [out, in]
        "fc.bias": ("bias", (5,)),
        "act.slope": ("slope", (5,)),  # one per unit
        "mx.weight": ("weight", (3, 4, 5)),  # [pieces, units, in]
        "mx.bias": ("bias", (3, 4)),  # [pieces, units]
        "act2.slope": ("slope", (1,)),  # shared
        "head.weight": ("weight", (2, 4)),
    }
    assert graph.param_count == sum(math.prod(shape) for _, shape in params.values())
    assert [n.shape for n in graph.nodes] == [(5,), (5,), (4,), (4,), (2,)]


def inits(graph: Graph) -> dict[str, tuple[str, float]]:
    return {p.name: (p.init.source, p.init.scale) for p in graph.params}


def he(fan_in: int) -> float:
    return math.sqrt(2 / fan_in)


def xavier(fan_in: int, fan_out: int) -> float:
    return math.sqrt(2 / (fan_in + fan_out))


def test_default_inits() -> None:
    graph = build("""
        name: inits
        input: [10]
        layers:
          - {op: dense, units: 8, name: before_relu}
          - relu
          - {op: dense, units: 6, name: before_leaky}
          - leaky_relu
          - {op: dense, units: 6, name: before_prelu}
          - prelu
          - {op: dense, units: 5, name: before_tanh}
          - tanh
          - {op: dense, units: 5, name: before_sigmoid}
          - sigmoid
          - {op: maxout, units: 4, name: mx}
          - {op: dense, units: 4, name: shorthand_relu, activation: relu}
          - {op: dense, units: 4, name: shorthand_tanh, activation: tanh}
          - {op: dense, units: 4, name: through_dropout}
          - {op: dropout, p: 0.5}
          - {op: gaussian_noise}
          - relu
          - {op: dense, units: 3, name: explicit, init: "normal(0.01)"}
          - relu
          - {op: dense, units: 3, name: explicit_xavier, init: xavier}
          - relu
          - {op: dense, units: 2, name: output}
        """)
    got = inits(graph)
    assert got["before_relu.weight"] == ("he", he(10))
    assert got["before_leaky.weight"] == ("he", he(8))
    assert got["before_prelu.weight"] == ("he", he(6))
    assert got["before_tanh.weight"] == ("xavier", xavier(6, 5))
    assert got["before_sigmoid.weight"] == ("xavier", xavier(5, 5))
    assert got["mx.weight"] == ("he", he(5))
    assert got["shorthand_relu.weight"] == ("he", he(4))
    assert got["shorthand_tanh.weight"] == ("xavier", xavier(4, 4))
    assert got["through_dropout.weight"] == ("he", he(4))
    assert got["explicit.weight"] == ("normal(0.01)", 0.01)
    assert got["explicit_xavier.weight"] == ("xavier", xavier(3, 3))
    assert got["output.weight"] == ("xavier", xavier(3, 2))
    assert got["prelu_1.slope"] == ("constant(0.25)", 0.25)
    assert {p.init.source for p in graph.params if p.role == "bias"} == {"zeros"}
    assert all(p.init.kind == "normal" for p in graph.params if p.role == "weight")


def test_dense_read_by_several_nodes_gets_xavier() -> None:
    graph = build("""
        name: fork
        graph:
          inputs: {x: [4]}
          nodes:
            - {name: fc, op: dense, units: 3, input: x}
            - {name: a, op: relu, input: fc}
            - {name: b, op: relu, input: fc}
            - {name: out, op: add, inputs: [a, b]}
          output: out
        """)
    assert inits(graph)["fc.weight"] == ("xavier", xavier(4, 3))


def test_activation_shorthand_is_kept_on_the_node() -> None:
    graph = build("""
        name: shorthand
        input: [4]
        layers: [{op: dense, units: 3, activation: leaky_relu}, {op: dense, units: 1}]
        """)
    first, second = graph.nodes
    assert first.activation is not None and first.activation.op == "leaky_relu"
    assert second.activation is None
    assert [n.op for n in graph.nodes] == ["dense", "dense"]


def test_origins_point_back_into_the_spec() -> None:
    assert [n.origin for n in build(CHAIN).nodes] == [("layers", 0), ("layers", 1), ("layers", 2)]
    assert [n.origin for n in build(GRAPH).nodes] == [("graph", "nodes", i) for i in range(3)]


@pytest.mark.parametrize("text, line, col, message", [
    ("""
     name: mismatch
     graph:
       inputs: {x: [8]}
       nodes:
         - {name: a, op: dense, units: 10, input: x}
         - {name: b, op: dense, units: 20, input: x}

         - {name: s, op: add, inputs: [a, b]}
       output: s
     """, 9, 7, "needs inputs of one shape; got a [10], b [20]"),
    ("""
     name: flat
     input: [4, 4]
     layers:
       - tanh
       - {op: dense, units: 2}
     """, 5, 5, "input has shape [4, 4]"),
    ("""
     name: dangling
     graph:
       inputs: {x: [8]}
       nodes:
         - {name: a, op: dense, units: 2, input: xx}
       output: a
     """, 6, 7, "unknown input 'xx'; did you mean 'x'?"),
    ("""
     name: prelu-on-matrix
     graph:
       inputs: {img: [2, 3]}
       nodes:
         - {name: a, op: prelu, input: img}
       output: a
     """, 6, 7, "expects a feature vector, but img has shape [2, 3]"),
])
def test_errors_carry_the_nodes_line(text: str, line: int, col: int, message: str) -> None:
    error = compile_error(text)
    problem = error.problems[0]
    assert (problem.file, problem.line, problem.col) == ("model.yaml", line, col)
    assert message in problem.message
    assert error.exit_code == 2


def test_a_failed_node_does_not_pile_on_errors_downstream() -> None:
    error = compile_error("""
        name: one-error
        graph:
          inputs: {x: [8]}
          nodes:
            - {name: a, op: dense, units: 10, input: x}
            - {name: b, op: dense, units: 20, input: x}
            - {name: s, op: add, inputs: [a, b]}
            - {name: t, op: relu, input: s}
            - {name: u, op: dense, units: 2, input: t}
          output: u
        """)
    assert len(error.problems) == 1


def test_compile_a_bare_spec_without_positions() -> None:
    spec = load_spec_text(textwrap.dedent(GRAPH).replace("output: dense_2", "output: dense_3"),
                          "model.yaml").spec
    with pytest.raises(CompileError) as info:
        compile_spec(spec)
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.path) == (None, None, "graph.output")
    assert "output 'dense_3' is not a node; did you mean" in str(problem)
    assert layout(compile_spec(load_spec_text(textwrap.dedent(GRAPH)).spec)) == layout(build(GRAPH))


def test_graph_consumers_and_needs_grad() -> None:
    graph = build("""
        name: skip
        graph:
          inputs: {x: [6]}
          nodes:
            - {name: noise, op: gaussian_noise, input: x}
            - {name: fc1, op: dense, units: 8, input: noise}
            - {name: h, op: relu, input: fc1}
            - {name: fc2, op: dense, units: 3, input: h}
            - {name: skip, op: dense, units: 3, input: x}
            - {name: sum, op: add, inputs: [fc2, skip]}
          output: sum
        """)
    assert graph.consumers["x"] == ("noise", "skip")
    assert graph.consumers["sum"] == ()
    assert graph.needs_grad == {"fc1", "h", "fc2", "skip", "sum"}


def test_compile_errors_are_nnc_errors() -> None:
    assert issubclass(CompileError, NncError)


@pytest.mark.parametrize("loss, units", [("binary_cross_entropy", 2), ("softmax_cross_entropy", 1),
                                         ("multiclass_hinge", 1)])
def test_a_loss_that_does_not_fit_the_output_units_is_refused_at_its_line(loss, units) -> None:
    text = f"name: t\ninput: [3]\nlayers:\n  - {{op: dense, units: {units}}}\nloss: {loss}\n"
    with pytest.raises(CompileError) as caught:
        compile_spec(load_spec_text(text))
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (5, "loss") and loss in problem.message


@pytest.mark.parametrize("loss, units", [("binary_cross_entropy", 1), ("softmax_cross_entropy", 2),
                                         ("mse", 1), ("mse", 3)])
def test_a_loss_that_fits_compiles(loss, units) -> None:
    text = f"name: t\ninput: [3]\nlayers:\n  - {{op: dense, units: {units}}}\nloss: {loss}\n"
    assert compile_spec(load_spec_text(text)).output_shape == (units,)
