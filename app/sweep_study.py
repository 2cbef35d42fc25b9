"""The sweep section as Optuna sees it: distributions, sampler, pruner, and the study
stored in a journal file of the sweep's folder. Imported only by `nnc sweep`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.storages.journal._file import BaseJournalFileLock  # the base of its locks

from nnc.spec.sweep import Span, SweepSpec, Values

optuna.logging.set_verbosity(optuna.logging.WARNING)

STUDY = "nnc-sweep"
MEDIAN_STARTUP = 4  # trials the median pruner lets finish before it compares with them
MEDIAN_WARMUP = 2  # epochs of each trial it never prunes
SCALARS = (str, int, float, bool, type(None))  # what Optuna stores as a choice as it is
GRID_ORDER = "grid_order"  # the study's attribute keeping the order of a grid's points
ORDERED_GRID = 128  # grids of at most this many points are tried largest first (each sized)


def distributions(sweep: SweepSpec) -> dict[str, BaseDistribution]:
    """One Optuna distribution per parameter path; listed values that are not scalars (a
    layer's mapping, a list) become their JSON text, which Optuna can store."""
    out: dict[str, BaseDistribution] = {}
    for path, parameter in sweep.parameters.items():
        if isinstance(parameter, Values):
            out[path] = CategoricalDistribution([_choice(v) for v in parameter.values])
        elif parameter.integer:
            out[path] = IntDistribution(int(parameter.low), int(parameter.high), log=parameter.log,
                                        step=int(parameter.step or 1))
        else:
            out[path] = FloatDistribution(float(parameter.low), float(parameter.high),
                                          log=parameter.log, step=_float(parameter))
    return out


def _choice(value: Any) -> Any:
    return value if isinstance(value, SCALARS) else json.dumps(value, sort_keys=True)


def _float(span: Span) -> float | None:
    return float(span.step) if span.step is not None else None


def spec_values(sweep: SweepSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The values a trial's Optuna parameters stand for in the spec."""
    out = {}
    for path, value in params.items():
        parameter = sweep.parameters[path]
        listed = parameter.values if isinstance(parameter, Values) else []
        out[path] = next((v for v in listed if _choice(v) == value), value)
    return out


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler, minus its call to ``study.stop()`` once every point has been
    tried: that works only inside ``study.optimize``, and the sweep's driver, which asks
    and tells, stops by itself after the grid's size.

    With ``cost`` (a trial's estimated training cost, from its spec values), the points
    are tried largest first (longest processing time first: the last trials are short and
    end close together, so no worker idles long while another finishes a long one); equal
    costs keep the order the seed shuffled."""

    def __init__(self, space: dict[str, list[Any]], seed: int,
                 cost: Callable[[dict[str, Any]], float] | None = None,
                 order: list[list[Any]] | None = None):
        super().__init__(space, seed=seed)
        # GridSampler keeps its shuffled points in _all_grids
        if order is not None and sorted(map(repr, map(tuple, order))) == sorted(
                map(repr, self._all_grids)):  # a study's own order, stored (resumed)
            self._all_grids = [tuple(point) for point in order]
        elif cost is not None:
            self._all_grids = sorted(self._all_grids, key=lambda point: -cost(
                dict(zip(self._param_names, point))))

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        pass


def sampler(sweep: SweepSpec, resumed_at: int = 0,
            cost: Callable[[dict[str, Any]], float] | None = None,
            order: list[list[Any]] | None = None) -> optuna.samplers.BaseSampler:
    """The sweep's sampler. A resumed study's (``resumed_at`` trials in) draws from a stream
    of its own: a random or TPE sampler seeded as at the start would propose the first
    trials' values again. A grid's order is ``order`` (a resumed study's, as stored), else
    the seed's, largest first by ``cost`` (a trial's estimated cost from its spec values)
    when the sweep runs the whole grid of at most ORDERED_GRID points."""
    kind = sweep.chosen_sampler
    if kind == "grid":
        space = {path: cast_choices(d) for path, d in distributions(sweep).items()}
        # ordered only when every point runs: a part of the grid is the seed's choice
        ordered = sweep.trial_count == sweep.grid_size <= ORDERED_GRID
        return _GridSampler(space, seed=sweep.seed, order=order, cost=(
            lambda params: cost(spec_values(sweep, params))) if ordered and cost else None)
    seed = sweep.seed if not resumed_at else \
        int(np.random.SeedSequence([sweep.seed, resumed_at]).generate_state(1)[0])
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def grid_point(study: optuna.Study, trial: Any) -> dict[str, Any] | None:
    """The values of the grid point a trial had been given (its ``grid_id``) before its
    values were all written (a driver killed while asking); None if not a grid's."""
    grid = study.sampler
    number = trial.system_attrs.get("grid_id")
    if not isinstance(grid, _GridSampler) or number is None:
        return None
    # GridSampler keeps its shuffled points in _all_grids and their names in _param_names
    values = grid._all_grids[number]
    return dict(zip(grid._param_names, values))


def cast_choices(distribution: BaseDistribution) -> list[Any]:
    assert isinstance(distribution, CategoricalDistribution)  # a grid lists values
    return list(distribution.choices)


def pruner(kind: str) -> optuna.pruners.BasePruner:
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP,
                                           n_warmup_steps=MEDIAN_WARMUP)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


class _HeldLock(BaseJournalFileLock):
    """No lock per write: the sweep's driver, the only writer, holds the folder's lock for
    the whole sweep (released by the kernel even when the driver is killed, unlike
    Optuna's lock files, which a kill -9 leaves behind)."""

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class _Journal(JournalFileBackend):
    """Optuna's journal file, appended without an fsync per record: a record written is in
    the kernel's page cache and survives the driver's death (kill -9 included); the
    driver calls ``sync()`` once per finished trial, so only a machine crash could lose
    more than the trial under way. (Optuna syncs every record: a trial's per-epoch
    reports made that most of the driver's time.)"""

    def __init__(self, path: Path):
        super().__init__(str(path), lock_obj=_HeldLock())
        self.path = path

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        with open(self.path, "ab") as f:
            f.write(text.encode("utf-8"))

    def sync(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sync(study: optuna.Study) -> None:
    """Make the study's records so far durable (its journal's fsync)."""
    backend = getattr(study._storage, "_backend", None)  # the JournalStorage's
    if isinstance(backend, _Journal):
        backend.sync()


def journal(folder: Path) -> Path:
    return folder / "study.journal"


def open_study(folder: Path, sweep: SweepSpec, create: bool,
               cost: Callable[[dict[str, Any]], float] | None = None) -> optuna.Study:
    """The sweep's study in ``folder``: a new one (``create``) or the one there (``cost``:
    see :func:`sampler`)."""
    path = journal(folder)
    _drop_torn_line(path)
    storage = JournalStorage(_Journal(path))
    direction = sweep.chosen_goal
    if create:
        study = optuna.create_study(storage=storage, study_name=STUDY, direction=direction,
                                    sampler=sampler(sweep, cost=cost),
                                    pruner=pruner(sweep.pruner))
    else:
        study = optuna.load_study(storage=storage, study_name=STUDY,
                                  pruner=pruner(sweep.pruner),
                                  sampler=optuna.samplers.RandomSampler())  # replaced below
        # a grid goes on in the order it began with (one begun before the order was
        # stored: in its seed's)
        study.sampler = sampler(sweep, resumed_at=len(study.trials),
                                cost=None if study.trials else cost,
                                order=study.user_attrs.get(GRID_ORDER))
    if isinstance(study.sampler, _GridSampler) and GRID_ORDER not in study.user_attrs \
            and not study.trials:
        study.set_user_attr(GRID_ORDER, [list(point) for point in study.sampler._all_grids])
    return study


def _drop_torn_line(path: Path) -> None:
    """A driver killed while appending leaves half a line; Optuna would read past it now,
    but fail once a new line follows. Cut it off (the record it began was never done)."""
    if not path.exists():
        return
    with path.open("r+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end == 0 or (f.seek(end - 1), f.read(1))[1] == b"\n":
            return
        start = max(0, end - (1 << 20))
        while True:  # back to the last line end (a torn record is one line)
            f.seek(start)
            cut = f.read(end - start).rfind(b"\n")
            if cut >= 0 or start == 0:
                f.truncate(start + cut + 1)
                return
            end, start = start, max(0, start - (1 << 20))
