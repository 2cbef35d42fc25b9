"""The processes of a sweep on this machine: workers forked from a zygote that imported nnc
once (and forks with one thread), a worker killed mid-trial failing its trial alone, plain
worker processes once the zygote is gone, and nothing left running after close."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import SPIRAL_SWEEP

pytestmark = pytest.mark.skipif(sys.platform != "linux",
                                reason="sweep workers are forked from a zygote on Linux only")


def task(tmp_path: Path, number: int, *overrides: str) -> Any:
    from nnc.sweep_trial import TrialTask

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPIRAL_SWEEP)
    return TrialTask(number, SPIRAL_SWEEP, str(spec), str(spec), "yaml", overrides,
                     "val_accuracy", "maximize", "none")


def outcomes(workers: Any, count: int, limit: float = 120) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + limit
    while len(got) < count and time.monotonic() < deadline:
        got += workers.done(0.5)
    assert len(got) == count, got
    return got


def parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # killed, not yet reaped


def test_workers_are_forked_from_one_zygote_and_nothing_is_left_after_close(tmp_path) -> None:
    from nnc.sweep_processes import ForkedWorker
    from nnc.sweep_workers import LocalWorkers

    workers = LocalWorkers(2)
    assert workers.zygote is not None
    zygote = workers.zygote.process.pid
    try:
        assert all(isinstance(w, ForkedWorker) for w in workers.idle)
        for number in (0, 1):
            workers.submit(task(tmp_path, number))
        done = outcomes(workers, 2)
        assert {o.state for o in done} == {"complete"}
        pids = {int(o.worker.rsplit(":", 1)[1]) for o in done}
        assert len(pids) == 2 and {parent(pid) for pid in pids} == {zygote}
        workers.expect_last_step()  # the zygote imports the last step's modules, forks again
        workers.submit(task(tmp_path, 2))
        (third,) = outcomes(workers, 1)
        assert third.state == "complete"
        assert len(os.listdir(f"/proc/{zygote}/task")) == 1  # it forks with one thread
    finally:
        workers.close()
    assert gone(zygote) and all(gone(pid) for pid in pids)


def test_a_worker_killed_mid_trial_fails_its_trial_alone(tmp_path) -> None:
    from nnc.sweep_workers import LocalWorkers

    workers = LocalWorkers(2)
    try:
        workers.submit(task(tmp_path, 0, "train.epochs=1000000"))
        workers.submit(task(tmp_path, 1))
        (quick,) = outcomes(workers, 1)
        assert quick.number == 1 and quick.state == "complete"
        assert workers.zygote is not None
        workers.zygote._read_replies(wait=True)
        os.kill(workers.busy[0].pid, signal.SIGKILL)  # type: ignore[attr-defined]
        (killed,) = outcomes(workers, 1)
        assert killed.state == "failed" and "killed by signal 9" in killed.message
        workers.submit(task(tmp_path, 2))  # on the worker left, or a new one
        assert outcomes(workers, 1)[0].state == "complete"
    finally:
        workers.close()


def test_without_the_zygote_workers_are_plain_processes(tmp_path) -> None:
    from nnc.sweep_processes import ForkedWorker, WorkerProcess
    from nnc.sweep_workers import LocalWorkers

    workers = LocalWorkers(1)
    try:
        assert workers.zygote is not None
        forked = workers.idle[0]
        workers.zygote.process.kill()  # its workers die with it
        deadline = time.monotonic() + 10
        while forked.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        workers.submit(task(tmp_path, 0))
        (outcome,) = outcomes(workers, 1)
        assert outcome.state == "complete"
        (worker,) = workers.idle
        assert type(worker) is WorkerProcess and not isinstance(worker, ForkedWorker)
    finally:
        workers.close()


def test_many_forks_without_a_stop_do_not_deadlock(monkeypatch) -> None:
    """The zygote answers each fork with a pid; were they not read as they come, its
    replies would fill the socket (278 at the default buffer size, a handful at the
    smallest set here) and the zygote and the driver would wait on each other."""
    import socket
    import threading

    from nnc import sweep_processes

    pair = socket.socketpair

    def small(*args: Any, **kwargs: Any) -> Any:
        ends = pair(*args, **kwargs)
        for end in ends:
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the smallest it takes
        return ends

    monkeypatch.setattr(sweep_processes.socket, "socketpair", small)
    zygote = sweep_processes.Zygote()
    monkeypatch.setattr(sweep_processes.socket, "socketpair", pair)
    workers: list[Any] = []
    forking = threading.Thread(target=lambda: workers.extend(zygote.fork() for _ in range(40)))
    try:
        forking.start()
        forking.join(30)
        assert not forking.is_alive(), f"stuck after {len(workers)} forks"
        pids = []
        for worker in workers:
            worker.stop()
            pids.append(worker.pid)
        assert len(set(pids)) == 40 and None not in pids
    finally:
        zygote.close()  # (unblocks a stuck fork)
        forking.join(10)


def test_trials_of_workers_lost_with_the_zygote_run_again_on_plain_workers(tmp_path) -> None:
    from nnc.sweep_processes import WorkerProcess
    from nnc.sweep_workers import LocalWorkers

    workers = LocalWorkers(2)
    try:
        for number in (0, 1):
            workers.submit(task(tmp_path, number, "train.epochs=3000"))
        assert workers.zygote is not None
        workers.zygote.process.kill()  # its workers die with it, and their trials
        done = outcomes(workers, 2)
        assert [o.state for o in done] == ["complete"] * 2, [o.message for o in done]
        assert all(type(w) is WorkerProcess for w in workers.idle)
    finally:
        workers.close()


def test_a_reply_broken_off_abandons_the_zygote_and_plain_workers_go_on(tmp_path) -> None:
    """A second Ctrl-C (or any exception) between a request and its reply would leave the
    next reply to the wrong request: the zygote is given up instead."""
    from nnc.sweep_workers import LocalWorkers

    class Interrupted:
        def __init__(self, control: Any):
            self.control, self.first = control, True

        def recv(self, *args: Any) -> bytes:
            if self.first:
                self.first = False
                raise KeyboardInterrupt
            return bytes(self.control.recv(*args))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.control, name)

    workers = LocalWorkers(1)
    zygote = workers.zygote
    assert zygote is not None
    try:
        zygote.control = Interrupted(zygote.control)  # type: ignore[assignment]
        with pytest.raises(KeyboardInterrupt):
            zygote.pid(workers.idle[0])  # type: ignore[arg-type]
        assert not zygote.alive()
        workers.submit(task(tmp_path, 0))
        assert outcomes(workers, 1)[0].state == "complete"
    finally:
        workers.close()
    assert gone(zygote.process.pid)
