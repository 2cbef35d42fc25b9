"""`nnc sweep` on this machine: the lecture's capacity-against-regularization grid, the
best trial rebuilt bit for bit, samplers that propose the same trials however many
workers run them, failed and pruned trials, the checks made before any trial, and a
driver killed or interrupted mid-sweep then resumed."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import MODELS, SPIRAL_SWEEP, trial_weights


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def write_spec(tmp_path: Path, sweep: str, base: str = SPIRAL_SWEEP) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(base + sweep)
    return path


@pytest.fixture(scope="module")
def capacity(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """models/capacity-sweep.yaml swept by 2 workers, as a user runs it."""
    folder = tmp_path_factory.mktemp("capacity") / "sweep"
    done = subprocess.run(nnc("sweep", MODELS / "capacity-sweep.yaml", "--workers", "2", "-o",
                              folder), capture_output=True, text=True, timeout=300)
    return folder, done


def nnc(*args: object) -> list[str]:
    return [sys.executable, "-m", "nnc.cli", *map(str, args)]


@pytest.mark.slow
def test_the_capacity_grid_completes_and_its_best_rebuilds_exactly(capacity, cli,
                                                                   tmp_path) -> None:
    folder, done = capacity
    assert done.returncode == 0, done.stderr
    table = rows(folder)
    assert len(table) == 9 and {r["state"] for r in table} == {"complete"}
    assert {(r["layers.0.units"], r["train.l2"]) for r in table} == {
        (u, l2) for u in ("3", "6", "20") for l2 in ("0.001", "0.01", "0.1")}
    assert sorted(int(r["number"]) for r in table) == list(range(9))
    best = max(table, key=lambda r: (float(r["val_accuracy"]), -int(r["number"])))
    assert f"best: trial {best['number']}," in done.stdout
    # the lecture's lesson: the biggest net with the least regularization fits the spiral
    assert (best["layers.0.units"], best["train.l2"]) == ("20", "0.001")
    for name in ("model.onnx", "report.html", "weights.npz", "summary.txt", "report.json"):
        assert (folder / "best" / name).is_file(), name
    built = cli("build", folder / "best.yaml", "-o", tmp_path / "again", "-q", "--no-report")
    assert built.exit_code == 0, built.stderr
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert again["train"]["val_accuracy"] == float(best["val_accuracy"])  # exactly
    assert (tmp_path / "again" / "weights.npz").read_bytes() == \
        (folder / "best" / "weights.npz").read_bytes()
    page = (folder / "sweep.html").read_text()
    for figure in ("metric-by-parameter", "grid", "best-curves", "regions"):
        assert f"id='{figure}'" in page, figure
        assert (folder / "figures" / f"{figure}.png").is_file()


@pytest.mark.slow
def test_a_random_sampler_proposes_the_same_trials_on_one_worker_or_two(cli, tmp_path) -> None:
    spec = write_spec(tmp_path, """sweep:
  metric: val_loss
  sampler: random
  trials: 5
  seed: 7
  parameters:
    layers.0.units: {low: 2, high: 16}
    train.l2: {low: 1.0e-5, high: 1.0e-1, log: true}
    layers.1: {values: [relu, tanh, {op: leaky_relu, alpha: 0.1}]}
""")
    seen = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        result = cli("sweep", spec, "--workers", workers, "-o", out, "-q")
        assert result.exit_code == 0, result.stderr
        seen.append({r["number"]: (r["layers.0.units"], r["train.l2"], r["layers.1"],
                                   r["val_loss"]) for r in rows(out)})
    assert seen[0] == seen[1] and len(seen[0]) == 5
    assert len({v[0] for v in seen[0].values()}) > 1  # the values do vary


@pytest.mark.slow
def test_hopeless_trials_are_pruned_and_diverging_ones_fail(cli, tmp_path) -> None:
    """Learning rates from 1e-4 to 1e5: the median pruner stops the slow learners once it
    has four to compare with; a blow-up fails its trial and the sweep goes on."""
    spec = write_spec(tmp_path, """sweep:
  metric: val_loss
  pruner: median
  parameters:
    train.optimizer.sgd.lr: {values: [1.0, 0.5, 0.3, 2.0, 1.0e-4, 3.0e-4, 1.0e+5, 1.0e-3]}
""")
    out = tmp_path / "out"
    result = cli("sweep", spec, "--workers", "2", "-o", out, "-q", "--set", "train.epochs=40")
    assert result.exit_code == 0, result.stderr
    table = {float(r["train.optimizer.sgd.lr"]): r for r in rows(out)}
    assert len(table) == 8
    assert table[1e5]["state"] == "failed", table[1e5]
    assert "blew up" in table[1e5]["message"] or "non-finite" in table[1e5]["message"]
    pruned = [lr for lr, r in table.items() if r["state"] == "pruned"]
    assert pruned and all(lr <= 1e-3 for lr in pruned), table
    assert all(int(table[lr]["epochs"]) < 40 for lr in pruned)
    assert table[1.0]["state"] == "complete"
    assert re.search(rf"trials: \d+ complete, {len(pruned)} pruned, 1 failed", result.stdout), \
        result.stdout


@pytest.mark.slow
def test_tpe_with_a_median_pruner_proposes_and_prunes_the_same_trials_twice(cli, tmp_path) -> None:
    """TPE learns from finished trials, so what it proposes depends on the order trials end
    in; the driver records them in the order they were asked, so two runs agree."""
    spec = write_spec(tmp_path, """sweep:
  metric: val_loss
  sampler: tpe
  pruner: median
  trials: 12
  seed: 3
  parameters:
    train.optimizer.sgd.lr: {low: 1.0e-4, high: 3.0, log: true}
    layers.0.units: {low: 2, high: 16}
""")
    seen = []
    for run in ("a", "b"):
        out = tmp_path / run
        result = cli("sweep", spec, "--workers", "2", "-o", out, "-q", "--set", "train.epochs=30")
        assert result.exit_code == 0, result.stderr
        seen.append([{k: v for k, v in r.items() if k != "seconds"} for r in rows(out)])
    assert seen[0] == seen[1]
    assert len(seen[0]) == 12
    assert len({r["train.optimizer.sgd.lr"] for r in seen[0]}) == 12


def test_checks_before_any_trial(cli, tmp_path) -> None:
    spec = write_spec(tmp_path, """sweep:
  parameters:
    layers.0.unit: {values: [3, 6]}
""")
    result = cli("sweep", spec, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{spec}:13:5: sweep.parameters.layers.0.unit: ")
    assert "did you mean 'units'?" in result.stderr
    assert not (tmp_path / "out").exists()

    spec = write_spec(tmp_path, """sweep:
  parameters:
    layers.1: {values: [relu, relux]}
""")
    result = cli("sweep", spec, "-o", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.startswith(f"{spec}:13:5: ")
    assert 'the trial with layers.1 = "relux" is not a valid spec' in result.stderr
    assert "did you mean 'relu'?" in result.stderr

    result = cli("sweep", MODELS / "digits.yaml")
    assert result.exit_code == 2 and "no `sweep` section" in result.stderr


def test_too_many_trials_for_the_memory_are_refused(cli, tmp_path) -> None:
    spec = write_spec(tmp_path, """sweep:
  parameters:
    layers.0.units: {values: [40000000, 30000000]}
""")
    result = cli("sweep", spec, "--workers", "64", "-o", tmp_path / "out")
    assert result.exit_code == 2, result.stderr
    # two trials, so at most two at once, each far beyond this machine
    assert "2 trials at once need an estimated" in result.stderr
    assert result.stderr.rstrip().endswith("not even one trial fits")
    assert not (tmp_path / "out").exists()


def test_dry_run_tells_the_trials_their_memory_and_sizes(cli, tmp_path) -> None:
    result = cli("sweep", MODELS / "capacity-sweep.yaml", "--dry-run", "--workers", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("sweep of capacity-sweep: 9 trials, sampler grid, pruner none, "
                        "maximize val_accuracy")
    assert lines[1] == "parameters per trial: 21 to 123"
    assert lines[2].startswith("training memory of the largest trial: ")
    assert "  layers.0.units: 3, 6, 20" in lines


def test_a_folder_holding_a_sweep_needs_resume(cli, tmp_path) -> None:
    spec = write_spec(tmp_path, """sweep:
  parameters:
    train.l2: {values: [0.001]}
""")
    out = tmp_path / "out"
    assert cli("sweep", spec, "-o", out, "-q", "--workers", "1").exit_code == 0
    again = cli("sweep", spec, "-o", out, "-q")
    assert again.exit_code == 2 and "holds a sweep already: add --resume" in again.stderr
    changed = cli("sweep", spec, "-o", out, "-q", "--resume", "--set", "train.epochs=3")
    assert changed.exit_code == 2 and "changed since this sweep began" in changed.stderr
    resumed = cli("sweep", spec, "-o", out, "-q", "--resume")
    assert resumed.exit_code == 0 and "trials: 1 complete" in resumed.stdout


def wait_for_rows(folder: Path, proc: subprocess.Popen, count: int, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not ((folder / "trials.csv").is_file() and len(rows(folder)) >= count):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no trial finished"
        time.sleep(0.05)


def start_long_sweep(spec: Path, out: Path, finished: int,
                     **popen: object) -> tuple[list[str], subprocess.Popen]:
    """`nnc sweep` of 1500-epoch trials on 2 workers, once ``finished`` trials have ended."""
    args = nnc("sweep", spec, "--workers", "2", "-o", out, "-q", "--set", "train.epochs=1500")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)  # type: ignore[call-overload]
    wait_for_rows(out, proc, finished)
    return args, proc


def resume(args: list[str]) -> subprocess.CompletedProcess:
    """The same `nnc sweep` again with --resume, which must succeed."""
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    return resumed


LONG = """sweep:
  parameters:
    layers.0.units: {values: [4, 8, 16]}
    train.l2: {values: [0.0, 0.001]}
"""


@pytest.mark.slow
def test_a_driver_killed_mid_sweep_resumes_without_rerunning_finished_trials(tmp_path) -> None:
    spec = write_spec(tmp_path, LONG)
    out = tmp_path / "out"
    args, proc = start_long_sweep(spec, out, 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = {r["number"]: trial_weights(out, r["number"]).stat().st_mtime_ns
              for r in rows(out)}
    assert 2 <= len(before) < 6
    resumed = resume(args)
    table = rows(out)
    assert len(table) == 6 and {r["state"] for r in table} == {"complete"}
    assert len({(r["layers.0.units"], r["train.l2"]) for r in table}) == 6  # none twice
    for number, mtime in before.items():  # finished trials were kept, not run again
        assert trial_weights(out, number).stat().st_mtime_ns == mtime
    assert "interrupted ones run again" in resumed.stdout


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_how_to_continue(tmp_path) -> None:
    spec = write_spec(tmp_path, LONG)
    out = tmp_path / "out"
    args, proc = start_long_sweep(spec, out, 1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted by SIGINT" in stderr and "Traceback" not in stderr, stderr
    assert f"continue with: nnc sweep {spec} --set train.epochs=1500 -o {out} --workers 2 " \
           "--resume" in stderr
    resume(args)
    assert len(rows(out)) == 6


@pytest.mark.slow
def test_a_resumed_random_sampler_does_not_propose_the_first_trials_again(tmp_path) -> None:
    spec = write_spec(tmp_path, """sweep:
  sampler: random
  trials: 6
  seed: 11
  parameters:
    train.l2: {low: 1.0e-5, high: 1.0e-1, log: true}
""")
    out = tmp_path / "out"
    args, proc = start_long_sweep(spec, out, 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    resume(args)
    table = rows(out)
    assert len(table) == 6 and {r["state"] for r in table} == {"complete"}
    assert len({r["train.l2"] for r in table}) == 6, table  # none proposed twice


@pytest.mark.slow
def test_sigterm_to_the_process_group_stops_the_sweep_and_resume_finishes_it(tmp_path) -> None:
    """A job scheduler ends a job with SIGTERM to its whole process group: the driver stops
    cleanly (143), its workers, in sessions of their own, are stopped by it, not killed
    mid-write, and --resume runs what was left."""
    spec = write_spec(tmp_path, LONG)
    out = tmp_path / "out"
    args, proc = start_long_sweep(spec, out, 1, start_new_session=True)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr, stderr
    assert all(r["state"] != "failed" for r in rows(out)), rows(out)
    resume(args)
    table = rows(out)
    assert len(table) == 6 and {r["state"] for r in table} == {"complete"}, table
