"""What happens inside a network while it trains: the health of every activation on a
fixed probe set, and the size of every parameter tensor's gradient and update.

At initialization (epoch 0) and at the end of every diagnostic epoch, the probe samples
(up to ``PROBE_SAMPLES`` validation samples spread over the set, or training samples when
there is no validation split) run through an inference executor bound to the trained parameters.
For each activation (a standalone one, or one fused into a dense layer, named as in the
spec): the share of dead units (inactive on every probe sample: the activation table's
``inactive_at_most``; for prelu a negative or zero input; for maxout never), the share of
saturated outputs (in the table's flat tails), the mean and standard deviation of the
outputs, a histogram of them and, for maxout, each piece's share of the wins. During a
diagnostic epoch, a few evenly spread steps (``SAMPLED_STEPS``) also measure, per
parameter tensor, the norm of the loss gradient and of the update the optimizer applied,
over the norm of the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnc.base.activations import ACTIVATIONS
from nnc.compiler.plan import Plan
from nnc.compiler.state import PROBE_SAMPLES
from nnc.runtime.executor import Executor
from nnc.runtime.params import ParamStore

SAMPLED_STEPS = 8  # steps of a diagnostic epoch that measure gradients and updates
HISTOGRAM_BINS = 30


@dataclass(frozen=True)
class Watched:
    """A step whose output is an activation worth watching."""

    index: int  # of the step in the plan (and of its kernel in the executor)
    name: str  # reported under: the spec's name of the activation (or of the dense layer)
    kind: str  # relu, sigmoid, ..., prelu, maxout
    inactive_at_most: float | None
    saturated_outside: tuple[float, float] | None


def watched_steps(plan: Plan) -> list[Watched]:
    """The steps of ``plan`` that compute an activation, in order."""
    out = []
    for i, step in enumerate(plan.steps):
        node = step.node
        act = node.activation.op if node.activation is not None else node.op
        if act in ACTIVATIONS:
            entry = ACTIVATIONS[act]
            out.append(Watched(i, step.output, act, entry.inactive_at_most,
                               entry.saturated_outside))
        elif node.op == "prelu":
            out.append(Watched(i, step.output, "prelu", 0.0, None))
        elif node.op == "maxout":
            out.append(Watched(i, step.output, "maxout", None, None))
    return out


class Diagnostics:
    """Measures ``params`` (as ``plan`` lays them out) on the probe ``x``."""

    def __init__(self, plan: Plan, params: ParamStore, x: np.ndarray, y: np.ndarray,
                 every: int):
        """``x``, ``y``: the samples the probe is drawn from (see ``probe_rows``)."""
        self.plan, self.params, self.every = plan, params, every
        rows = probe_rows(len(x))
        self.probe = np.ascontiguousarray(x[rows], dtype=params.data.dtype)
        self.probe_y = np.asarray(y[rows])
        self.executor = Executor(plan, params, max(1, len(self.probe)), training=False)
        self.watched = watched_steps(plan)
        self.spans = [(s.param.name, s.offset, s.stop, s.param.role) for s in plan.spans]
        self.sums: dict[str, list[float]] = {}  # per tensor: grad, update/weight; samples
        self.reset()

    # ---------------------------------------------------------------- when to measure

    def due(self, epoch: int, epochs: int) -> bool:
        """Whether (1-based) ``epoch`` ends with a measurement."""
        return epoch % self.every == 0 or epoch == epochs

    def sample_every(self, batches: int) -> int:
        """Steps between measured steps in a diagnostic epoch of ``batches`` steps."""
        return max(1, math.ceil(batches / SAMPLED_STEPS))

    # ------------------------------------------------------------- during an epoch

    def reset(self) -> None:
        self.sums = {name: [0.0, 0.0, 0.0] for name, *_ in self.spans}

    def gradients(self, grad: np.ndarray) -> None:
        """After backprop, before the optimizer: the loss gradient's norms."""
        for name, start, stop, _ in self.spans:
            g = grad[start:stop]
            self.sums[name][0] += math.sqrt(float(np.dot(g, g)))

    def updates(self, update: np.ndarray) -> None:
        """After the optimizer's step, whose applied update ``update`` holds (the gradient
        buffer): ||update|| / ||w|| per tensor."""
        w_all = self.params.data
        for name, start, stop, _ in self.spans:
            u, w = update[start:stop], w_all[start:stop]
            w_norm = math.sqrt(float(np.dot(w, w)))
            sums = self.sums[name]
            sums[1] += math.sqrt(float(np.dot(u, u))) / w_norm if w_norm > 0 else 0.0
            sums[2] += 1

    def state(self) -> dict[str, list[float]]:
        """What a checkpoint in the middle of an epoch must keep."""
        return {k: list(v) for k, v in self.sums.items()}

    def load_state(self, sums: dict[str, list[float]]) -> None:
        self.reset()
        for name, values in sums.items():
            if name in self.sums and len(values) == 3:
                self.sums[name] = [float(v) for v in values]

    # ------------------------------------------------------------------ measuring

    def observe(self, histograms: bool = True) -> dict[str, Any]:
        """The measurements now: activations on the probe (with their ``histograms``),
        parameter norms, and the means of what the sampled steps measured (then reset)."""
        with np.errstate(all="ignore"):
            if len(self.probe):
                self.executor.forward(self.probe)
            nodes = {w.name: self.node_stats(w, histograms) for w in self.watched} \
                if len(self.probe) else {}
            params = {name: self.param_stats(name, start, stop, role)
                      for name, start, stop, role in self.spans}
        self.reset()
        return {"nodes": nodes, "params": params}

    def node_stats(self, w: Watched, histogram: bool = True) -> dict[str, Any]:
        out = self.executor.value(self.plan.steps[w.index].output)
        assert out is not None
        stats: dict[str, Any] = {"kind": w.kind, "mean": float(out.mean()),
                                 "std": float(out.std())}
        kernel = self.executor.kernels[w.index]
        if w.kind == "prelu":
            inactive = kernel.buffers["negative"][:len(out)] | (out == 0)
            stats["dead_fraction"] = float(inactive.all(axis=0).mean())
        elif w.inactive_at_most is not None:
            stats["dead_fraction"] = float((out <= w.inactive_at_most).all(axis=0).mean())
        else:
            stats["dead_fraction"] = None
        if w.saturated_outside is not None:
            low, high = w.saturated_outside
            stats["saturated_fraction"] = float(((out < low) | (out > high)).mean())
        else:
            stats["saturated_fraction"] = None
        if w.kind == "maxout":
            z = kernel.buffers["z"][:len(out)]  # [n, pieces, units]
            wins = np.bincount(z.argmax(axis=1).ravel(), minlength=z.shape[1])
            stats["piece_wins"] = (wins / wins.sum()).tolist()
        stats["histogram"] = _histogram(out) if histogram else None
        return stats

    def histogram_due(self, epoch: int, epochs: int) -> bool:
        """Whether the measurement at the end of (1-based) ``epoch`` draws histograms: the
        report shows them at initialization, in the middle and at the end."""
        middle = math.ceil(epochs / 2 / self.every) * self.every
        return epoch in (middle, epochs)

    def param_stats(self, name: str, start: int, stop: int, role: str) -> dict[str, Any]:
        w = self.params.data[start:stop]
        grad_sum, ratio_sum, samples = self.sums[name]
        stats: dict[str, Any] = {
            "norm": math.sqrt(float(np.dot(w, w))),
            "grad_norm": grad_sum / samples if samples else None,
            "update_ratio": ratio_sum / samples if samples else None,
        }
        if role == "slope":
            stats.update(min=float(w.min()), mean=float(w.mean()), max=float(w.max()))
        return stats


def _histogram(out: np.ndarray) -> dict[str, list[float]]:
    finite = out[np.isfinite(out)]
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS) if finite.size else \
        (np.zeros(HISTOGRAM_BINS, np.int64), np.linspace(0, 1, HISTOGRAM_BINS + 1))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def probe_rows(n: int) -> np.ndarray:
    """The probe's rows of n samples: all of them, or PROBE_SAMPLES spread evenly (the first
    ones could all be of one class: splits keep the data's order)."""
    return np.arange(n) if n <= PROBE_SAMPLES else \
        np.linspace(0, n - 1, PROBE_SAMPLES).round().astype(np.int64)



def assemble(initial: dict[str, Any] | None, history: list[Any],
             probe_samples: int) -> dict[str, Any] | None:
    """report.json's ``diagnostics``: every measurement of a run as lists aligned with
    ``epochs`` (0: the initialization), from the initial one and the epoch records'."""
    if initial is None:
        return None
    points = [(0, initial)] + [(r.epoch, r.diagnostics) for r in history
                               if r.diagnostics is not None]
    epochs = [e for e, _ in points]
    out: dict[str, Any] = {"epochs": epochs, "probe_samples": probe_samples,
                           "initial_loss": initial.get("loss"), "nodes": {}, "params": {}}
    for group in ("nodes", "params"):
        names = list(initial.get(group, {}))
        for name in names:
            first = initial[group][name]
            entry: dict[str, Any] = {"kind": first["kind"]} if "kind" in first else {}
            for key, value in first.items():
                if key == "kind":
                    continue
                if value is None and key in ("dead_fraction", "saturated_fraction"):
                    entry[key] = None  # the op cannot be dead or saturated
                    continue
                entry[key] = [m[group].get(name, {}).get(key) for _, m in points]
            out[group][name] = entry
    return out
