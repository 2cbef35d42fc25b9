"""Property tests: whatever a spec holds, load -> compile -> size raises only NncError.

Random text and bytes; mutations of the valid specs in ``valid/`` and ``models/`` (random
edits anywhere, and well-typed edits of the network: references, ops, sizes, order);
random ``--set`` overrides; random well-typed networks, which must also compile and be
sized consistently. Runs are derandomized and database-free, so CI sees the same examples.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnc.base.errors import NncError
from nnc.compiler import compile_spec, size_graph
from nnc.spec import OP_SPECS, load_spec, load_spec_text
from nnc.spec.source import parse

VALID = Path(__file__).parent / "valid"
MODELS = Path(__file__).resolve().parents[2] / "models"
VALID_FILES = sorted(VALID.iterdir()) + sorted(MODELS.glob("*.y*ml"))
LINE = re.compile(r"^[^\n]+: .+$")

# CI runs the same 250 examples per test every time; for a deeper, random hunt run e.g.
# NNC_FUZZ_EXAMPLES=20000 pytest tests/spec/test_fuzz.py
_DEEP = os.environ.get("NNC_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(_DEEP or 250), deadline=None, derandomize=not _DEEP,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_pipeline(text: str, fmt: str, overrides: tuple[str, ...] = ()) -> Any:
    """Load, compile and size; return the report, or None when an NncError was raised."""
    try:
        graph = compile_spec(load_spec_text(text, f"fuzz.{fmt}", fmt, overrides))
        return size_graph(graph)
    except NncError as e:
        assert e.problems, "an NncError must carry at least one problem"
        for line in e.lines():
            assert LINE.match(line), line
        return None


def plain(path: Path) -> dict[str, Any]:
    """The file's data as nnc reads it (YAML 1.2 core schema)."""
    return parse(path.read_text(), path.name, "json" if path.suffix == ".json" else "yaml").data


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=1)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# ------------------------------------------------------------------------- strategies

NUMBERS = st.sampled_from([0, -1, 1, 2, 1.0, 0.5, -0.0, 1e-300, 2**31 - 1, 2**31, 2**63,
                           10**30, -(10**30), 1e308, math.inf, -math.inf, math.nan])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | NUMBERS
           | st.text(max_size=12) | st.sampled_from(sorted(OP_SPECS)))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def locations(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``data`` (the root excluded)."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for key, value in items:
        out.append(path + (key,))
        out.extend(locations(value, path + (key,)))
    return out


def get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def names_in(data: Any) -> list[str]:
    return [v for v in (get(data, p) for p in locations(data)) if isinstance(v, str)]


def mutate(draw: Any, data: dict[str, Any]) -> None:  # noqa: PLR0912 (a branch per kind of edit)
    """One random edit of ``data`` in place."""
    paths = locations(data)
    if not paths:
        data[draw(st.text(max_size=8))] = draw(JSONISH)
        return
    path = draw(st.sampled_from(paths))
    parent, key = get(data, path[:-1]), path[-1]
    value = parent[key]
    kind = draw(st.sampled_from(["delete", "duplicate", "replace", "number", "op", "rename",
                                 "new_key"]))
    if kind == "delete":
        del parent[key]
    elif kind == "duplicate":
        if isinstance(parent, list):
            parent.insert(key, copy.deepcopy(value))
        else:
            parent[key + draw(st.sampled_from(["", "_", "z", "2"]))] = copy.deepcopy(value)
            target = draw(st.sampled_from([p for p in [()] + paths
                                           if isinstance(get(data, p), dict)]))
            get(data, target)[key] = copy.deepcopy(value)  # the key again, elsewhere
    elif kind == "replace":
        parent[key] = draw(JSONISH)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            parent[key] = draw(NUMBERS)
        else:
            parent[key] = draw(st.sampled_from([
                -value, value * 10**12, 10**25, float(value) + 0.5, str(value), -1, 0,
                value * 1e300 if isinstance(value, float) else 2**63, math.nan]))
    elif kind == "op":
        parent[key] = draw(st.sampled_from(sorted(OP_SPECS)) | st.text(max_size=8))
    elif kind == "rename":
        names = names_in(data) or ["x"]
        parent[key] = draw(st.sampled_from(names) | st.sampled_from(names).map(lambda s: s + "_"))
    elif isinstance(value, dict):
        value[draw(st.sampled_from(["name", "input", "inputs", "units", "op", "p", "units2",
                                    "graph", "layers"]))] = draw(JSONISH)
    else:
        parent[key] = {"op": value} if isinstance(value, str) else [value]


@st.composite
def mutated_specs(draw: Any) -> tuple[str, str]:
    data = plain(draw(st.sampled_from(VALID_FILES)))
    for _ in range(draw(st.integers(1, 4))):
        mutate(draw, data)
    fmt = draw(st.sampled_from(["yaml", "json"]))
    return dump(data, fmt), fmt


def network_of(data: dict[str, Any]) -> tuple[list[Any], dict[str, Any] | None]:
    """The list of layers or graph nodes of a spec, and its graph section (None: a chain)."""
    if isinstance(data.get("graph"), dict):
        return data["graph"].setdefault("nodes", []), data["graph"]
    return data.setdefault("layers", []), None


def rewire(draw: Any, data: dict[str, Any]) -> None:  # noqa: PLR0912 (a branch per kind of edit)
    """One well-typed edit of the network: references, ops, sizes, order, names, shapes."""
    nodes, graph = network_of(data)
    names = [n["name"] for n in nodes if isinstance(n, dict) and isinstance(n.get("name"), str)]
    if graph is not None and isinstance(graph.get("inputs"), dict):
        names += list(graph["inputs"])
    some_name = st.sampled_from(names or ["x"]) | st.sampled_from(names or ["x"]).map(
        lambda n: n[:-1] or "y")
    kind = draw(st.sampled_from(["input", "input", "output", "op", "units", "delete",
                                 "duplicate", "move", "shape", "name"]))
    index = draw(st.integers(0, max(len(nodes) - 1, 0)))
    node = nodes[index] if nodes else None
    if isinstance(node, str):
        node = nodes[index] = {"op": node}
    if kind == "input" and node is not None:
        if "inputs" in node or draw(st.booleans()):
            node["inputs"] = draw(st.lists(some_name, min_size=1, max_size=3))
        else:
            node["input"] = draw(some_name)
    elif kind == "output" and graph is not None:
        graph["output"] = draw(some_name)
    elif kind == "op" and node is not None:
        node["op"] = draw(st.sampled_from(sorted(OP_SPECS)))
        for field in {"units", "pieces", "alpha", "p", "std", "shared", "activation", "bias",
                      "init"} & set(node):
            if draw(st.booleans()):
                del node[field]
        if node["op"] in ("dense", "maxout"):
            node.setdefault("units", draw(st.integers(1, 20)))
        if node["op"] in ("add", "concat") and "input" in node:
            node["inputs"] = [node.pop("input"), draw(some_name)]
        elif node["op"] not in ("add", "concat") and node.get("inputs"):
            node["input"] = node.pop("inputs")[0]
    elif kind == "units" and node is not None and "units" in node:
        node["units"] = draw(st.integers(1, 3000))
    elif kind == "delete" and nodes:
        del nodes[index]
    elif kind == "duplicate" and nodes:
        nodes.insert(draw(st.integers(0, len(nodes))), copy.deepcopy(nodes[index]))
    elif kind == "move" and nodes:
        nodes.insert(draw(st.integers(0, len(nodes) - 1)), nodes.pop(index))
    elif kind == "shape":
        shape = draw(st.lists(st.integers(1, 40), min_size=1, max_size=3))
        if graph is not None and isinstance(graph.get("inputs"), dict) and graph["inputs"]:
            graph["inputs"][next(iter(graph["inputs"]))] = shape
        else:
            data["input"] = shape
    elif kind == "name" and node is not None:
        node["name"] = draw(some_name | NAMES)


@st.composite
def rewired_specs(draw: Any) -> tuple[str, str]:
    data = plain(draw(st.sampled_from(VALID_FILES)))
    for _ in range(draw(st.integers(1, 3))):
        rewire(draw, data)
    fmt = draw(st.sampled_from(["yaml", "json"]))
    return dump(data, fmt), fmt


# ---------------------------------------------------------------- random valid networks

UNARY = ["relu", "sigmoid", "tanh", "leaky_relu", "prelu", "dropout", "gaussian_noise"]
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True)


@st.composite
def unary_layer(draw: Any) -> tuple[Any, int | None]:
    """A layer of the chain, and the width it outputs (None: same as its input)."""
    op = draw(st.sampled_from(["dense", "maxout", *UNARY]))
    if op == "dense":
        units = draw(st.integers(1, 48))
        layer: dict[str, Any] = {"op": "dense", "units": units}
        if draw(st.booleans()):
            layer["bias"] = draw(st.booleans())
        if draw(st.booleans()):
            layer["init"] = draw(st.sampled_from(["he", "xavier", "normal(0.01)", "normal(1e-3)"]))
        if draw(st.booleans()):
            layer["activation"] = draw(st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu"]))
        return layer, units
    if op == "maxout":
        units = draw(st.integers(1, 32))
        return {"op": "maxout", "units": units, "pieces": draw(st.integers(2, 5))}, units
    extra = {"leaky_relu": ("alpha", st.floats(0, 0.99)), "prelu": ("shared", st.booleans()),
             "dropout": ("p", st.floats(0, 0.95)), "gaussian_noise": ("std", st.floats(0, 3))}
    if op in extra and draw(st.booleans()):
        field, values = extra[op]
        return {"op": op, field: draw(values)}, None
    return (op if draw(st.booleans()) else {"op": op}), None


@st.composite
def chain_specs(draw: Any) -> dict[str, Any]:
    layers = [draw(unary_layer()) for _ in range(draw(st.integers(1, 8)))]
    return {"name": draw(NAMES), "input": [draw(st.integers(1, 64))],
            "layers": [layer for layer, _ in layers], "loss": "mse"}


@st.composite
def graph_specs(draw: Any) -> dict[str, Any]:
    """A random DAG whose every node feeds the output, listed in a random order."""
    names = draw(st.lists(NAMES, min_size=12, max_size=12, unique=True))
    input_name, names = names[0], names[1:]
    width: dict[str, int] = {input_name: draw(st.integers(1, 32))}
    nodes: list[dict[str, Any]] = []
    read: set[str] = set()
    for name in names[:draw(st.integers(1, 9))]:
        kind = draw(st.sampled_from(["unary", "unary", "add", "concat"]))
        values = sorted(width)
        if kind == "add":
            by_width: dict[int, list[str]] = {}
            for v in values:
                by_width.setdefault(width[v], []).append(v)
            groups = [g for g in by_width.values() if len(g) >= 2]
            if groups:
                group = draw(st.sampled_from(groups))
                inputs = draw(st.lists(st.sampled_from(group), min_size=2, max_size=3))
                nodes.append({"name": name, "op": "add", "inputs": inputs})
                width[name] = width[inputs[0]]
                read.update(inputs)
                continue
            kind = "concat"
        if kind == "concat":
            inputs = draw(st.lists(st.sampled_from(values), min_size=2, max_size=3))
            nodes.append({"name": name, "op": "concat", "inputs": inputs})
            width[name] = sum(width[i] for i in inputs)
            read.update(inputs)
            continue
        layer, units = draw(unary_layer())
        source = draw(st.sampled_from(values))
        layer = {"op": layer} if isinstance(layer, str) else layer
        nodes.append({"name": name, **layer, "input": source})
        width[name] = units or width[source]
        read.add(source)
    sinks = [n["name"] for n in nodes if n["name"] not in read]
    output = sinks[0]
    if len(sinks) > 1:
        output = names[-1]
        nodes.append({"name": output, "op": "concat", "inputs": sinks})
    nodes = draw(st.permutations(nodes))
    return {"name": draw(NAMES), "graph": {"inputs": {input_name: [width[input_name]]},
                                           "nodes": nodes, "output": output}}


# ----------------------------------------------------------------------------- tests

@FUZZ
@given(st.text(max_size=300), st.sampled_from(["yaml", "json"]))
def test_random_text(text: str, fmt: str) -> None:
    run_pipeline(text, fmt)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["utf-8", "latin-1", "utf-16"]),
       st.sampled_from(["yaml", "json"]))
def test_random_bytes_decoded(data: bytes, encoding: str, fmt: str) -> None:
    run_pipeline(data.decode(encoding, errors="surrogateescape" if encoding == "utf-8"
                             else "replace"), fmt)


_TMP = tempfile.TemporaryDirectory(prefix="nnc-fuzz-")


@FUZZ
@given(st.binary(max_size=300) | st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"]),
       st.sampled_from([".yaml", ".yml", ".json"]))
def test_random_bytes_in_a_file(data: bytes, suffix: str) -> None:
    path = Path(_TMP.name) / f"spec{suffix}"
    path.write_bytes(data)
    try:
        size_graph(compile_spec(load_spec(path)))
    except NncError as e:
        assert all(line.startswith(str(path)) for line in e.lines())


@FUZZ
@given(st.text(alphabet="{}[]:,-\"' \n&*!#|>abc01.", max_size=200),
       st.sampled_from(["yaml", "json"]))
def test_random_structural_text(text: str, fmt: str) -> None:
    run_pipeline(text, fmt)


@FUZZ
@given(mutated_specs())
def test_mutated_valid_specs(case: tuple[str, str]) -> None:
    run_pipeline(*case)


@FUZZ
@given(rewired_specs())
def test_rewired_valid_specs(case: tuple[str, str]) -> None:
    run_pipeline(*case)


KEYS = st.sampled_from(["layers", "graph", "nodes", "train", "optimizer", "sgd", "lr", "units",
                        "0", "1", "-1", "7", "name", "input", "x", "", "²", "op", "data"])


@FUZZ
@given(st.sampled_from(VALID_FILES),
       st.lists(st.tuples(st.lists(KEYS, max_size=5), st.sampled_from(["=", "", "=="]),
                          st.text(max_size=10) | JSONISH.map(json.dumps)), max_size=3))
def test_random_overrides(path: Path, parts: list[tuple[list[str], str, str]]) -> None:
    overrides = tuple(".".join(keys) + sep + value for keys, sep, value in parts)
    fmt = "json" if path.suffix == ".json" else "yaml"
    run_pipeline(path.read_text(), fmt, overrides)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", [chain_specs(), graph_specs()], ids=["chain", "graph"])
def test_random_valid_networks_compile(strategy: st.SearchStrategy) -> None:
    @FUZZ
    @given(strategy, st.sampled_from(["yaml", "json"]))
    def check(data: dict[str, Any], fmt: str) -> None:
        report = run_pipeline(dump(data, fmt), fmt)
        assert report is not None, f"a well-typed network was refused:\n{dump(data, 'yaml')}"
        graph = compile_spec(load_spec_text(dump(data, fmt), "net", fmt))
        seen = {graph.input_name}
        for node in graph.nodes:  # topological order
            assert set(node.inputs) <= seen
            seen.add(node.name)
        assert graph.output in graph.by_name
        assert report.totals.params == graph.param_count
        assert report.totals.flops == 2 * report.totals.macs
        assert report.totals.weights + report.totals.biases + report.totals.other \
            == report.totals.params
        assert [n.name for n in report.nodes] == [n.name for n in graph.nodes]

    check()


def test_valid_specs_are_valid() -> None:
    """The seeds of the mutations are themselves valid, in both formats."""
    for path in VALID_FILES:
        data = plain(path)
        for fmt in ("yaml", "json"):
            assert run_pipeline(dump(data, fmt), fmt) is not None, path.name


def test_mutation_helpers_reach_every_value() -> None:
    data = {"a": [1, {"b": 2}], "c": "x"}
    assert locations(data) == [("a",), ("a", 0), ("a", 1), ("a", 1, "b"), ("c",)]
