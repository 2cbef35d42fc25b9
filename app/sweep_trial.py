"""One trial of a sweep as a worker runs it: the spec with the trial's values, validated,
compiled and trained with one BLAS thread, then its output files, all returned as plain
data. The same function runs in a local worker process and as a Dask task, so a trial
runs the same way everywhere and needs nothing of the driver's folder.

Pruning is decided here, after each epoch, by an in-memory Optuna study holding the
trials that had finished when this one was asked for (sent along with the task): the
decision depends on the task alone, not on what other workers do meanwhile.
"""

from __future__ import annotations

import math
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nnc.base.errors import NncError, brief
from nnc.base.version import __version__
from nnc.spec.sweep import METRICS, SweepSpec

BLAS_THREADS = 1


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run trial ``number``: the spec's text (and file name, for
    messages and relative data paths), the overrides to apply (the user's ``--set``, then
    the trial's values), and for pruning the finished trials to compare with."""

    number: int
    spec_text: str
    spec_file: str  # as the user named it
    spec_path: str  # absolute: data paths relative to the spec resolve from its folder
    fmt: str
    overrides: tuple[str, ...]
    metric: str
    direction: Literal["maximize", "minimize"]
    pruner: str
    params: dict[str, Any] = field(default_factory=dict)  # Optuna's values (for pruning)
    distributions: dict[str, Any] = field(default_factory=dict)
    finished: tuple[Any, ...] = ()  # Optuna FrozenTrials: complete and pruned ones
    version: str = __version__  # the driver's: a worker of another version refuses the task


@dataclass
class TrialOutcome:
    """How trial ``number`` went. ``reports``: (epoch, metric) after each epoch;
    ``files``: the output folder `nnc train` would write (by name), for a finished run."""

    number: int
    state: Literal["complete", "pruned", "failed"]
    value: float | None = None
    reports: list[tuple[int, float]] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0  # training time, as the run's report counts it
    cpu: float = 0.0  # the worker's CPU time while it trained (uncontended: about seconds)
    wall: float = 0.0  # the whole trial on its worker: loading, compiling, training, files
    message: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)  # the pruner's bookkeeping
    worker: str = ""


class _Pruned(Exception):
    """The pruner stopped the trial after an epoch."""


class _Watch:
    """The trainer's callback: records the metric after each epoch and asks the pruner."""

    def __init__(self, task: TrialTask):
        self.metric = task.metric
        self.reports: list[tuple[int, float]] = []
        self.epochs = 0
        self.pruning = _Pruning(task) if task.pruner != "none" else None

    def on_epoch(self, record: Any) -> None:
        self.epochs = record.epoch
        if not METRICS[self.metric].per_epoch:
            return
        value = getattr(record, self.metric)
        if value is None or not math.isfinite(value):
            return
        self.reports.append((record.epoch, float(value)))
        if self.pruning is not None and self.pruning.should_prune(float(value), record.epoch):
            raise _Pruned()


class _Pruning:
    """The pruner's view: the finished trials sent with the task, and this one."""

    def __init__(self, task: TrialTask):
        import optuna

        from nnc.sweep_study import pruner

        study = optuna.create_study(storage=optuna.storages.InMemoryStorage(),
                                    direction=task.direction, pruner=pruner(task.pruner))
        study.add_trials(list(task.finished))
        study.enqueue_trial(task.params)
        self.trial = study.ask(task.distributions)

    def should_prune(self, value: float, epoch: int) -> bool:
        self.trial.report(value, epoch)
        return bool(self.trial.should_prune())

    def system_attrs(self) -> dict[str, Any]:
        attrs = self.trial.storage.get_trial_system_attrs(self.trial._trial_id)
        return {k: v for k, v in attrs.items() if k.startswith("completed_rung")}


class LastTask:
    """A task of the sweep's last step, run by a worker or the driver."""

    def run(self) -> str:
        """Do it; returns "" or the error's line."""
        try:
            self.do()
        except NncError as e:
            return _message(e)
        return ""

    def do(self) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class PackageTask(LastTask):
    """Make the trial folder ``folder`` into a build's folder (``pipeline.package``) with
    the spec file ``spec`` (best.yaml)."""

    folder: str
    spec: str

    def do(self) -> None:
        from nnc import pipeline

        pipeline.package(pipeline.prepare(Path(self.spec), memory="none"), Path(self.folder),
                         threads=BLAS_THREADS)


@dataclass(frozen=True)
class PageTask(LastTask):
    """Draw sweep.html in the sweep's ``folder`` from its trials' ``rows``."""

    folder: str
    name: str
    sweep: SweepSpec
    rows: list[dict[str, Any]]
    best: dict[str, Any] | None

    def do(self) -> None:
        from nnc.sweep_report import write_report

        write_report(Path(self.folder), self.name, self.sweep, self.rows, self.best)


class WrongVersion(RuntimeError):
    """The worker runs another version of nnc than the driver: it must not run trials."""


_ONE_AT_A_TIME = threading.Lock()  # a Dask worker with several threads runs one trial at a
# time: the BLAS thread limit a trial sets is the whole process's


def run_trial(task: TrialTask) -> TrialOutcome:
    """Run one trial; every failure it can have is a 'failed' outcome with its message."""
    if task.version != __version__:
        raise WrongVersion(f"this worker runs nnc {__version__}, the sweep's driver nnc "
                           f"{task.version}: install the same version on every worker")
    started = time.perf_counter()
    with _ONE_AT_A_TIME:
        outcome = _run(task)
    outcome.wall = time.perf_counter() - started
    outcome.worker = f"{socket.gethostname()}:{os.getpid()}"
    return outcome


def _run(task: TrialTask) -> TrialOutcome:
    from nnc import pipeline
    from nnc.outputs import write_training_outputs
    from nnc.spec import load_spec_text

    try:
        spec_file = load_spec_text(task.spec_text, task.spec_file, task.fmt, task.overrides,
                                   file_path=Path(task.spec_path))
        prepared = pipeline.prepare(spec_file, memory="none")
        watch = _Watch(task)
    except NncError as e:
        return TrialOutcome(task.number, "failed", message=_message(e))
    started, cpu = time.perf_counter(), time.process_time()
    try:
        trained = pipeline.train(prepared, watch, threads=BLAS_THREADS)
    except _Pruned:
        return TrialOutcome(task.number, "pruned", reports=watch.reports, epochs=watch.epochs,
                            seconds=time.perf_counter() - started, system_attrs=_attrs(watch),
                            message=f"pruned after epoch {watch.epochs}")
    except NncError as e:  # a divergence, a blow-up, unreadable data
        return TrialOutcome(task.number, "failed", reports=watch.reports, epochs=watch.epochs,
                            seconds=time.perf_counter() - started, message=_message(e),
                            system_attrs=_attrs(watch))
    cpu = time.process_time() - cpu
    result = trained.result  # with trained.extra, the report's sections of the metrics
    value, problem = final_metric({"train": result.to_dict() if result else None,
                                   **trained.extra}, task.metric)
    outcome = TrialOutcome(task.number, "complete" if problem is None else "failed", value,
                           watch.reports, result.epochs_run if result else 0,
                           result.seconds if result else 0.0, message=problem or "",
                           system_attrs=_attrs(watch), cpu=cpu)
    with tempfile.TemporaryDirectory(prefix="nnc-trial-") as folder:
        write_training_outputs(Path(folder), prepared, trained)
        outcome.files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())
                         if p.is_file()}
    return outcome


def final_metric(report: dict[str, Any], metric: str) -> tuple[float | None, str | None]:
    """The metric of a finished run, from its report: with the weights training kept
    (``train``), or on the validation split (``metrics``); else None and why not."""
    section = report.get("train") if METRICS[metric].per_epoch else report.get("metrics")
    value = (section or {}).get(metric)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value), None
    if value is not None:
        return None, f"the run's {metric} is {value}, not a number to rank it by"
    return None, f"the run measured no {metric}" + (
        " (no validation split: set data.val_split above 0)"
        if metric.startswith("val_") else "")


def _attrs(watch: _Watch) -> dict[str, Any]:
    return watch.pruning.system_attrs() if watch.pruning is not None else {}


def _message(error: NncError) -> str:
    return brief(error.lines()[0] if error.lines() else error, 400)
