"""Small builders shared by tests: specs from text, plans, parameters, executors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnc.base.losses import LOSSES
from nnc.compiler import compile_spec, lower_to_plan
from nnc.compiler.plan import Plan
from nnc.runtime.params import ParamStore
from nnc.spec import OP_SPECS, load_spec_text

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"

# One small network per op of the registry: dense -> OP -> dense, or a graph for the joins.
CHAIN = """
name: t
input: [4]
layers:
  - {{op: dense, units: 5}}
  - {layer}
  - {{op: dense, units: {outputs}}}
"""

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


def example_layer(op: str) -> str:
    """A layer of ``op`` written from its spec model: the required fields (units) get 4,
    the rest their defaults."""
    model = OP_SPECS[op]
    fields = "".join(f", {name}: 4" for name, f in model.model_fields.items()
                     if f.is_required() and name != "op")
    return f"{{op: {op}{fields}}}"


def op_spec(op: str, outputs: int = 3, extra: str = "") -> str:
    """The text of a small spec exercising ``op`` (an activation after a dense layer is
    fused into it unless the plan is lowered with ``fuse=False``)."""
    if OP_SPECS[op].arity == "many":
        return JOIN.format(op=op, outputs=outputs) + extra
    return CHAIN.format(layer=example_layer(op), outputs=outputs) + extra


def plan_of(text: str, fuse: bool = True) -> Plan:
    return lower_to_plan(compile_spec(load_spec_text(text)), fuse=fuse)


def random_params(plan: Plan, dtype=np.float64, seed: int = 0) -> ParamStore:
    """Initialized parameters, perturbed so that biases and slopes are not all equal."""
    params = ParamStore(plan, dtype).initialize(seed)
    params.data += np.random.default_rng(seed + 1).standard_normal(params.data.shape) * 0.1
    return params


def random_labels(loss: str, n: int, outputs: int, rng: np.random.Generator) -> np.ndarray:
    """Labels of the kind ``loss`` takes (its entry in the loss table says which)."""
    kind = LOSSES[loss].labels
    if kind == "targets":
        return rng.standard_normal((n, outputs))
    return rng.integers(0, 2 if kind == "binary" else outputs, n)


def write_three_classes(root: Path) -> np.ndarray:
    """root/data.npz: 60 samples of 4 random features in 3 classes (by the signs of the
    first two); returns x."""
    x = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
    np.savez(root / "data.npz", x=x, y=(x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0))
    return x


SPIRAL_SWEEP = """
name: spiral-sweep
input: [2]
layers:
  - {op: dense, units: 8}
  - relu
  - {op: dense, units: 3}
loss: softmax_cross_entropy
data: {spiral: {classes: 3, points: 60}, val_split: 0.3}
train: {epochs: 60, batch_size: 126, optimizer: {sgd: {lr: 1.0}}}
"""
"""The small spiral net the sweep tests vary (append a `sweep` section)."""


def trial_weights(folder: Path, number: int | str) -> Path:
    """A sweep trial's weights.npz in the sweep ``folder``."""
    from nnc.sweep_driver import trial_folder

    return trial_folder(folder, int(number)) / "weights.npz"
