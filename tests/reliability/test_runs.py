"""One run per output folder, and runs that signals end (issue 14: 6, 7, 8): a second
run on a folder is exit 2 naming the folder and the lock's holder, and takes the folder
after a kill -9 of the holder; `nnc predict` of a model that would run forever ends on
SIGINT; threads are capped at the cores; a second signal, or one while not training,
stops at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from nnc.base.machine import capped_threads, cores
from nnc.cli import main
from nnc.interrupts import StopOnSignal, Stopped

SPEC = """\
name: long
input: [2]
layers: [{op: dense, units: 16}, relu, {op: dense, units: 3}]
loss: softmax_cross_entropy
data: {spiral: {classes: 3, points: 100}}
train: {epochs: 100000, batch_size: 16, checkpoint_every: 0}
"""


def nnc(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def popen(*args: object, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnc.cli", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def holding_the_lock(proc: subprocess.Popen, folder: Path) -> None:
    """Wait until ``proc`` holds the folder's lock (its pid is in folder/.lock)."""
    deadline = time.monotonic() + 60
    lock = folder / ".lock"
    while not (lock.is_file() and lock.read_text().strip() == str(proc.pid)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)


def test_a_second_run_on_a_folder_is_refused_and_a_killed_holder_frees_it(tmp_path) -> None:
    (tmp_path / "long.yaml").write_text(SPEC)
    holder = popen("train", "long.yaml", "-o", "conc", "-q", "--no-report", cwd=tmp_path)
    try:
        holding_the_lock(holder, tmp_path / "conc")
        for extra in ([], ["--resume"]):
            second = nnc("train", tmp_path / "long.yaml", "-o", tmp_path / "conc", "-q", *extra)
            assert second.exit_code == 2, second.output
            line, = second.stderr.strip().splitlines()
            assert line.startswith(f"{tmp_path / 'conc'}: in use by another nnc run "
                                   f"(process {holder.pid} holds the lock "
                                   f"{tmp_path / 'conc' / '.lock'})"), line
        assert holder.poll() is None, "the second run disturbed the first"
    finally:
        holder.kill()
        holder.communicate()
    after = nnc("train", tmp_path / "long.yaml", "-o", tmp_path / "conc", "-q", "--no-report",
                "--set", "train.epochs=1")
    assert after.exit_code == 0, after.output


def test_of_two_runs_at_once_one_succeeds(tmp_path) -> None:
    """The first is frozen (SIGSTOP) while it holds the lock, the second is refused, then
    the first goes on and completes."""
    (tmp_path / "long.yaml").write_text(SPEC)
    first = popen("build", "long.yaml", "-o", "conc", "-q", "--no-report", "--set",
                  "train.epochs=3", cwd=tmp_path)
    holding_the_lock(first, tmp_path / "conc")
    first.send_signal(signal.SIGSTOP)
    try:
        second = nnc("build", tmp_path / "long.yaml", "-o", tmp_path / "conc", "-q")
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.exit_code == 2 and "in use by another nnc run" in second.stderr
    assert (tmp_path / "conc" / "model.onnx").is_file()


def loop_model(path: Path) -> None:
    """A model of the form `nnc predict` runs ([batch, 4] -> scores [batch, 4]) whose Loop
    runs 2^62 times."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]),
         helper.make_node("Add", ["v", "one"], ["v_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(1, np.float32), "one")])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["trips", "go", "x"], ["scores"], body=body)], "forever",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.array(2**62, np.int64), "trips"),
         numpy_helper.from_array(np.array(True), "go")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_predict_of_a_model_that_runs_forever_ends_on_a_signal(tmp_path, signum) -> None:
    loop_model(tmp_path / "forever.onnx")
    np.save(tmp_path / "x.npy", np.zeros((5, 4), np.float32))
    proc = popen("predict", "forever.onnx", "x.npy", "-o", "pred.npy", cwd=tmp_path)
    deadline = time.monotonic() + 120
    while cpu_seconds(proc.pid) < 3:  # a whole predict takes 1 s: by now, in the Loop
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signum)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 128 + signum, err
    assert err.strip().splitlines() == [f"interrupted by {signal.Signals(signum).name} "
                                        "while onnxruntime ran the model"]
    assert not (tmp_path / "pred.npy").exists()


def test_threads_are_capped_at_the_cores(tmp_path) -> None:
    assert capped_threads(cores()) == (cores(), None)
    assert capped_threads(1024)[0] == cores() < 1024
    (tmp_path / "long.yaml").write_text(SPEC)
    result = nnc("build", tmp_path / "long.yaml", "-o", tmp_path / "out", "-q", "--no-report",
                 "--threads", "1024", "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip().splitlines() == [
        f"note: 1024 threads is more than this machine's {cores()} cores: using {cores()}"]


def test_a_signal_while_not_training_or_a_second_one_stops_at_once() -> None:
    with StopOnSignal(defer=False) as stop:
        with pytest.raises(Stopped) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises at the next bytecode, long before the end
        assert caught.value.signal == signal.SIGTERM and stop() is None
        with stop.deferring():  # training: the first waits for the step to end
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            assert stop() == signal.SIGTERM
            with pytest.raises(Stopped):  # the second does not
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
