"""Small builders shared by tests: specs from text, plans, parameters, executors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnc.compiler import compile_spec, lower_to_plan
from nnc.compiler.plan import Plan
from nnc.runtime.params import ParamStore
from nnc.spec import load_spec_text

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"

# One small network per op: dense -> OP -> dense, or a graph for the joins.
CHAIN = """
name: t
input: [4]
layers:
  - {{op: dense, units: 5}}
  - {layer}
  - {{op: dense, units: {outputs}}}
"""

OP_LAYERS = {
    "dense": "{op: dense, units: 6, activation: leaky_relu}",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "{op: leaky_relu, alpha: 0.1}",
    "prelu": "prelu",
    "maxout": "{op: maxout, units: 4, pieces: 3}",
    "dropout": "{op: dropout, p: 0.3}",
    "gaussian_noise": "{op: gaussian_noise, std: 0.5}",
}

JOIN = """
name: j
graph:
  inputs: {{x: [4]}}
  nodes:
    - {{name: a, op: dense, units: 5, input: x}}
    - {{name: b, op: relu, input: a}}
    - {{name: c, op: dense, units: 5, input: b}}
    - {{name: d, op: dense, units: 5, input: x}}
    - {{name: j, op: {op}, inputs: [c, b, d]}}
    - {{name: out, op: dense, units: {outputs}, input: j}}
  output: out
"""


def op_spec(op: str, outputs: int = 3, extra: str = "") -> str:
    """The text of a small spec exercising ``op``."""
    if op in ("add", "concat"):
        return JOIN.format(op=op, outputs=outputs) + extra
    return CHAIN.format(layer=OP_LAYERS[op], outputs=outputs) + extra


def plan_of(text: str, fuse: bool = True) -> Plan:
    return lower_to_plan(compile_spec(load_spec_text(text)), fuse=fuse)


def random_params(plan: Plan, dtype=np.float64, seed: int = 0) -> ParamStore:
    """Initialized parameters, perturbed so that biases and slopes are not all equal."""
    params = ParamStore(plan, dtype).initialize(seed)
    params.data += np.random.default_rng(seed + 1).standard_normal(params.data.shape) * 0.1
    return params


def random_labels(loss: str, n: int, outputs: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "mse":
        return rng.standard_normal((n, outputs))
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, n)
    return rng.integers(0, outputs, n)
