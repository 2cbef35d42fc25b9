"""The `sweep` section of a spec: which fields `nnc sweep` varies, over what values, and
what it optimizes (Ludwig's hyperopt vocabulary; Optuna's samplers and pruners)."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nnc.base.losses import LOSSES
from nnc.spec.base import Strict
from nnc.spec.messages import did_you_mean


@dataclass(frozen=True)
class Metric:
    """A figure a sweep can optimize: its better direction, whether the history has it
    every epoch (so pruners can read it), and the losses that give it."""

    goal: Literal["maximize", "minimize"]
    per_epoch: bool
    needs: Literal["any", "classification", "two classes", "regression"] = "any"


METRICS: dict[str, Metric] = {
    "val_loss": Metric("minimize", True),
    "train_loss": Metric("minimize", True),
    "val_accuracy": Metric("maximize", True, "classification"),
    "train_accuracy": Metric("maximize", True, "classification"),
    "macro_f1": Metric("maximize", False, "classification"),
    "roc_auc": Metric("maximize", False, "two classes"),
    "average_precision": Metric("maximize", False, "two classes"),
    "mae": Metric("minimize", False, "regression"),
    "rmse": Metric("minimize", False, "regression"),
    "r2": Metric("maximize", False, "regression"),
}
"""The figures of report.json a sweep can rank trials by: ``train`` (the four losses and
accuracies, with the weights training kept) or ``metrics`` (on the validation split)."""

Number = int | float
MAX_GRID = 100_000  # trials of a grid; more is a typo (or a sweep of weeks)


class Values(Strict):
    """Try each of these values (a categorical parameter; the only kind a grid takes)."""

    values: list[Any] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _distinct(self) -> "Values":
        seen: dict[Any, Any] = {}
        for value in self.values:
            key = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) \
                else value  # 1, 1.0 and true are one value to Optuna, as to Python
            if key in seen:
                same = "is listed twice" if json.dumps(seen[key]) == json.dumps(value) else \
                    f"and {json.dumps(seen[key])} are the same value"
                raise ValueError(f"{json.dumps(value)} {same}: list each value once")
            seen[key] = value
        return self


class Span(Strict):
    """A number between ``low`` and ``high`` (integers when both are), optionally on a log
    scale or in steps of ``step``."""

    low: Number
    high: Number
    log: bool = False
    step: Number | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Span":
        if not self.low < self.high:
            raise ValueError(f"low must be below high (got low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log needs low above 0 (got {self.low})")
        if self.log and self.step is not None:
            raise ValueError("give either log or step, not both")
        return self

    @property
    def integer(self) -> bool:
        return all(isinstance(v, int) and not isinstance(v, bool)
                   for v in (self.low, self.high, self.step if self.step is not None else 1))


def _kind(value: Any) -> str:
    """Which model reads a parameter: one with ``values`` lists them, else it is a span."""
    listed = isinstance(value, Values) or (isinstance(value, dict) and "values" in value)
    return "listed" if listed else "span"


# told apart by their keys, so that an error speaks of the one the user meant
Parameter = Annotated[Annotated[Values, Tag("listed")] | Annotated[Span, Tag("span")],
                      Discriminator(_kind)]


class SweepSpec(Strict):
    """What `nnc sweep` searches: each parameter is a dotted path of the spec (as
    ``--set`` takes it) with the values to try."""

    metric: str = Field("val_loss", description=f"one of: {', '.join(METRICS)}")
    goal: Literal["maximize", "minimize"] | None = Field(
        None, description="default: maximize for accuracy-like metrics, minimize for losses")
    trials: int | None = Field(None, ge=1, le=MAX_GRID,
                               description="default: the grid's size, else 20")
    sampler: Literal["grid", "random", "tpe"] | None = Field(
        None, description="default: grid when every parameter lists values, else random")
    pruner: Literal["none", "median", "halving"] = "none"
    seed: int = Field(0, ge=0, le=2**32 - 1)
    parameters: dict[str, Parameter] = Field(min_length=1, max_length=64)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}" + did_you_mean(metric, METRICS))
        return metric

    @field_validator("pruner")
    @classmethod
    def _pruner_reads_every_epoch(cls, pruner: str, info: ValidationInfo) -> str:
        metric = info.data.get("metric")
        if pruner != "none" and metric in METRICS and not METRICS[metric].per_epoch:
            raise ValueError(f"pruner {pruner} reads the metric every epoch, but {metric} is "
                             "measured once, after training: use one of "
                             + ", ".join(m for m, e in METRICS.items() if e.per_epoch))
        return pruner

    @field_validator("parameters")
    @classmethod
    def _fit_the_sampler(cls, parameters: dict[str, Parameter], info: ValidationInfo
                         ) -> dict[str, Parameter]:
        sampler, trials = info.data.get("sampler"), info.data.get("trials")
        ranges = [p for p, v in parameters.items() if isinstance(v, Span)]
        if sampler == "grid" and ranges:
            raise ValueError(f"sampler grid needs listed values, but {ranges[0]} has low/high: "
                             "list its values, or use sampler random or tpe")
        if sampler in (None, "grid") and not ranges:
            size = math.prod(len(cast(Values, v).values) for v in parameters.values())
            if size > MAX_GRID:
                raise ValueError(f"the grid has {size:,} points, more than {MAX_GRID:,}")
            if trials is not None and trials > size:
                raise ValueError(f"trials is {trials}, but the grid has only {size} points "
                                 "(a grid tries each once)")
        return parameters

    @property
    def chosen_sampler(self) -> str:
        if self.sampler is not None:
            return self.sampler
        return "grid" if all(isinstance(v, Values) for v in self.parameters.values()) \
            else "random"

    @property
    def chosen_goal(self) -> Literal["maximize", "minimize"]:
        return self.goal or METRICS[self.metric].goal

    @property
    def grid_size(self) -> int:
        return math.prod(len(v.values) for v in self.parameters.values()
                         if isinstance(v, Values))

    @property
    def trial_count(self) -> int:
        if self.chosen_sampler == "grid":
            return self.trials or self.grid_size
        return self.trials or 20

    def corners(self, limit: int = 4096) -> list[dict[str, Any]]:
        """Parameter values spanning what the trials can be: every listed value and each
        range's two ends, combined (at most ``limit`` combinations, the first ones): the
        trials the sweep checks and sizes before it starts."""
        options = [v.values if isinstance(v, Values) else [v.low, v.high]
                   for v in self.parameters.values()]
        return [dict(zip(self.parameters, combo))
                for combo in itertools.islice(itertools.product(*options), limit)]


def override(path: str, value: Any) -> str:
    """A trial's value as a ``--set`` override (JSON is YAML, and keeps the value's type)."""
    return f"{path}={json.dumps(value)}"


def metric_problem(metric: str, loss: str | None, classes: int | None = None) -> str | None:
    """Why a run with ``loss`` (and, when known, ``classes`` output classes) cannot give
    ``metric``."""
    needs = METRICS[metric].needs
    if needs == "any":
        return None
    entry = LOSSES.get(loss or "")
    if entry is None:
        return f"metric {metric} needs a loss to train with"
    if needs == "regression" and entry.classification:
        return f"metric {metric} is a regression metric, but {loss} classifies"
    if needs != "regression" and not entry.classification:
        return f"metric {metric} needs a classification loss; {loss} is a regression loss"
    if needs == "two classes" and classes is not None and classes != 2:
        return f"metric {metric} needs two classes, but the network tells {classes} apart"
    return None


def path_problem(data: Any, dotted: str) -> str | None:
    """Why ``dotted`` names no field of the spec ``data`` (its model dump, every default
    filled in), or None."""
    parts = dotted.split(".")
    if parts[0] == "sweep":
        return "a sweep cannot vary its own section"
    node, seen = data, cast(list[str], [])
    for part in parts:
        here = ".".join(seen) or "the spec"
        if isinstance(node, dict):
            if part not in node:
                return f"{dotted!r} names no field of the spec: {here} has no {part!r}" \
                    + did_you_mean(part, [k for k in node])
            node = node[part]
        elif isinstance(node, list):
            if not part.isascii() or not part.isdigit() or int(part) >= len(node):
                return f"{dotted!r} names no field of the spec: {here} is a list of " \
                       f"{len(node)}, and {part!r} is not an index in it"
            node = node[int(part)]
        else:
            shown = "null (not set)" if node is None else repr(node)
            return f"{dotted!r} names no field of the spec: {here} is {shown}, with no fields"
        seen.append(part)
    return None
