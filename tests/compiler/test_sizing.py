"""The sizing report: exact counts, counted by hand here, through `nnc summary --json`.

Each expected number is written as the arithmetic that gives it (fan_in * units, ...),
so a reader can check it against the network without running anything.
"""

from __future__ import annotations

import json
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from nnc.compiler import compile_spec, size_graph
from nnc.spec import load_spec_text

TOTAL_KEYS = {"neurons", "weights", "biases", "other", "params", "macs", "flops"}
NODE_KEYS = {"name", "op", "output_shape", *TOTAL_KEYS}
MEMORY_KEYS = {"batch_size", "params", "gradients", "optimizer", "activations", "best_params",
               "diagnostics", "training"}
F32 = 4  # bytes


def totals(neurons: int, weights: int, biases: int, other: int = 0, macs: int | None = None
           ) -> dict[str, int]:
    """The expected totals; MACs default to the weights (one multiply-add per weight)."""
    macs = weights if macs is None else macs
    return {"neurons": neurons, "weights": weights, "biases": biases, "other": other,
            "params": weights + biases + other, "macs": macs, "flops": 2 * macs}


def summary(cli, tmp_path: Path, text: str, *args: str, suffix: str = ".yaml") -> dict:
    path = tmp_path / f"spec{suffix}"
    path.write_text(textwrap.dedent(text))
    result = cli("summary", "--json", *args, path)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


CASES = {
    # The design card's reference points.
    "3-4-2": ("""
        name: net-3-4-2
        input: [3]
        layers: [{op: dense, units: 4}, relu, {op: dense, units: 2}]
        """, totals(neurons=4 + 2, weights=3 * 4 + 4 * 2, biases=4 + 2)),
    "3-4-4-1": ("""
        name: net-3-4-4-1
        input: [3]
        layers:
          - {op: dense, units: 4}
          - relu
          - {op: dense, units: 4}
          - relu
          - {op: dense, units: 1}
        """, totals(neurons=4 + 4 + 1, weights=3 * 4 + 4 * 4 + 4 * 1, biases=4 + 4 + 1)),
    "dense-without-bias": ("""
        name: no-bias
        input: [5]
        layers: [{op: dense, units: 3, bias: false}]
        """, totals(neurons=3, weights=5 * 3, biases=0)),
    "maxout": ("""
        name: maxout
        input: [10]
        layers:
          - {op: maxout, units: 6, pieces: 3}
          - {op: dense, units: 2}
        """, totals(neurons=6 + 2, weights=3 * 6 * 10 + 6 * 2, biases=3 * 6 + 2)),
    "maxout-default-pieces-no-bias": ("""
        name: maxout2
        input: [7]
        layers: [{op: maxout, units: 5, bias: false}]
        """, totals(neurons=5, weights=2 * 5 * 7, biases=0)),
    "prelu-per-unit": ("""
        name: prelu
        input: [4]
        layers: [{op: dense, units: 5}, prelu, {op: dense, units: 2}]
        """, totals(neurons=5 + 2, weights=4 * 5 + 5 * 2, biases=5 + 2, other=5)),
    "prelu-shared": ("""
        name: prelu-shared
        input: [4]
        layers: [{op: dense, units: 5}, {op: prelu, shared: true}, {op: dense, units: 2}]
        """, totals(neurons=5 + 2, weights=4 * 5 + 5 * 2, biases=5 + 2, other=1)),
    "dag-add": ("""
        name: dag-add
        graph:
          inputs: {x: [6]}
          nodes:
            - {name: fc1, op: dense, units: 8, input: x}
            - {name: h, op: relu, input: fc1}
            - {name: fc2, op: dense, units: 3, input: h}
            - {name: skip, op: dense, units: 3, input: x}
            - {name: sum, op: add, inputs: [fc2, skip]}
          output: sum
        """, totals(neurons=8 + 3 + 3, weights=6 * 8 + 8 * 3 + 6 * 3, biases=8 + 3 + 3)),
    "dag-concat": ("""
        name: dag-concat
        graph:
          inputs: {x: [6]}
          nodes:
            - {name: a, op: dense, units: 4, input: x}
            - {name: b, op: dense, units: 5, input: x}
            - {name: cat, op: concat, inputs: [a, b]}
            - {name: out, op: dense, units: 2, input: cat}
          output: out
        """, totals(neurons=4 + 5 + 2, weights=6 * 4 + 6 * 5 + (4 + 5) * 2, biases=4 + 5 + 2)),
    "dropout-and-noise": ("""
        name: regularized
        input: [10]
        layers:
          - {op: gaussian_noise, std: 0.1}
          - {op: dense, units: 20}
          - relu
          - {op: dropout, p: 0.5}
          - {op: dense, units: 3}
        """, totals(neurons=20 + 3, weights=10 * 20 + 20 * 3, biases=20 + 3)),
    "activation-shorthand": ("""
        name: shorthand
        input: [7]
        layers:
          - {op: dense, units: 9, activation: tanh}
          - {op: dense, units: 1}
        """, totals(neurons=9 + 1, weights=7 * 9 + 9 * 1, biases=9 + 1)),
    "cifar10-3072-100-10": ("""
        name: cifar10-two-layer
        input: [3072]
        layers: [{op: dense, units: 100}, relu, {op: dense, units: 10}]
        loss: multiclass_hinge
        """, totals(neurons=100 + 10, weights=3072 * 100 + 100 * 10, biases=100 + 10)),
    "linear-classifier": ("""
        name: linear
        input: [4]
        layers: [{op: dense, units: 3}]
        """, totals(neurons=3, weights=4 * 3, biases=3)),
    "every-op": ("""
        name: every-op
        graph:
          inputs: {features: [30]}
          nodes:
            - {name: noisy, op: gaussian_noise, input: features}
            - {name: a, op: dense, units: 16, input: noisy}
            - {name: a_act, op: leaky_relu, input: a}
            - {name: b, op: maxout, units: 16, pieces: 3, input: noisy}
            - {name: c, op: dense, units: 8, bias: false, input: noisy, activation: tanh}
            - {name: cp, op: prelu, input: c}
            - {name: joined, op: concat, inputs: [a_act, b, cp]}
            - {name: d, op: dense, units: 16, input: joined}
            - {name: d_act, op: prelu, shared: true, input: d}
            - {name: drop, op: dropout, input: d_act}
            - {name: e, op: dense, units: 16, input: drop}
            - {name: e_act, op: sigmoid, input: e}
            - {name: sum, op: add, inputs: [e_act, d_act]}
            - {name: out, op: dense, units: 1, input: sum}
          output: out
        """, totals(neurons=16 + 16 + 8 + 16 + 16 + 1,
                    weights=30 * 16 + 3 * 16 * 30 + 30 * 8 + (16 + 16 + 8) * 16 + 16 * 16 + 16 * 1,
                    biases=16 + 3 * 16 + 0 + 16 + 16 + 1,
                    other=8 + 1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_totals(case: str, cli, tmp_path: Path) -> None:
    text, expected = CASES[case]
    report = summary(cli, tmp_path, text)
    assert report["totals"] == expected
    assert sum(n["params"] for n in report["nodes"]) == expected["params"]


def test_json_shape(cli, tmp_path: Path) -> None:
    report = summary(cli, tmp_path, CASES["3-4-2"][0])
    assert set(report) >= {"name", "totals", "nodes", "memory"}
    assert report["name"] == "net-3-4-2"
    assert set(report["totals"]) == TOTAL_KEYS
    assert set(report["memory"]) == MEMORY_KEYS
    assert [set(n) for n in report["nodes"]] == [NODE_KEYS] * 3
    assert [(n["name"], n["op"], n["output_shape"]) for n in report["nodes"]] == [
        ("dense_1", "dense", [4]), ("relu_1", "relu", [4]), ("dense_2", "dense", [2])]
    values = [*report["totals"].values(), *report["memory"].values(),
              *(v for n in report["nodes"] for k, v in n.items() if k in TOTAL_KEYS)]
    assert all(type(v) is int for v in values)


def test_json_spec_gives_the_same_report(cli, tmp_path: Path) -> None:
    as_json = """{"name": "net-3-4-2", "input": [3],
                  "layers": [{"op": "dense", "units": 4}, "relu", {"op": "dense", "units": 2}]}"""
    assert summary(cli, tmp_path, as_json, suffix=".json") == \
        summary(cli, tmp_path, CASES["3-4-2"][0])


def test_per_node_counts(cli, tmp_path: Path) -> None:
    nodes = {n["name"]: n for n in summary(cli, tmp_path, CASES["maxout"][0])["nodes"]}
    assert nodes["maxout_1"] == {
        "name": "maxout_1", "op": "maxout", "output_shape": [6], "neurons": 6,
        "weights": 3 * 6 * 10, "biases": 3 * 6, "other": 0, "params": 3 * 6 * 10 + 3 * 6,
        "macs": 3 * 6 * 10, "flops": 2 * 3 * 6 * 10}
    nodes = {n["name"]: n for n in summary(cli, tmp_path, CASES["prelu-per-unit"][0])["nodes"]}
    assert (nodes["prelu_1"]["other"], nodes["prelu_1"]["params"], nodes["prelu_1"]["neurons"]) \
        == (5, 5, 0)
    nodes = {n["name"]: n for n in summary(cli, tmp_path, CASES["dag-concat"][0])["nodes"]}
    assert nodes["cat"]["output_shape"] == [4 + 5]
    assert nodes["cat"]["params"] == nodes["cat"]["macs"] == 0


def test_cifar_macs_and_flops(cli, tmp_path: Path) -> None:
    report = summary(cli, tmp_path, CASES["cifar10-3072-100-10"][0])
    macs = 3072 * 100 + 100 * 10
    assert report["totals"]["macs"] == macs == 308_200
    assert report["totals"]["flops"] == 2 * macs
    assert report["totals"]["params"] == 308_310


def test_memory_estimate(cli, tmp_path: Path) -> None:
    params = 3 * 4 + 4 + 4 * 2 + 2
    memory = summary(cli, tmp_path, CASES["3-4-2"][0])["memory"]
    assert memory["batch_size"] == 64  # train.batch_size's default
    assert memory["params"] == memory["gradients"] == F32 * params
    assert memory["optimizer"] == 0  # plain SGD without L2 keeps no state
    assert memory["training"] == (memory["params"] + memory["gradients"] + memory["optimizer"]
                                  + memory["activations"] + memory["diagnostics"])
    per_sample, rest = divmod(memory["activations"], 64)
    assert rest == 0 and per_sample >= F32 * (3 + 4 + 2)  # at least input and outputs

    with_momentum = CASES["3-4-2"][0] + "train: {batch_size: 10, optimizer: {sgd: {momentum: 0.9}}}"
    memory = summary(cli, tmp_path, with_momentum)["memory"]
    assert (memory["batch_size"], memory["optimizer"]) == (10, F32 * params)  # the velocity
    assert memory["activations"] == 10 * per_sample
    memory = summary(cli, tmp_path, with_momentum, "--batch-size", "3")["memory"]
    assert (memory["batch_size"], memory["activations"]) == (3, 3 * per_sample)

    for optimizer, vectors in [("adam: {}", 2), ("adam: {amsgrad: true}", 3), ("adamw: {}", 2),
                               ("rmsprop: {}", 1), ("rmsprop: {momentum: 0.5, centered: true}", 3),
                               ("adagrad: {}", 1)]:
        text = CASES["3-4-2"][0] + f"train: {{optimizer: {{{optimizer}}}}}"
        steps = 8 if optimizer.startswith("adam") else 0  # Adam's int64 step count
        scratch = F32 * params  # fewer parameters than a chunk of the update
        assert summary(cli, tmp_path, text)["memory"]["optimizer"] == \
            vectors * F32 * params + steps + scratch, optimizer

    keeps_best = CASES["3-4-2"][0] + "train: {early_stopping: {patience: 2}}"
    kept = summary(cli, tmp_path, keeps_best)["memory"]
    assert kept["params"] == kept["best_params"] == F32 * params


def test_memory_limit_refuses_with_the_estimate(cli, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(CASES["cifar10-3072-100-10"][0]))
    result = cli("check", "--max-memory", "1M", path)
    assert result.exit_code == 2
    assert "training needs an estimated" in result.stderr
    assert "more than the limit of 976.6 KiB" in result.stderr
    assert "Traceback" not in result.stderr


BIG = """\
name: big
input: [4096]
layers:
{hidden}  - {{op: dense, units: 1000}}
"""
BIG_PARAMS = (4096 * 3000 + 3000) + 9 * (3000 * 3000 + 3000) + (3000 * 1000 + 1000)


def big_spec() -> str:
    return BIG.format(hidden="  - {op: dense, units: 3000}\n  - relu\n" * 10)


def test_big_spec_is_sized_without_allocating_it() -> None:
    assert BIG_PARAMS == 96_319_000
    text = big_spec()
    tracemalloc.start()
    try:
        report = size_graph(compile_spec(load_spec_text(text, "big.yaml")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert report.totals.params == BIG_PARAMS
    assert report.totals.weights == 4096 * 3000 + 9 * 3000 * 3000 + 3000 * 1000
    assert report.totals.neurons == 10 * 3000 + 1000
    assert report.memory.params == F32 * BIG_PARAMS


def test_big_spec_summary(cli, tmp_path: Path) -> None:
    report = summary(cli, tmp_path, big_spec(), "--max-memory", "1T")
    assert report["totals"]["params"] == BIG_PARAMS
    assert len(report["nodes"]) == 21
