"""What training records and reports: the epoch records, the result, the trainer's
counters and state, and the callbacks that receive progress.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from nnc.runtime.params import ParamStore

# the constraints pydantic checks when a checkpoint's counters are read back
Count = Annotated[int, Field(ge=0)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


@dataclass
class EpochRecord:
    """One row of the history. ``train_*`` are running means over the epoch's batches
    (with dropout and noise active); ``val_*`` are computed in inference mode."""

    epoch: Annotated[int, Field(ge=1)]
    lr: Amount
    train_loss: Amount
    train_accuracy: Annotated[float, Field(ge=0, le=1)] | None
    val_loss: Amount | None
    val_accuracy: Annotated[float, Field(ge=0, le=1)] | None
    seconds: Amount
    diagnostics: dict[str, Any] | None = None  # on a diagnostic epoch (runtime.diagnostics)

    def to_dict(self) -> dict[str, Any]:
        """The record's figures (its diagnostics go to report.json's ``diagnostics``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "diagnostics"}


@dataclass
class TrainResult:
    """The history, and final metrics in inference mode with the weights kept.
    ``samples_per_second`` counts the whole training loop (validation and checkpoints
    included), over every session of a resumed run."""

    history: list[EpochRecord]
    epochs_run: int
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    samples_per_second: float
    train_loss: float | None
    train_accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["history"] = [r.to_dict() for r in self.history]
        out["final_loss"] = self.history[-1].train_loss if self.history else self.train_loss
        return out


class Weights(Mapping[str, np.ndarray]):
    """The current parameters by name, read-only (views the trainer goes on updating)."""

    def __init__(self, params: ParamStore):
        self._views = params.views

    def __getitem__(self, name: str) -> np.ndarray:
        view: np.ndarray = self._views[name].view()
        view.flags.writeable = False
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


class Callback:
    """Receives progress; every method is optional. ``on_epoch`` gets the epoch's record
    (with its diagnostics on a diagnostic epoch) and the current weights, read-only."""

    def on_batch(self, epoch: int, batch: int, batches: int) -> None:
        pass

    def on_epoch(self, record: EpochRecord, weights: Weights) -> None:
        pass

    def on_note(self, text: str) -> None:
        """Something the user should know (e.g. where a resumed run continues from)."""


class FunctionCallback(Callback):
    """A plain function as a callback: called with (record) or (record, weights) at the
    end of every epoch."""

    def __init__(self, function: Callable[..., Any]):
        self.function = function
        try:
            parameters = inspect.signature(function).parameters.values()
            positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY,
                                                             p.POSITIONAL_OR_KEYWORD)]
            self.with_weights = len(positional) >= 2 or any(
                p.kind == p.VAR_POSITIONAL for p in parameters)
        except (TypeError, ValueError):  # a builtin without a signature
            self.with_weights = True

    def on_epoch(self, record: EpochRecord, weights: Weights) -> None:
        if self.with_weights:
            self.function(record, weights)
        else:
            self.function(record)


def as_callback(callback: Any) -> Callback:
    """A Callback from an object with some of its methods, a plain function, or None."""
    if callback is None:
        return Callback()
    if isinstance(callback, Callback):
        return callback
    if hasattr(callback, "on_epoch") or hasattr(callback, "on_batch") \
            or hasattr(callback, "on_note"):
        return _Duck(callback)
    if callable(callback):
        return FunctionCallback(callback)
    raise TypeError(f"callback must be a function or an object with on_epoch, not "
                    f"{type(callback).__name__}")


class _Duck(Callback):
    """An object with some of on_batch, on_epoch(record, weights), on_note."""

    def __init__(self, target: Any):
        self.target = target
        if hasattr(target, "on_batch"):
            self.on_batch = target.on_batch  # type: ignore[method-assign]  # as it is

    def on_epoch(self, record: EpochRecord, weights: Weights) -> None:
        if hasattr(self.target, "on_epoch"):
            self.target.on_epoch(record, weights)

    def on_note(self, text: str) -> None:
        if hasattr(self.target, "on_note"):
            self.target.on_note(text)


@dataclass
class TrainState:
    """The trainer's counters (its arrays and history aside)."""

    epoch: Count = 0  # epochs completed
    batch: Count = 0  # batches completed in the current epoch
    loss_sum: Amount = 0.0  # of the current epoch so far
    correct: Count = 0
    epoch_seconds: Amount = 0.0
    best_metric: Annotated[float, Field(allow_inf_nan=False)] | None = None
    best_epoch: Annotated[int, Field(ge=1)] | None = None
    bad_epochs: Count = 0
    stopped_early: bool = False
    train_seconds: Amount = 0.0  # wall time of the training loop, every session together
    samples_seen: Count = 0
    first_loss: Amount | None = None  # of the run's first step: what a blow-up is measured by
    initial: dict[str, Any] | None = None  # the diagnostics at initialization (epoch 0)
    measuring: dict[str, list[float]] | None = None  # a diagnostic epoch's sums so far


@dataclass
class TrainerState:
    """All a run needs to continue exactly: ``arrays`` (params, the optimizer's state, best,
    order), the counters, the random generators' states and the history."""

    arrays: dict[str, np.ndarray]
    counters: TrainState
    rng: dict[str, Mapping[str, Any]]
    history: list[EpochRecord] = field(default_factory=list)


class StateMismatch(ValueError):
    """A state that does not fit this trainer (another network, data or batch size)."""
