"""Reliability: exact resume after SIGKILL at any moment, SIGINT/SIGTERM, divergence,
spec changes between runs, damaged checkpoints. These run `nnc` as a real process."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SPEC = """
name: resumable
input: [64]
layers:
  - {op: dense, units: 768}
  - relu
  - {op: dropout, p: 0.3}
  - {op: dense, units: 768}
  - {op: gaussian_noise, std: 0.05}
  - relu
  - {op: dense, units: 10}
loss: softmax_cross_entropy
data: {digits: {}, standardize: true}
train:
  epochs: 12
  batch_size: 64
  optimizer: {sgd: {lr: 0.02, momentum: 0.9, nesterov: true}}
  l2: 1.0e-4
  lr_schedule: {step: {step_size: 2, gamma: 0.5}}
  early_stopping: {patience: 5}
  checkpoint_every: 1
  seed: 3
"""


def nnc(*args: object) -> list[str]:
    return [sys.executable, "-m", "nnc.cli", *map(str, args)]


def start(spec: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(nnc("train", "--no-report", spec, "-o", out, "--threads", "1", "-q",
                                *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "resumable.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def uninterrupted(spec, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("full")
    done = subprocess.run(nnc("train", "--no-report", spec, "-o", out, "--threads", "1", "-q"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return (out / "weights.npz").read_bytes()


def kill_while_writing_a_checkpoint(proc: subprocess.Popen, folder: Path, limit: float) -> bool:
    """SIGKILL the moment a checkpoint's temporary file appears; False if none did."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.is_dir() and any(n.endswith(".tmp") for n in os.listdir(folder)):
            proc.kill()
            return True
    return False


def kill_and_resume(spec: Path, out: Path, kills_needed: int, uninterrupted: bytes) -> None:
    """SIGKILL runs of ``spec`` at random moments (and one while it writes a checkpoint),
    resuming each time, then resume to the end: the weights are ``uninterrupted``'s."""
    folder = out / "checkpoints"
    rng = random.Random(0)
    kills, during_write = 0, 0
    for attempt in range(20):
        if kills >= kills_needed and during_write >= 1:
            break
        proc = start(spec, out, "--resume")
        if attempt % 3 == 0:
            killed = kill_while_writing_a_checkpoint(proc, folder, limit=8)
            during_write += killed and any(n.endswith(".tmp") for n in os.listdir(folder))
        else:
            try:
                proc.wait(timeout=rng.uniform(0.3, 2.5))
                killed = False
            except subprocess.TimeoutExpired:
                proc.kill()
                killed = True
        proc.communicate()
        kills += killed
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    assert kills >= kills_needed - 1 and during_write >= 1, (kills, during_write)
    final = subprocess.run(nnc("train", "--no-report", spec, "-o", out, "--threads", "1", "-q",
                               "--resume"),
                           capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert (out / "weights.npz").read_bytes() == uninterrupted
    assert not any(n.endswith(".tmp") for n in os.listdir(folder))
    assert len([n for n in os.listdir(folder) if n.startswith("ckpt-")]) <= 2  # keep the last 2


@pytest.mark.slow
def test_sigkill_at_any_moment_then_resume_is_bit_identical(spec, uninterrupted, tmp_path):
    kill_and_resume(spec, tmp_path / "out", 6, uninterrupted)


@pytest.mark.slow
def test_sigkill_during_an_adam_run_then_resume_is_bit_identical(tmp_path):
    """Adam's moments and step count (its bias corrections) come back from the checkpoint."""
    spec = tmp_path / "adam.yaml"
    spec.write_text(SPEC.replace("{sgd: {lr: 0.02, momentum: 0.9, nesterov: true}}",
                                 "{adam: {lr: 0.001, amsgrad: true}}"))
    assert "adam" in spec.read_text()
    full = subprocess.run(nnc("train", "--no-report", spec, "-o", tmp_path / "full",
                              "--threads", "1", "-q"), capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    kill_and_resume(spec, tmp_path / "out", 4, (tmp_path / "full" / "weights.npz").read_bytes())


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_checkpoints_and_resume_completes(spec, uninterrupted, tmp_path, signum, code):
    # 1000 epochs: the run cannot end before the signal; the resumed run asks for the 12
    # of the uninterrupted one (the schedule and early stopping do not depend on epochs)
    out = tmp_path / "out"
    proc = start(spec, out, "--set", "train.epochs=1000")
    folder = out / "checkpoints"
    deadline = time.monotonic() + 30
    while not (folder.is_dir() and any(n.startswith("ckpt-") for n in os.listdir(folder))):
        assert time.monotonic() < deadline and proc.poll() is None, "no first checkpoint"
        time.sleep(0.01)
    time.sleep(0.15)  # into the second epoch
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"interrupted by {signal.Signals(signum).name} at ")
    assert "--resume" in lines[-1] and "Traceback" not in err
    assert not (out / "weights.npz").exists()
    done = subprocess.run(nnc("train", "--no-report", spec, "-o", out, "--threads", "1", "-q",
                              "--resume"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resumed from" in done.stderr
    assert (out / "weights.npz").read_bytes() == uninterrupted


def test_diverging_spec_exits_1_in_its_first_epoch(cli, spec, tmp_path):
    result = cli("train", "--no-report", spec, "-o", tmp_path, "--set",
                 "train.optimizer.sgd.lr=1e6")
    assert result.exit_code == 1
    line, = result.stderr.strip().splitlines()
    assert line.startswith("training diverged at epoch 1, step ")
    assert "smaller learning rate" in line
    for path in tmp_path.rglob("*.npz"):  # any checkpoint left holds finite numbers only
        with np.load(path) as npz:
            assert all(np.isfinite(npz[k]).all() for k in npz.files if npz[k].dtype.kind == "f")
    assert not (tmp_path / "weights.npz").exists()


def test_resume_refuses_a_changed_spec_unless_forced(cli, spec, tmp_path):
    assert cli("train", "--no-report", spec, "-o", tmp_path, "--set",
               "train.epochs=1").exit_code == 0
    result = cli("train", "--no-report", spec, "-o", tmp_path, "--resume", "--set", "train.l2=0.5",
                 "--set", "layers.0.units=700")
    assert result.exit_code == 2
    line, = result.stderr.strip().splitlines()
    assert "layers.0.units" in line and "train.l2" in line and "--force" in line
    # more epochs is not a change: it continues the same run
    longer = cli("train", "--no-report", spec, "-o", tmp_path, "--resume", "--set",
                 "train.epochs=2")
    assert longer.exit_code == 0 and "resumed from" in longer.stderr
    forced = cli("train", "--no-report", spec, "-o", tmp_path, "--resume", "--force", "--set",
                 "train.l2=0.5")
    assert forced.exit_code == 0, forced.stderr


def test_a_damaged_newest_checkpoint_is_skipped(cli, spec, tmp_path):
    assert cli("train", "--no-report", spec, "-o", tmp_path, "--set",
               "train.epochs=2").exit_code == 0
    newest = sorted((tmp_path / "checkpoints").glob("ckpt-*"))[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    result = cli("train", "--no-report", spec, "-o", tmp_path, "--resume", "--set",
                 "train.epochs=2")
    assert result.exit_code == 0, result.stderr
    assert "skipped" in result.stderr and "damaged checkpoint" in result.stderr
    assert "the end of epoch 1" in result.stderr


def test_checkpoint_every_and_keep(cli, spec, tmp_path):
    result = cli("train", "--no-report", spec, "-o", tmp_path, "--set", "train.checkpoint_every=2",
                 "--set", "train.keep_checkpoints=5")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("ckpt-*"))
    last = json.loads((tmp_path / "report.json").read_text())["train"]["epochs_run"]
    every_second = [e for e in range(2, last + 1, 2)] + ([last] if last % 2 else [])
    assert names == [f"ckpt-e{e:06d}-b000000.npz" for e in every_second[-5:]]


def test_resume_refuses_fewer_epochs_than_the_checkpoint_holds(cli, spec, tmp_path):
    assert cli("train", "--no-report", spec, "-o", tmp_path, "--set",
               "train.epochs=2").exit_code == 0
    result = cli("train", "--no-report", spec, "-o", tmp_path, "--resume", "--set",
                 "train.epochs=1")
    assert result.exit_code == 2
    assert "holds 2 trained epochs, more than train.epochs=1" in result.stderr


def test_resume_refuses_another_thread_count(cli, spec, tmp_path):
    assert cli("train", "--no-report", spec, "-o", tmp_path, "--set", "train.epochs=1",
               "--threads", "1").exit_code == 0
    result = cli("train", "--no-report", spec, "-o", tmp_path, "--resume", "--threads", "2")
    assert result.exit_code == 2
    assert "BLAS threads (1 -> 2; set --threads 1 to resume exactly)" in result.stderr


def test_a_failed_run_keeps_the_checkpoints_of_the_last_good_one(cli, spec, tmp_path):
    assert cli("train", "--no-report", spec, "-o", tmp_path, "--set",
               "train.epochs=2").exit_code == 0
    before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    bad = cli("train", "--no-report", spec, "-o", tmp_path, "--set", "train.optimizer.sgd.lr=1e6")
    assert bad.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before


def test_a_signal_after_training_stops_the_build_before_the_export(spec, tmp_path):
    import signal as signals

    from nnc import pipeline
    from nnc.base.errors import Interrupted
    from nnc.runtime.trainer import Callback

    class LastEpoch(Callback):
        received = None

        def on_epoch(self, record, weights):
            if record.epoch == 2:
                self.received = signals.SIGTERM

    stop = LastEpoch()
    prepared = pipeline.prepare(spec, ["train.epochs=2"])
    with pytest.raises(Interrupted) as caught:
        pipeline.build(prepared, tmp_path, stop, should_stop=lambda: stop.received)
    assert caught.value.exit_code == 143 and "before the export" in str(caught.value)
    assert not (tmp_path / "model.onnx").exists()
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("ckpt-*"))[-1] == \
        "ckpt-e000002-b000000.npz"
