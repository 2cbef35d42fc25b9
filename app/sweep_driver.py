"""`nnc sweep`: try the values a spec's `sweep` section lists, one trial per set of values,
on worker processes or a Dask cluster, and keep the best.

The driver asks Optuna for each trial's values and tells it the outcome; Optuna's journal
file in the sweep's folder is the study's record, so a killed sweep resumes: finished
trials are kept, interrupted ones run again. Each outcome is written as it arrives
(trials/NNNN/ and trials.csv). At the end: best.yaml, best/ (the best trial's folder as
`nnc build` writes it) and sweep.html.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnc.base.errors import DataError, Interrupted, SpecError, TrainingError
from nnc.base.files import make_dir, write_atomic
from nnc.base.folders import folder_lock, remove_stale_temporaries
from nnc.base.machine import available_memory, format_bytes
from nnc.spec import SpecFile, load_spec_text
from nnc.spec.sweep import SweepSpec, Values, override

if TYPE_CHECKING:
    import optuna

    from nnc.sweep_trial import TrialOutcome, TrialTask
    from nnc.sweep_workers import LocalWorkers, Running, Workers

SIZED_CORNERS = 256  # combinations of extreme values sized before a sweep starts
STAGING = ".best-staging"  # where best/ and best.yaml are made, then renamed in place
STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}  # ours: Optuna's


# ---------------------------------------------------------------------------- plan

@dataclass
class Plan:
    """A sweep checked before its first trial: the spec (with the user's ``--set``), what
    it varies, and the size of its largest trial."""

    spec_file: SpecFile
    sweep: SweepSpec
    text: str
    fmt: str
    trials: int
    largest_bytes: int
    params_range: tuple[int, int]
    fingerprint: str
    costs: dict[str, float] = field(default_factory=dict)  # of the trials sized, by values

    @property
    def name(self) -> str:
        return self.spec_file.spec.name

    def trial_spec(self, values: dict[str, Any]) -> SpecFile:
        """The spec of a trial with ``values`` (validated)."""
        return load_spec_text(self.text, self.file, self.fmt, self.overrides(values),
                              file_path=self.spec_file.path)

    @property
    def file(self) -> str:
        """The spec file as the user named it (errors say it so)."""
        return str(self.spec_file.source.file)

    def overrides(self, values: dict[str, Any]) -> tuple[str, ...]:
        return self.spec_file.overrides + tuple(override(p, v) for p, v in values.items())

    def cost(self, values: dict[str, Any]) -> float:
        """The training cost of the trial with ``values``, estimated from shapes alone:
        multiply-adds per sample times epochs (the sweep's corners, every point of a grid
        of at most SIZED_CORNERS, were sized by :func:`plan`; 0 for values that make no
        valid spec: that trial fails at once)."""
        from nnc.base.errors import NncError

        known = self.costs.get(_key(values))
        if known is not None:
            return known
        try:
            return _cost(_prepared(self, values, ("sweep", "parameters")))
        except NncError:
            return 0.0


def _key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


def _cost(prepared: Any) -> float:
    return float(prepared.sizing.totals.macs * prepared.spec_file.spec.train.epochs)


def plan(spec: Path, overrides: tuple[str, ...] = ()) -> Plan:
    """Load SPEC and check its sweep before any trial: every path names a field (the
    compiler's check), every listed value and each range's ends make a valid spec, and
    the largest trial's memory is known."""
    from nnc import pipeline
    from nnc.spec.load import read_spec_text

    text, fmt = read_spec_text(spec)
    # data paths relative to the spec resolve from its folder, wherever a trial runs
    spec_file = load_spec_text(text, str(spec), fmt, overrides, file_path=spec.resolve())
    sweep = spec_file.spec.sweep
    if sweep is None:
        raise SpecError(spec_file.problem((), "no `sweep` section: add one naming the fields "
                                              "to vary, e.g. sweep: {parameters: "
                                              "{layers.0.units: {values: [10, 100]}}}"))
    pipeline.prepare(spec_file, memory="none")  # the paths, the metric against the loss
    draft = Plan(spec_file, sweep, text, fmt, sweep.trial_count, 0, (0, 0), "")
    sizes, heaviest = [], {}
    for path, parameter in sweep.parameters.items():  # each value alone: who is at fault
        ends = parameter.values if isinstance(parameter, Values) else [parameter.low,
                                                                       parameter.high]
        alone = [(_prepared(draft, {path: v}, ("sweep", "parameters", path)).sizing, v)
                 for v in ends]
        sizes += [size for size, _ in alone]
        heaviest[path] = max(alone, key=lambda a: a[0].memory.training)[1]
    for values in [heaviest, *sweep.corners(SIZED_CORNERS)]:
        prepared = _prepared(draft, values, ("sweep", "parameters"))
        sizes.append(prepared.sizing)
        draft.costs[_key(values)] = _cost(prepared)
    draft.largest_bytes = max(s.memory.training for s in sizes)
    draft.params_range = (min(s.totals.params for s in sizes), max(s.totals.params for s in sizes))
    resolved = json.dumps(spec_file.spec.model_dump(mode="json"), sort_keys=True)
    draft.fingerprint = hashlib.sha256(resolved.encode()).hexdigest()
    return draft


def _prepared(plan: Plan, values: dict[str, Any], where: tuple[Any, ...]) -> Any:
    from nnc import pipeline
    from nnc.base.errors import NncError

    try:
        return pipeline.prepare(plan.trial_spec(values), memory="none")
    except NncError as e:
        shown = ", ".join(f"{p} = {json.dumps(v)}" for p, v in values.items())
        first = e.problems[0]
        raise SpecError(plan.spec_file.problem(
            where, f"the trial with {shown} is not a valid spec: "
                   f"{first.path + ': ' if first.path else ''}{first.message}")) from None


def dry_run_lines(plan: Plan, workers: int) -> list[str]:
    """What `nnc sweep --dry-run` prints."""
    sweep = plan.sweep
    low, high = plan.params_range
    params = f"{low:,}" if low == high else f"{low:,} to {high:,}"
    lines = [f"sweep of {plan.name}: {plan.trials} trials, sampler {sweep.chosen_sampler}, "
             f"pruner {sweep.pruner}, {sweep.chosen_goal} {sweep.metric}",
             f"parameters per trial: {params}",
             f"training memory of the largest trial: {format_bytes(plan.largest_bytes)}; "
             f"{min(workers, plan.trials)} at once: "
             f"{format_bytes(plan.largest_bytes * min(workers, plan.trials))}"]
    for path, parameter in sweep.parameters.items():
        if isinstance(parameter, Values):
            shown = ", ".join(json.dumps(v) for v in parameter.values)
            lines.append(f"  {path}: {shown}")
        else:
            scale = " (log)" if parameter.log else f" (step {parameter.step})" \
                if parameter.step else ""
            lines.append(f"  {path}: {parameter.low} to {parameter.high}{scale}")
    return lines


def check_memory(plan: Plan, workers: int, file: str) -> None:
    """Refuse a sweep whose concurrent trials would not fit in the memory available."""
    concurrent = min(workers, plan.trials)
    need, have = plan.largest_bytes * concurrent, available_memory()
    if need > have:
        fits = have // max(plan.largest_bytes, 1)
        advice = f"--workers {fits} fits" if fits >= 1 else "not even one trial fits"
        raise DataError(f"{concurrent} trials at once need an estimated {format_bytes(need)} "
                        f"({format_bytes(plan.largest_bytes)} for the largest), but "
                        f"{format_bytes(have)} is available: {advice}", file=file)


# ----------------------------------------------------------------------------- run

@dataclass
class SweepResult:
    """How a sweep ended: its folder, the counts by state, the best trial."""

    folder: Path
    counts: dict[str, int]
    best: dict[str, Any] | None
    rerun: int = 0  # interrupted trials of an earlier session, run again
    files: list[str] = field(default_factory=list)


class Progress:
    """What the driver reports as it goes (the CLI prints it)."""

    def note(self, text: str) -> None:
        """Something the user should know (e.g. interrupted trials run again)."""

    def trial(self, row: dict[str, Any]) -> None:
        """A trial ended (its row of trials.csv)."""

    def status(self, done: int, running: int, left: int, best: dict[str, Any] | None,
               seconds_left: float | None) -> None:
        """Where the sweep stands (called often)."""


def run(plan: Plan, folder: Path, workers: "Workers", resume: bool = False,
        progress: Progress | None = None,
        should_stop: Callable[[], int | None] | None = None) -> SweepResult:
    """Run the sweep of ``plan`` into ``folder`` on ``workers`` (closed at the end)."""
    progress = progress or Progress()
    make_dir(folder)
    closed = False
    try:
        with folder_lock(folder):
            for where in (folder, folder / "trials"):  # what a killed driver left half-done
                remove_stale_temporaries(where)
            shutil.rmtree(folder / STAGING, ignore_errors=True)
            try:
                return _Driver(plan, folder, workers, progress, should_stop).run(resume)
            finally:  # before the lock is released: no worker writes in the folder after
                workers.close()
                closed = True
    finally:
        if not closed:  # the lock was not taken
            workers.close()


class _Driver:
    def __init__(self, plan: Plan, folder: Path, workers: "Workers", progress: Progress,
                 should_stop: Callable[[], int | None] | None):
        from nnc import sweep_study

        self.plan, self.folder, self.workers, self.progress = plan, folder, workers, progress
        self.should_stop = should_stop
        self.sweep = plan.sweep
        self.distributions = sweep_study.distributions(plan.sweep)
        # with TPE or a pruner, the next trial depends on the outcomes so far: told in the
        # order they were asked, and asked a fixed number of trials ahead, the sweep makes
        # the same choices however long each trial takes
        self.in_order = plan.sweep.chosen_sampler == "tpe" or plan.sweep.pruner != "none"
        self.trial_seconds: list[float] = []
        self.staging = folder / STAGING
        self.building: tuple[int, "Running"] | None = None  # best/ begun: of which trial
        self.page: "Running | None" = None  # sweep.html begun

    def run(self, resume: bool) -> SweepResult:
        from nnc import sweep_study

        journal = sweep_study.journal(self.folder)
        exists = journal.exists() and journal.stat().st_size > 0
        if exists and not resume:
            raise DataError("this folder holds a sweep already: add --resume to continue it, "
                            "or choose another folder with -o", file=str(self.folder))
        study = sweep_study.open_study(self.folder, self.sweep, create=not exists,
                                       cost=self.plan.cost)
        self._check_same_sweep(study)
        if not exists and resume:
            self.progress.note("nothing to resume in this folder: starting the sweep")
        rerun = self._requeue_interrupted(study)
        self.write_table(study)  # a driver killed after its last tell had not written it
        try:
            self._loop(study)
            return self._finish(study, rerun)
        finally:  # stopped, or failed: what the last step began is not wanted
            for running in (self.building[1] if self.building else None, self.page):
                if running is not None:
                    running.cancel()
            shutil.rmtree(self.staging, ignore_errors=True)

    def _check_same_sweep(self, study: "optuna.Study") -> None:
        """A new study gets the spec's fingerprint; a resumed one must have the same (one
        without is new too: its driver was killed before it wrote one)."""
        found = study.user_attrs.get("fingerprint")
        if found is None and not study.trials:
            study.set_user_attr("fingerprint", self.plan.fingerprint)
        elif found != self.plan.fingerprint:
            raise DataError("the spec (or its --set overrides) changed since this sweep began; "
                            "resume it with the same spec, or choose another folder with -o",
                            file=str(self.folder))

    def _requeue_interrupted(self, study: "optuna.Study") -> int:
        """Trials a killed driver left running failed with it: mark them interrupted (kept
        out of trials.csv and the count) and run their values again, first."""
        import optuna

        from nnc import sweep_study

        stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,
                                                         optuna.trial.TrialState.WAITING))
        for t in stale:
            if t.state == optuna.trial.TrialState.WAITING:
                continue  # enqueued and never started: asked again as it is
            study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            params = t.params if set(t.params) == set(self.distributions) else \
                sweep_study.grid_point(study, t)  # killed while it was being asked
            if params is not None:  # (else the sampler proposes afresh what it had begun)
                study.enqueue_trial(params, user_attrs={"rerun_of": t.number})
        running = [t for t in stale if t.state == optuna.trial.TrialState.RUNNING]
        if running:
            self.progress.note(f"{len(running)} trial(s) interrupted in the last session run "
                               "again: " + ", ".join(str(t.number) for t in running))
        return len(running)

    # --------------------------------------------------------------------- the loop

    def _loop(self, study: "optuna.Study") -> None:
        """Keep the workers busy until every trial is told. With TPE or a pruner, a new
        trial is asked right after one is told, and trials are told in the order they were
        asked, so what the sampler and the pruner know when trial k is asked is the trials
        before k - workers + 1: the same however long each trial takes. Otherwise (grid,
        random: what was told changes nothing) it is asked before the outcome is
        recorded, so that the worker does not wait for the records."""
        left = self.plan.trials - len(_counted(study))
        asked: list[Any] = []  # in order of asking: optuna Trials not yet told
        outcomes: dict[int, "TrialOutcome"] = {}
        started = time.monotonic()

        def ask() -> None:
            nonlocal left
            trial = study.ask(self.distributions)
            self.workers.submit(self._task(study, trial))
            asked.append(trial)
            left -= 1
            if left == 0:
                self.workers.expect_last_step()

        while left > 0 and len(asked) < self.workers.slots:
            ask()
        while asked:
            arrived = self.workers.done(0.2)
            self._stop_if_asked(f"with {len(asked)} trial(s) running")  # before anything
            for outcome in arrived:  # is recorded: a worker the same signal killed did not
                outcomes[outcome.number] = outcome  # fail its trial
            ready = list(itertools.takewhile(lambda t: t.number in outcomes, asked)) \
                if self.in_order else [t for t in asked if t.number in outcomes]
            for trial in ready:
                asked.remove(trial)
                early = left > 0 and not self.in_order  # the next trial needs not wait
                if early:  # for the outcome's records
                    ask()
                self._record(study, trial, outcomes.pop(trial.number))
                if left > 0 and not early:
                    ask()
            rows = self.rows(study)
            best = best_of(rows, self.sweep)
            if left == 0 and len(asked) < self.workers.slots and self.workers.ends_meanwhile:
                self._build_best(best)  # a core is free: best/ meanwhile, if it stays best
            self._status(len(rows), len(asked), left, started, best)

    def _stop_if_asked(self, where: str) -> None:
        signal = self.should_stop() if self.should_stop is not None else None
        if signal is not None:
            raise Interrupted(signal, where)

    def _task(self, study: "optuna.Study", trial: Any) -> "TrialTask":
        import optuna

        from nnc.sweep_study import spec_values
        from nnc.sweep_trial import TrialTask

        finished = () if self.sweep.pruner == "none" else tuple(study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                    optuna.trial.TrialState.PRUNED)))
        values = spec_values(self.sweep, trial.params)
        return TrialTask(trial.number, self.plan.text, self.plan.file,
                         str(self.plan.spec_file.path), self.plan.fmt,
                         self.plan.overrides(values), self.sweep.metric,
                         self.sweep.chosen_goal, self.sweep.pruner, dict(trial.params),
                         dict(self.distributions), finished)

    def _record(self, study: "optuna.Study", trial: Any, outcome: "TrialOutcome") -> None:
        """Write the trial's files, then tell the study (the journal is the record: a
        trial told is finished for good), then trials.csv."""
        import optuna

        from nnc import sweep_study

        if outcome.files:
            trial_dir = make_dir(trial_folder(self.folder, trial.number))
            for name, data in outcome.files.items():
                write_atomic(trial_dir / name, data)
        if self.sweep.pruner != "none":  # what the pruner compares the next trials with
            for epoch, value in outcome.reports:
                trial.report(value, epoch)
        for key, value in outcome.system_attrs.items():  # the halving pruner's rungs
            study._storage.set_trial_system_attr(trial._trial_id, key, value)
        for key in ("epochs", "seconds", "cpu", "wall", "message", "worker"):
            trial.set_user_attr(key, getattr(outcome, key))
        state = optuna.trial.TrialState[STATES[outcome.state]]
        study.tell(trial, outcome.value if outcome.state == "complete" else None, state=state)
        sweep_study.sync(study)
        if outcome.state == "complete":
            self.trial_seconds.append(outcome.wall)
        self.write_table(study)
        self.progress.trial(self._row(study.get_trials(deepcopy=False)[trial.number]))

    def _status(self, done: int, running: int, left: int, started: float,
                best: dict[str, Any] | None) -> None:
        rate = (time.monotonic() - started) / max(len(self.trial_seconds), 1)
        seconds_left = rate * (running + left) if self.trial_seconds else None
        self.progress.status(done, running, left, best, seconds_left)

    # ------------------------------------------------------------------ the records

    def _row(self, t: Any) -> dict[str, Any]:
        from nnc.sweep_study import spec_values

        state = next((ours for ours, theirs in STATES.items() if theirs == t.state.name),
                     "failed")
        row: dict[str, Any] = {"number": t.number, "state": state}
        for path, value in spec_values(self.sweep, t.params).items():
            row[path] = value
        row[self.sweep.metric] = t.value if state == "complete" else None
        row["epochs"] = t.user_attrs.get("epochs")
        row["seconds"] = t.user_attrs.get("seconds")
        row["message"] = t.user_attrs.get("message", "")
        return row

    def rows(self, study: "optuna.Study") -> list[dict[str, Any]]:
        return [self._row(t) for t in _counted(study)]

    def write_table(self, study: "optuna.Study") -> None:
        """trials.csv: one row per trial that ended, in trial order (atomically)."""
        columns = table_columns(self.sweep)
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows(study):
            writer.writerow({k: _cell(v) for k, v in row.items()})
        write_atomic(self.folder / "trials.csv", out.getvalue().encode())

    # ----------------------------------------------------------------------- the end

    def _finish(self, study: "optuna.Study", rerun: int) -> SweepResult:
        """The last step: sweep.html, and best/ and best.yaml (begun already, perhaps),
        each drawn or built by a worker while the driver waits."""
        from nnc.sweep_trial import PageTask

        rows = self.rows(study)
        counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
        best = best_of(rows, self.sweep)
        result = SweepResult(self.folder, counts, best, rerun, ["trials.csv", "study.journal"])
        self._build_best(best)
        self.page = self.workers.start_last(PageTask(str(self.folder), self.plan.name,
                                                     self.sweep, rows, best))
        problem = self._wait(self.page, "while sweep.html was being drawn")
        self.page = None
        if problem:
            raise TrainingError(f"sweep.html could not be drawn: {problem}",
                                file=str(self.folder))
        if best is None:
            raise TrainingError(f"no trial completed ({counts['pruned']} pruned, "
                                f"{counts['failed']} failed): see "
                                f"{self.folder / 'trials.csv'} for their messages")
        self._end_best()
        result.files += ["best.yaml", "best/", "sweep.html"]
        return result

    def _wait(self, running: "Running", doing: str) -> str:
        """Wait for a task of the last step: "" or its error's line."""
        while (problem := running.result(0.2)) is None:
            self._stop_if_asked(doing)
        return problem

    def _build_best(self, best: dict[str, Any] | None) -> None:
        """Begin best/ for ``best`` (unless it is begun already), in the staging folder: a
        worker builds it while the last trials run, or while another draws sweep.html;
        one begun for a trial no longer the best is stopped."""
        if best is None or (self.building is not None and self.building[0] == best["number"]):
            return
        if self.building is not None:
            self.building[1].cancel()
            self.building = None
        self.building = (best["number"], self._begin_best(best))

    def _begin_best(self, best: dict[str, Any]) -> "Running":
        """In the staging folder: best.yaml (the spec with the best trial's values,
        runnable as it is) and best/, the trial's folder made into a build's (model.onnx
        exported from its weights and checked against onnxruntime, summary.txt,
        report.html), which a worker begins."""
        from nnc import pipeline
        from nnc.outputs import resolved_data, spec_yaml
        from nnc.sweep_trial import PackageTask

        values = {p: best[p] for p in self.sweep.parameters}
        prepared = pipeline.prepare(self.plan.trial_spec(values), memory="none")
        data = resolved_data(prepared)
        data.pop("sweep", None)
        data["train"]["threads"] = 1  # as the trial trained: the same numbers, bit for bit
        sets = " ".join(f"--set {o}" for o in self.plan.overrides(values))
        metric = self.sweep.metric
        header = (f"# The best trial ({best['number']}) of the sweep of {self.plan.file}: "
                  f"{metric} {best[metric]}.\n"
                  f"# Its values: {sets}. `nnc build` takes this file as it is.\n")
        shutil.rmtree(self.staging, ignore_errors=True)
        shutil.copytree(trial_folder(self.folder, best["number"]), self.staging / "best")
        write_atomic(self.staging / "best.yaml", spec_yaml(data, header).encode())
        return self.workers.start_last(PackageTask(str(self.staging / "best"),
                                                   str(self.staging / "best.yaml")))

    def _end_best(self) -> None:
        """Wait for best/, then put it and best.yaml in place together."""
        assert self.building is not None
        problem = self._wait(self.building[1], "while the best trial's folder was being built")
        self.building = None
        if problem:
            raise TrainingError(f"the best trial's build failed: {problem}",
                                file=str(self.staging / "best"))
        shutil.rmtree(self.folder / "best", ignore_errors=True)
        (self.staging / "best").rename(self.folder / "best")
        (self.staging / "best.yaml").replace(self.folder / "best.yaml")


def trial_folder(folder: Path, number: int) -> Path:
    """Where trial ``number`` of the sweep in ``folder`` keeps its run."""
    return folder / "trials" / f"{number:04d}"


def table_columns(sweep: SweepSpec) -> list[str]:
    """The columns of trials.csv (and of sweep.html's table)."""
    return ["number", "state", *sweep.parameters, sweep.metric, "epochs", "seconds", "message"]


def ranked(rows: list[dict[str, Any]], sweep: SweepSpec) -> list[dict[str, Any]]:
    """Trials' rows best first: complete ones by the metric (ties: the earlier trial), then
    pruned and failed ones by number. The first is the sweep's best."""
    sign = -1 if sweep.chosen_goal == "maximize" else 1
    complete = sorted((r for r in rows if r["state"] == "complete"),
                      key=lambda r: (sign * r[sweep.metric], r["number"]))
    return complete + sorted((r for r in rows if r["state"] != "complete"),
                             key=lambda r: r["number"])


def best_of(rows: list[dict[str, Any]], sweep: SweepSpec) -> dict[str, Any] | None:
    """The best complete trial's row, if any."""
    ranking = ranked(rows, sweep)
    return ranking[0] if ranking and ranking[0]["state"] == "complete" else None


def _counted(study: "optuna.Study") -> list[Any]:
    """The trials that ended, an interrupted one aside (its values are run again)."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.is_finished() and not t.user_attrs.get("interrupted")]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def sweep_to(checked: Plan, out_dir: Path | None = None, workers: int | None = None,
             dask: str | None = None, resume: bool = False, progress: Progress | None = None,
             should_stop: Callable[[], int | None] | None = None,
             started: "LocalWorkers | None" = None) -> SweepResult:
    """`nnc sweep`: run the sweep ``checked`` (see :func:`plan`) in ``out_dir`` (default
    build/NAME/sweep/) on ``workers`` local processes (default: one per core; those of
    ``started`` if given, see :func:`nnc.sweep_workers.started_early`), or on the Dask
    cluster whose scheduler is at ``dask``."""
    from nnc.base.machine import cores
    from nnc.sweep_workers import DaskWorkers, LocalWorkers

    folder = out_dir if out_dir is not None else default_folder(checked)
    executor: Workers
    if dask:
        executor = DaskWorkers(dask, workers)
    else:
        slots = min(started.slots if started else workers or cores(), checked.trials)
        check_memory(checked, slots, checked.file)
        if started is not None:
            started.keep(slots)
        executor = started or LocalWorkers(slots)
    return run(checked, folder, executor, resume, progress, should_stop)


def default_folder(plan: Plan) -> Path:
    return Path("build") / plan.name / "sweep"


__all__ = ["Plan", "Progress", "SweepResult", "check_memory", "default_folder",
           "dry_run_lines", "plan", "run", "sweep_to"]
