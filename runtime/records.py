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


class Hooks:
    """What the trainer calls, made from whatever a user gave as a callback: a Callback, an
    object with any of ``on_batch``, ``on_epoch`` and ``on_note``, or a plain function (of
    the end of an epoch). ``on_epoch`` may take (record) or (record, weights)."""

    def __init__(self, callback: Any):
        if callback is not None and not isinstance(callback, Callback) and callable(callback) \
                and not any(hasattr(callback, m) for m in ("on_batch", "on_epoch", "on_note")):
            epoch: Any = callback  # a plain function
            batch = note = None
        else:
            epoch = getattr(callback, "on_epoch", None)
            batch = getattr(callback, "on_batch", None)
            note = getattr(callback, "on_note", None)
            if isinstance(callback, Callback):  # the base class's methods do nothing
                batch = batch if type(callback).on_batch is not Callback.on_batch else None
        if callback is not None and epoch is None and batch is None and note is None:
            raise TypeError("callback must be a function or an object with on_epoch, on_batch "
                            f"or on_note, not {type(callback).__name__}")
        self.on_batch: Callable[[int, int, int], Any] | None = batch
        self.on_note: Callable[[str], Any] | None = note
        self._epoch, self._with_weights = epoch, epoch is not None and _takes_two(epoch)

    def on_epoch(self, record: EpochRecord, weights: Weights) -> None:
        if self._epoch is None:
            return
        if self._with_weights:
            self._epoch(record, weights)
        else:
            self._epoch(record)


def _takes_two(function: Callable[..., Any]) -> bool:
    """Whether ``function`` accepts two positional arguments (else it gets one)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


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
