"""The sweep driver's last step, with scripted workers: best/ is begun on an idle worker
while the last trials run, and begun again when a later trial turns out better, sweep.html
is drawn meanwhile; whole grids run largest first; the parameters' importances of
sweep.html."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import SPIRAL_SWEEP

GRID = """
sweep:
  metric: val_accuracy
  parameters:
    layers.0.units: {values: [4, 8]}
    train.l2: {values: [0.0, 0.01]}
"""


class ScriptedPackage:
    def __init__(self, log: list[str], trial: int):
        self.log, self.trial = log, trial

    def result(self, timeout: float) -> str | None:
        self.log.append(f"done {self.trial}")
        return ""

    def cancel(self) -> None:
        self.log.append(f"cancel {self.trial}")


class ScriptedPage:
    def __init__(self, problem: str):
        self.problem = problem

    def result(self, timeout: float) -> str | None:
        return self.problem

    def cancel(self) -> None:
        pass


class ScriptedWorkers:
    """Two slots; trials end in the order they were submitted, each with the metric
    ``values[number]``; best/ is not built, only logged (begun, waited for, cancelled)."""

    slots = 2
    ends_meanwhile = True

    def __init__(self, values: dict[int, float]):
        self.values = values
        self.running: list[int] = []
        self.log: list[str] = []

    def submit(self, task: Any) -> None:
        self.running.append(task.number)
        self.log.append(f"trial {task.number}")

    def done(self, timeout: float) -> list[Any]:
        from nnc.sweep_trial import TrialOutcome

        if not self.running:
            return []
        number = self.running.pop(0)
        return [TrialOutcome(number, "complete", self.values[number], epochs=1, seconds=0.1,
                             files={"history.csv": b"epoch\n"})]

    def expect_last_step(self) -> None:
        self.log.append("expect")

    def start_last(self, task: Any) -> Any:
        from nnc.sweep_trial import PageTask

        if isinstance(task, PageTask):  # drawn here, at once
            self.log.append("page")
            return ScriptedPage(task.run())
        header = Path(task.spec).read_text().splitlines()[0]
        trial = int(re.search(r"best trial \((\d+)\)", header).group(1))  # type: ignore[union-attr]
        self.log.append(f"package {trial}")
        return ScriptedPackage(self.log, trial)

    def close(self) -> None:
        self.log.append("close")


def sweep_with(tmp_path: Path, values: dict[int, float], workers: Any = None,
               should_stop: Any = None) -> tuple[Any, list[str]]:
    from nnc import sweep_driver

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPIRAL_SWEEP + GRID)
    workers = workers or ScriptedWorkers(values)
    result = sweep_driver.run(sweep_driver.plan(spec), tmp_path / "sweep", workers,
                              should_stop=should_stop)
    return result, workers.log


def test_best_is_begun_while_the_last_trial_runs(tmp_path) -> None:
    result, log = sweep_with(tmp_path, {0: 0.5, 1: 0.6, 2: 0.9, 3: 0.7})
    # trial 2 is the best when trial 3 alone runs: its best/ begins then, and is kept
    assert log == ["trial 0", "trial 1", "trial 2", "trial 3", "expect", "package 2",
                   "page", "done 2", "close"]
    assert result.best["number"] == 2
    folder = tmp_path / "sweep"
    assert "best trial (2)" in (folder / "best.yaml").read_text()
    assert (folder / "best" / "history.csv").is_file() and (folder / "sweep.html").is_file()
    assert not (folder / ".best-staging").exists()


def test_a_better_last_trial_begins_best_again(tmp_path) -> None:
    result, log = sweep_with(tmp_path, {0: 0.5, 1: 0.6, 2: 0.7, 3: 0.9})
    assert log == ["trial 0", "trial 1", "trial 2", "trial 3", "expect", "package 2",
                   "cancel 2", "package 3", "page", "done 3", "close"]
    assert result.best["number"] == 3
    assert "best trial (3)" in (tmp_path / "sweep" / "best.yaml").read_text()


def test_a_stop_while_best_is_built_cancels_it_and_leaves_no_staging_folder(tmp_path) -> None:
    from nnc.base.errors import Interrupted

    workers = ScriptedWorkers({0: 0.5, 1: 0.6, 2: 0.9, 3: 0.7})
    with pytest.raises(Interrupted):
        sweep_with(tmp_path, {}, workers, lambda: 2 if "package 2" in workers.log else None)
    assert workers.log[-3:] == ["package 2", "cancel 2", "close"]
    folder = tmp_path / "sweep"
    assert not (folder / ".best-staging").exists() and not (folder / "best").exists()
    assert len((folder / "trials.csv").read_text().splitlines()) == 4  # 3 told, the header


def test_what_a_killed_driver_left_half_done_is_removed(tmp_path) -> None:
    folder = tmp_path / "sweep"
    leftovers = [folder / ".trials.csv.a1b2c3d4.tmp", folder / "trials" / "0000" /
                 ".weights.npz.zz9xy8k1.tmp", folder / ".best-staging" / "best" / "x"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    sweep_with(tmp_path, {0: 0.5, 1: 0.6, 2: 0.9, 3: 0.7})
    assert not any(path.exists() for path in leftovers)
    assert not (folder / ".best-staging").exists() and (folder / "trials" / "0000").is_dir()


def test_a_whole_grid_runs_largest_first(tmp_path) -> None:
    """Longest processing time first: the trials of the 8-unit layer (twice the
    multiply-adds) before those of the 4-unit one, so that the last, short trials end
    together."""
    sweep_with(tmp_path, {0: 0.5, 1: 0.6, 2: 0.9, 3: 0.7})
    table = (tmp_path / "sweep" / "trials.csv").read_text().splitlines()[1:]
    assert [row.split(",")[2] for row in table] == ["8", "8", "4", "4"]


def test_a_part_of_a_grid_is_the_seeds_choice_not_the_largest() -> None:
    import optuna

    from nnc import sweep_study
    from nnc.spec.sweep import SweepSpec

    def sweep(trials: int | None) -> SweepSpec:
        return SweepSpec.model_validate({"metric": "val_accuracy", "trials": trials, "seed": 3,
                                         "parameters": {"u": {"values": [1, 2, 3, 4, 5, 6]}}})

    def order(s: SweepSpec) -> list[Any]:
        return sweep_study.sampler(s, cost=lambda v: float(v["u"]))._all_grids  # type: ignore[attr-defined]

    shuffled = optuna.samplers.GridSampler({"u": [1, 2, 3, 4, 5, 6]}, seed=3)._all_grids
    assert order(sweep(2)) == shuffled != order(sweep(None))
    assert order(sweep(None)) == [(6,), (5,), (4,), (3,), (2,), (1,)]


# ----------------------------------------------------------------------- importances

def importances(rows: list[dict[str, Any]], parameters: dict[str, Any]) -> Any:
    from nnc.spec.sweep import SweepSpec
    from nnc.sweep_report import importances

    sweep = SweepSpec.model_validate({"metric": "val_accuracy", "parameters": parameters})
    return importances([{"state": "complete", **r} for r in rows], sweep)


def test_a_grid_parameter_that_alone_moves_the_metric_takes_all_the_importance() -> None:
    rows = [{"a": a, "b": b, "val_accuracy": 0.5 + 0.1 * a} for a in (1, 2, 3) for b in "xy"]
    shares = importances(rows, {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}})
    assert list(shares) == ["a", "b"]
    assert shares["a"] == pytest.approx(1.0) and shares["b"] == pytest.approx(0.0)


def test_importances_are_the_main_effects_of_a_full_grid() -> None:
    # metric = a + 2 b on a 2 x 2 grid: main-effect variances 1/4 and 1, shares 0.2 and 0.8
    rows = [{"a": a, "b": b, "val_accuracy": a + 2 * b} for a in (0, 1) for b in (0, 1)]
    shares = importances(rows, {"a": {"values": [0, 1]}, "b": {"values": [0, 1]}})
    assert shares == pytest.approx({"b": 0.8, "a": 0.2})
    assert all(type(v) is float for v in shares.values())


def test_a_range_is_grouped_in_bins_and_few_or_flat_trials_give_none() -> None:
    rows = [{"lr": 10.0 ** -k, "u": u, "val_accuracy": k / 10}
            for k in range(1, 9) for u in (4, 8)]
    ranges = {"lr": {"low": 1e-9, "high": 1.0, "log": True}, "u": {"values": [4, 8]}}
    shares = importances(rows, ranges)
    assert shares["lr"] > 0.99 and list(shares) == ["lr", "u"]
    assert importances(rows[:3], ranges) is None  # fewer than 4 complete trials
    flat = [{**r, "val_accuracy": 0.5} for r in rows]
    assert importances(flat, ranges) is None


def test_a_parameter_of_many_values_gets_no_importance_by_chance() -> None:
    """Twenty values of a parameter that does nothing split 20 trials into small groups
    whose means differ by chance alone; the adjustment leaves it little."""
    rng = np.random.default_rng(0)
    rows = [{"noise": int(k), "lr": lr, "val_accuracy": 0.5 + 0.3 * (lr == 0.1)
             + rng.normal(0, 0.01)} for k, lr in zip(rng.permutation(20), [0.1, 0.01] * 10)]
    shares = importances(rows, {"noise": {"values": list(range(20))},
                                "lr": {"values": [0.1, 0.01]}})
    assert shares["lr"] > 0.95


def test_values_are_grouped_as_they_are_not_as_printed() -> None:
    rows = [{"units": u, "b": b, "val_accuracy": float(u == 1001)}
            for u in (1000, 1001) for b in (0, 1)]
    shares = importances(rows, {"units": {"values": [1000, 1001]}, "b": {"values": [0, 1]}})
    assert shares == pytest.approx({"units": 1.0, "b": 0.0})


def test_the_grid_order_is_kept_by_the_study_and_resumed_as_it_is(tmp_path) -> None:
    from nnc import sweep_study
    from nnc.spec.sweep import SweepSpec

    sweep = SweepSpec.model_validate({"metric": "val_accuracy",
                                      "parameters": {"u": {"values": [1, 2, 3, 4]}}})
    first = sweep_study.open_study(tmp_path, sweep, create=True, cost=lambda v: v["u"])
    trial = first.ask(sweep_study.distributions(sweep))
    assert trial.params == {"u": 4}  # largest first
    # resumed with another estimate of the costs (another nnc): the stored order stays
    again = sweep_study.open_study(tmp_path, sweep, create=False, cost=lambda v: -v["u"])
    assert again.sampler._all_grids == first.sampler._all_grids  # type: ignore[attr-defined]
    assert [p[0] for p in again.sampler._all_grids] == [4, 3, 2, 1]  # type: ignore[attr-defined]
