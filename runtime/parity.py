"""Proof that onnxruntime computes what the NumPy runtime computed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from nnc.base.coding import NO_CODING, SCORES, Coding
from nnc.base.errors import ExportError, ParityError
from nnc.compiler.onnx_export import export_onnx
from nnc.compiler.plan import Plan
from nnc.runtime import onnx_run
from nnc.runtime.data import Preprocess
from nnc.runtime.executor import Executor
from nnc.runtime.params import ParamStore

TOLERANCE = 1e-4  # relative to the largest score magnitude (at least 1)


@dataclass(frozen=True)
class Parity:
    samples: int
    max_abs_diff: float
    max_abs_score: float

    @property
    def relative(self) -> float:
        return self.max_abs_diff / max(1.0, self.max_abs_score)

    @property
    def ok(self) -> bool:
        return self.relative <= TOLERANCE

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "max_abs_diff": self.max_abs_diff,
                "relative_diff": self.relative, "tolerance": TOLERANCE, "ok": self.ok}


def numpy_scores(plan: Plan, params: ParamStore, x_raw: np.ndarray,
                 preprocess: Preprocess | None, coding: Coding = NO_CODING
                 ) -> tuple[np.ndarray, Executor]:
    """The NumPy runtime's scores for raw inputs (a table's cells, for a model of a table),
    as the exported model gives them (regression targets in their units), and the executor
    (for its node values)."""
    x = coding.encode(x_raw)
    x = preprocess.apply(x, inplace=coding.columns is not None) if preprocess is not None \
        else x  # in place only in encode's own array, never in x_raw
    executor = Executor(plan, params, max(len(x), 1), training=False)
    scores = executor.forward(np.ascontiguousarray(x, dtype=np.float32))
    return coding.targets_in_units(scores), executor


def check_parity(plan: Plan, params: ParamStore, model: onnx.ModelProto, x_raw: np.ndarray,
                 preprocess: Preprocess | None, threads: int | None = None,
                 coding: Coding = NO_CODING, file: str | None = None,
                 inputs: str = "validation samples") -> Parity:
    """Run both on ``x_raw`` (described as ``inputs`` in messages). Scores that are not
    finite in the NumPy runtime are an ExportError naming ``file`` (the weights overflow
    float32: both runtimes would give NaN); otherwise raise ParityError naming the first
    node where they disagree. Overflows are found here, never printed as NumPy warnings."""
    with np.errstate(all="ignore"):
        expected, executor = numpy_scores(plan, params, x_raw, preprocess, coding)
    bad = np.flatnonzero(~np.isfinite(expected.reshape(len(expected), -1)).all(axis=1))
    if len(bad):
        raise ExportError(f"the model's scores are not finite (NaN or infinite) on {len(bad)} "
                          f"of {len(expected)} {inputs} (the first: sample {bad[0]}): its "
                          "weights or input preprocessing overflow float32; not exported",
                          file=file)
    got, = onnx_run.run(onnx_run.session(model, threads), x_raw, [SCORES])
    parity = Parity(len(x_raw), difference(got, expected),
                    float(np.abs(expected).max(initial=0.0)))
    if not parity.ok:
        where = first_disagreement(plan, params, executor, x_raw, preprocess, model, coding)
        raise ParityError(f"onnxruntime disagrees with the NumPy runtime: max abs diff "
                          f"{parity.max_abs_diff:.3g} on {parity.samples} samples "
                          f"(relative {parity.relative:.3g} > {TOLERANCE:g}); {where}")
    return parity


def difference(theirs: np.ndarray, ours: np.ndarray) -> float:
    """The largest absolute difference of two arrays of one shape, where values that are
    non-finite the same way (both NaN, or the same infinity) agree, and a value that is
    finite in one and not in the other differs infinitely."""
    with np.errstate(all="ignore"):
        diff = np.abs(theirs.astype(np.float64) - ours.astype(np.float64))
    same = (theirs == ours) | (np.isnan(theirs) & np.isnan(ours))
    diff[same] = 0.0
    diff[np.isnan(diff)] = np.inf  # NaN against a number
    return float(diff.max(initial=0.0))


def first_disagreement(plan: Plan, params: ParamStore, executor: Executor, x_raw: np.ndarray,
                       preprocess: Preprocess | None, model: onnx.ModelProto,
                       coding: Coding = NO_CODING) -> str:
    """Export every node's value as an output and compare node by node."""
    opset = model.opset_import[0].version
    pre = (preprocess.shift, preprocess.scale) if preprocess is not None else None
    probe = export_onnx(plan.graph, params.state_dict(), opset=opset, preprocess=pre,
                        intermediates=True, coding=coding)
    sess = onnx_run.session(probe)
    names = [o.name for o in sess.get_outputs()]
    values = dict(zip(names, onnx_run.run(sess, x_raw, names)))
    for step in plan.steps:
        ours = executor.value(step.output)
        theirs = values.get(step.output)
        if theirs is None or ours is None:
            continue
        diff = difference(theirs, ours)
        largest = np.abs(ours[np.isfinite(ours)]).max(initial=0.0)
        if diff / max(1.0, float(largest)) > TOLERANCE:
            op = step.node.op + (f" + {step.node.activation.op}" if step.node.activation else "")
            return f"first disagreement at node {step.output!r} ({op}, max abs diff {diff:.3g})"
    return "no single node disagrees beyond the tolerance (the differences add up)"
