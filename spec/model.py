"""The root of a spec file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from nnc.base.losses import LOSSES
from nnc.spec.base import Name, Shape, Strict
from nnc.spec.ops import OP_SPECS, Op
from nnc.spec.sections import DataSpec, ExportSpec, LossName, TrainSpec
from nnc.spec.sweep import SweepSpec


def _bare_word(value: Any) -> Any:
    """A parameterless op may be written as a bare word: ``- relu`` is ``- {op: relu}``."""
    return {"op": value} if isinstance(value, str) else value


BARE_WORDS = tuple(tag for tag, cls in OP_SPECS.items() if cls.arity == "one"
                   and all(not f.is_required() for n, f in cls.model_fields.items() if n != "op"))
"""The ops that need no field but ``op`` (and read one input), written as a bare word."""

Layer = Annotated[Op, BeforeValidator(_bare_word,
                                      json_schema_input_type=Op | Literal[BARE_WORDS])]


class GraphSpec(Strict):
    """Any acyclic graph: named nodes reading named inputs."""

    inputs: dict[Name, Shape] = Field(min_length=1, max_length=1,
                                      description="the one graph input and its feature shape")
    nodes: list[Layer] = Field(min_length=1, max_length=100_000)
    output: Name


class Spec(Strict):
    """A network, and optionally how to train and export it."""

    name: Name
    description: str = Field("", max_length=10_000)
    input: Shape | None = None
    layers: list[Layer] | None = Field(None, min_length=1, max_length=100_000)
    graph: GraphSpec | None = None
    loss: LossName | None = None
    data: DataSpec | None = None
    train: TrainSpec = TrainSpec()
    export: ExportSpec = ExportSpec()
    sweep: SweepSpec | None = Field(None, description="what `nnc sweep` varies and optimizes")

    @field_validator("graph")
    @classmethod
    def _one_form(cls, graph: GraphSpec | None, info: ValidationInfo) -> GraphSpec | None:
        if graph is not None and (info.data.get("input") or info.data.get("layers")):
            raise ValueError("give either `input` + `layers` (a chain) or `graph`, not both")
        return graph

    @field_validator("train")
    @classmethod
    def _metric_fits_loss(cls, train: TrainSpec, info: ValidationInfo) -> TrainSpec:
        stopping, loss = train.early_stopping, info.data.get("loss")
        if stopping and stopping.metric == "val_accuracy" and loss \
                and "accuracy" not in LOSSES[loss].metrics:
            raise ValueError(f"early_stopping.metric val_accuracy needs a classification loss "
                             f"({loss} has no accuracy); use val_loss")
        return train

    @field_validator("export")
    @classmethod
    def _probabilities_fit_loss(cls, export: ExportSpec, info: ValidationInfo) -> ExportSpec:
        loss = info.data.get("loss")
        if export.onnx.probabilities is True and (loss is None or LOSSES[loss].probability is None):
            having = " or ".join(name for name, entry in LOSSES.items() if entry.probability)
            raise ValueError(f"onnx.probabilities needs a loss that gives probabilities "
                             f"({having}); the scores of {loss or 'no loss'} are not "
                             "probabilities")
        return export

    @model_validator(mode="after")
    def _has_network(self) -> "Spec":
        if self.graph is None and self.layers is not None and self.input is None:
            if self.data is None:  # with data, the data says how many features there are
                raise ValueError("no network: missing input, the features per sample (e.g. "
                                 "`input: [30]`); or give `data` and nnc counts them there")
            if self.data.cifar10 is not None:
                raise ValueError("no network: missing input (CIFAR-10's is [3072], or "
                                 "[3, 32, 32])")
        if self.graph is None and self.layers is None:
            missing = "layers" if self.input is not None else \
                "input + layers (a chain) or graph (named nodes)"
            raise ValueError(f"no network: missing {missing}")
        return self
