"""Warnings that teach: what the diagnostics of a run say went wrong, and what to try.

Each rule reads the run's history and diagnostics and gives at most one warning per node
or parameter: a code, where and when, the value that crossed its threshold, and a
message naming the node and the change to try. The thresholds are documented in the
README (Warnings).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from nnc.base.activations import ACTIVATIONS

DEAD = 0.5  # more than half of a layer's units dead
SATURATED = 0.5  # more than half of a sigmoid/tanh layer's outputs in its flat tails
VANISHING = 100.0  # a layer's gradient this many times smaller than the last layer's
HEALTHY_UPDATE = 1e-3  # the update/weight ratio CS231n's notes call healthy
UPDATE_LOW, UPDATE_HIGH = 1e-6, 1e-1  # a median update/weight ratio outside is a warning
RISING = 3  # evaluations since the lowest validation loss, at least, for overfitting
RISE = 0.1  # the recent validation loss this far above its lowest, the training loss lower
APART = 2.0  # ... and this many times the training loss: a gap, not noise
GAP = 0.15  # training accuracy this much above the validation accuracy
CHANCE_MARGIN = 0.02  # accuracy within this of always answering the commonest class
INITIAL_LOSS = 2.0  # the first softmax loss more than this many times from ln(classes)


@dataclass
class HealthWarning:
    """One warning of a run (``report.json``'s ``warnings``)."""

    code: str
    message: str
    node: str | None = None
    epoch: int | None = None
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    """What the rules read: the history (report.json's train.history), the diagnostics
    (report.json's diagnostics), the loss, the final accuracies, the share of the
    commonest class in the training labels, and the learning rate."""

    history: list[dict[str, Any]]
    diagnostics: dict[str, Any] | None
    loss: str
    train_accuracy: float | None
    val_accuracy: float | None
    majority: float | None
    classes: int | None
    lr: float
    output: str = ""  # the node giving the scores: the gradients are compared with its
    lr_field: str = "train.optimizer.sgd.lr"


def warnings_of(run: Run) -> list[HealthWarning]:
    """Every warning the run earns, in the order of the rules."""
    out: list[HealthWarning] = []
    for rule in RULES.values():
        out.extend(rule(run))
    return out


def _series(run: Run, group: str, name: str, key: str) -> list[tuple[int, float]]:
    """(epoch, value) of a diagnostic, where it was measured."""
    d = run.diagnostics
    if not d or name not in d.get(group, {}):
        return []
    values = d[group][name].get(key)
    if not isinstance(values, list):
        return []
    return [(e, v) for e, v in zip(d["epochs"], values) if v is not None and math.isfinite(v)]


def initial_loss(run: Run) -> list[HealthWarning]:
    d = run.diagnostics
    first = d.get("initial_loss") if d else None
    if run.loss != "softmax_cross_entropy" or first is None or not run.classes:
        return []
    expected = math.log(run.classes)
    if expected / INITIAL_LOSS <= first <= expected * INITIAL_LOSS:
        return []
    return [HealthWarning("initial_loss", f"the loss at initialization is {first:.3g}, far from "
                    f"ln({run.classes}) = {expected:.3g}, what small random weights give: the "
                    "initial weights are too large (try init: he or xavier, or a smaller "
                    "normal(std)) or the inputs are not scaled (data.standardize: true)",
                    epoch=0, value=first)]


def dead_units(run: Run) -> list[HealthWarning]:
    out = []
    for name, node in ((run.diagnostics or {}).get("nodes") or {}).items():
        series = _series(run, "nodes", name, "dead_fraction")
        if not series or series[-1][1] <= DEAD:
            continue
        since = series[-1][0]
        for epoch, value in reversed(series):
            if value <= DEAD:
                break
            since = epoch
        value, kind = series[-1][1], node["kind"]
        entry = ACTIVATIONS.get(kind)
        if entry is not None and entry.dies:
            what = (f"are dead: inactive on every probe sample since epoch {since}, they pass "
                    "no gradient and will not recover")
            fix = "or use leaky_relu or elu, or init: he"
        else:
            what = (f"are inactive on every probe sample since epoch {since}: they pass only "
                    "their negative side's small share of the gradient, and the layer acts "
                    "almost linearly")
            fix = "or init: he"
        out.append(HealthWarning(
            "dead_units", f"{value:.0%} of {name}'s units ({kind}) {what}. Lower the learning "
            f"rate ({run.lr_field} is {run.lr:g}; try {run.lr / 10:g}), {fix}", node=name,
            epoch=since, value=value))
    return out


def saturated(run: Run) -> list[HealthWarning]:
    out = []
    for name, node in ((run.diagnostics or {}).get("nodes") or {}).items():
        series = _series(run, "nodes", name, "saturated_fraction")
        if not series:
            continue
        epoch, value = max(series, key=lambda s: s[1])
        if value <= SATURATED:
            continue
        out.append(HealthWarning(
            "saturated", f"{value:.0%} of {name}'s outputs ({node['kind']}) lie in its flat "
            f"tails at epoch {epoch}: their gradient is nearly 0, so the layers before learn "
            "slowly. Use a smaller init (xavier), standardize the inputs, or use relu",
            node=name, epoch=epoch, value=value))
    return out


def _weights(run: Run) -> list[str]:
    params = ((run.diagnostics or {}).get("params") or {})
    return [name for name in params if name.endswith(".weight")]


def vanishing_gradients(run: Run) -> list[HealthWarning]:
    weights = _weights(run)
    last = f"{run.output}.weight" if f"{run.output}.weight" in weights else \
        (weights[-1] if weights else None)
    if last is None or len(weights) < 2:
        return []
    reference = dict(_series(run, "params", last, "grad_norm"))
    out = []
    for name in weights:
        if name == last:
            continue
        ratios = [(e, reference[e] / g if g > 0 else math.inf)
                  for e, g in _series(run, "params", name, "grad_norm")
                  if e in reference and reference[e] > 0]
        if not ratios:
            continue
        epoch, ratio = ratios[-1]
        if ratio >= VANISHING:
            size = f"{name} gets no gradient at all at epoch {epoch}, while the output layer " \
                f"({last}) does" if math.isinf(ratio) else f"the gradient of {name} is " \
                f"{ratio:.3g} times smaller than the output layer's ({last}) at epoch {epoch}"
            out.append(HealthWarning(
                "vanishing_gradients", f"{size}: the layers before barely learn. Saturating "
                "activations "
                "(sigmoid, tanh), dead units or a deep net with a poor init do this: try relu, "
                "init: he or xavier", node=name.rsplit(".", 1)[0], epoch=epoch,
                value=ratio if math.isfinite(ratio) else None))
    return out


def update_ratio(run: Run) -> list[HealthWarning]:
    out = []
    for name in _weights(run):
        series = _series(run, "params", name, "update_ratio")
        if not series:
            continue
        values = sorted(v for _, v in series)
        median = values[len(values) // 2]
        now = f"{run.lr_field} is {run.lr:g}"
        if median > UPDATE_HIGH:
            advice = f"far above {HEALTHY_UPDATE:g}: the learning rate is too high ({now}; " \
                     f"try {run.lr / 10:g})"
        elif median < UPDATE_LOW:
            advice = f"far below {HEALTHY_UPDATE:g}: the learning rate is too low ({now}; " \
                     f"try {run.lr * 10:g})"
        else:
            continue
        out.append(HealthWarning("update_ratio", f"each step changes {name} by {median:.2g} of its "
                           f"size (median over the run), {advice}",
                           node=name.rsplit(".", 1)[0], epoch=series[-1][0], value=median))
    return out


def overfitting(run: Run) -> list[HealthWarning]:
    rows = [r for r in run.history if r.get("val_loss") is not None]
    if rows:
        best = min(range(len(rows)), key=lambda i: rows[i]["val_loss"])
        low, last = rows[best], rows[-1]
        recent = rows[-RISING:]
        val = sum(r["val_loss"] for r in recent) / len(recent)
        train = sum(r["train_loss"] for r in recent) / len(recent)
        if len(rows) - 1 - best >= RISING and val > low["val_loss"] * (1 + RISE) \
                and train < low["train_loss"] and val > APART * train:
            return [HealthWarning(
                "overfitting", f"the validation loss rose from {low['val_loss']:.4g} (epoch "
                f"{low['epoch']}) to {last['val_loss']:.4g} (epoch {last['epoch']}) while the "
                "training loss fell: the network memorizes its training set. Add L2 "
                "(train.l2) or dropout, use a smaller network or more data, or stop early "
                "(train.early_stopping)", epoch=last["epoch"],
                value=last["val_loss"] / low["val_loss"] - 1)]
    if run.train_accuracy is not None and run.val_accuracy is not None:
        gap = run.train_accuracy - run.val_accuracy
        if gap > GAP:
            return [HealthWarning(
                "overfitting", f"training accuracy {run.train_accuracy:.3f} is {gap:.2f} above "
                f"the validation accuracy {run.val_accuracy:.3f}: the network memorizes its "
                "training set. Add L2 (train.l2) or dropout, use a smaller network or more "
                "data", epoch=run.history[-1]["epoch"] if run.history else None, value=gap)]
    return []


def no_learning(run: Run) -> list[HealthWarning]:
    if not run.history:
        return []
    first, last = run.history[0]["train_loss"], run.history[-1]["train_loss"]
    accuracy = run.val_accuracy if run.val_accuracy is not None else run.train_accuracy
    if accuracy is not None and run.majority is not None \
            and run.majority + CHANCE_MARGIN < 1 and accuracy <= run.majority + CHANCE_MARGIN:
        return [HealthWarning(
            "no_learning", f"the final accuracy {accuracy:.3f} is no better than always "
            f"answering the commonest class ({run.majority:.3f}): the network learned "
            f"nothing. Check the learning rate ({run.lr_field} is {run.lr:g}), the "
            "activations (dead_units?) and the data", epoch=run.history[-1]["epoch"],
            value=accuracy)]
    if len(run.history) > 1 and last >= first:
        return [HealthWarning(
            "no_learning", f"the training loss did not fall ({first:.4g} in epoch 1, "
            f"{last:.4g} in epoch {run.history[-1]['epoch']}): try another learning rate "
            f"({run.lr_field} is {run.lr:g})", epoch=run.history[-1]["epoch"], value=last)]
    return []


# each rule by the code of the warnings it raises, in the order they are reported
RULES: dict[str, Callable[[Run], list[HealthWarning]]] = {
    rule.__name__: rule for rule in (initial_loss, dead_units, saturated, vanishing_gradients,
                                     update_ratio, overfitting, no_learning)}
