"""Where a sweep's trials run: worker processes on this machine (the default), or tasks on
a Dask cluster (``--dask ADDRESS``). Both take a :class:`TrialTask` and give back its
:class:`TrialOutcome`, so the driver does not know which it uses."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol, cast

from nnc.base.errors import DataError, brief
from nnc.sweep_trial import PackageTask, TrialOutcome, TrialTask, run_package, run_trial

PR_SET_PDEATHSIG = 1


class Workers(Protocol):
    """Runs trials; ``done`` gives the outcomes that came back (waiting up to ``timeout``
    seconds for one)."""

    slots: int

    def submit(self, task: TrialTask) -> None: ...

    def done(self, timeout: float) -> list[TrialOutcome]: ...

    def close(self) -> None: ...

    def start_package(self, task: PackageTask) -> Callable[[], str]:
        """Begin ``task``; the function returned waits for it ("" or the error's line)."""


def available_cpus() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------- local

class LocalWorkers:
    """``count`` worker processes (``python -m nnc.sweep_workers``), each running one trial
    at a time; a worker that dies (killed, out of memory) fails its trial and is replaced,
    and closing kills them all. Plain subprocesses, not multiprocessing's: a script
    calling ``nnc.sweep`` without an ``if __name__ == "__main__"`` guard is not run again
    in each worker."""

    def __init__(self, count: int):
        self.slots = count
        self.idle = [_Worker() for _ in range(count)]  # started now: they import nnc
        self.busy: dict[int, _Worker] = {}  # meanwhile the driver opens the study

    def submit(self, task: TrialTask) -> None:
        worker = self.idle.pop() if self.idle else _Worker()
        worker.send(task)
        self.busy[task.number] = worker

    def done(self, timeout: float) -> list[TrialOutcome]:
        if not self.busy:
            return []
        by_conn = {worker.conn: number for number, worker in self.busy.items()}
        out = []
        for ready in wait(list(by_conn), timeout):
            number = by_conn[cast(Connection, ready)]
            worker = self.busy.pop(number)
            outcome = worker.receive()
            if outcome is None:  # the process died with its trial
                code = worker.stop()
                died = f"killed by signal {-code}" if code is not None and code < 0 else \
                    f"exit code {code}"
                outcome = TrialOutcome(number, "failed", message=f"the worker process died "
                                       f"({died}; out of memory?)")
            else:
                self.idle.append(worker)
            out.append(outcome)
        return out

    def close(self) -> None:
        for worker in [*self.idle, *self.busy.values()]:
            worker.stop()
        self.idle, self.busy = [], {}

    def start_package(self, task: PackageTask) -> Callable[[], str]:
        """On an idle worker (it has nnc imported), while the driver draws sweep.html."""
        worker = self.idle[0] if self.idle else _Worker()
        worker.send(task)

        def result() -> str:
            answer = worker.receive()
            return answer if isinstance(answer, str) else "the worker process died"
        return result


class _Worker:
    """A worker process and the socket the driver talks to it through."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nnc.sweep_workers", str(theirs.fileno()),
                 str(os.getpid())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None)
        self.conn = Connection(ours.detach())

    def send(self, task: TrialTask | PackageTask) -> None:
        self.conn.send(task)

    def receive(self) -> Any:
        """What the worker sent back; None if it died."""
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return None

    def stop(self) -> int | None:
        """Kill the process (if it runs) and return its exit code."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(10)
        with contextlib.suppress(OSError):
            self.conn.close()
        return code


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):  # e.g. a test runner's captured stream
        return False


def _serve(conn: Connection) -> None:
    """A worker process: run the trials the driver sends, until it closes the socket."""
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        outcome: TrialOutcome | str
        try:
            outcome = run_trial(task) if isinstance(task, TrialTask) else run_package(task)
        except Exception as e:  # a bug: the trial fails, the sweep goes on, the trace is kept
            traceback.print_exc()
            message = f"internal error: {type(e).__name__}: {brief(e)}"
            outcome = TrialOutcome(task.number, "failed", message=message) \
                if isinstance(task, TrialTask) else message
        try:
            conn.send(outcome)
        except OSError:  # the driver is gone, or closed this worker: nobody wants it
            return


def _die_with(parent: int) -> None:
    """Linux: be killed when the driver dies, so that a killed driver leaves no trial
    running (and if it died already, leave now)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str]) -> None:
    """The worker process's entry point: ``python -m nnc.sweep_workers FD DRIVER_PID``."""
    _die_with(int(argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    _serve(Connection(int(argv[0])))


# ------------------------------------------------------------------------------ dask

class DaskWorkers:
    """Trials as tasks of a Dask cluster at ``address``. A worker lost mid-trial makes the
    scheduler run the task again elsewhere: the trial comes back once."""

    def __init__(self, address: str, slots: int | None = None, connect_timeout: float = 20):
        try:
            from distributed import Client
        except ImportError:
            raise DataError("--dask needs Dask's distributed package: pip install "
                            "'nnc[dask]'") from None
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise DataError(f"--dask {address}: cannot reach the Dask scheduler "
                            f"({brief(e)})") from None
        threads = sum(self.client.nthreads().values())
        self.slots = slots or max(threads, 1)
        self.futures: dict[Any, int] = {}

    def submit(self, task: TrialTask) -> None:
        future = self.client.submit(run_trial, task, pure=False,
                                    key=f"nnc-trial-{task.number}-{os.getpid()}-{id(task)}")
        self.futures[future] = task.number

    def done(self, timeout: float) -> list[TrialOutcome]:
        from distributed import wait as dask_wait

        finished = [f for f in self.futures if f.done()]
        if not finished and self.futures:
            try:
                with self.client.as_current():  # not the process's default client
                    finished = list(dask_wait(list(self.futures), timeout=timeout,
                                              return_when="FIRST_COMPLETED").done)
            except TimeoutError:
                return []
        out = []
        for future in finished:
            number = self.futures.pop(future)
            try:
                out.append(future.result())
            except Exception as e:  # the task failed on every worker it was given to
                out.append(TrialOutcome(number, "failed", message=f"the Dask task failed: "
                                        f"{type(e).__name__}: {brief(e)}"))
        return out

    def start_package(self, task: PackageTask) -> Callable[[], str]:
        """Here, in the driver: the folder is on this machine, not the cluster's."""
        return lambda: run_package(task)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.cancel(list(self.futures), force=True)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        self.futures = {}


if __name__ == "__main__":
    main(sys.argv[1:])
