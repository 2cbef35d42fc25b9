"""Where a sweep's trials run: worker processes on this machine (the default), or tasks on
a Dask cluster (``--dask ADDRESS``). Both take a :class:`TrialTask` and give back its
:class:`TrialOutcome`, so the driver does not know which it uses."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from nnc.base.errors import DataError, brief
from nnc.sweep_trial import TrialOutcome, TrialTask, run_trial

PR_SET_PDEATHSIG = 1


class Workers(Protocol):
    """Runs trials; ``done`` gives the outcomes that came back (waiting up to ``timeout``
    seconds for one)."""

    slots: int

    def submit(self, task: TrialTask) -> None: ...

    def done(self, timeout: float) -> list[TrialOutcome]: ...

    def close(self) -> None: ...


def available_cpus() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------- local

class LocalWorkers:
    """``count`` worker processes, each running one trial at a time. A worker that dies
    (killed, out of memory) fails its trial and is replaced; closing kills them all."""

    def __init__(self, count: int):
        self.slots = count
        self.context = multiprocessing.get_context("forkserver")
        # the server imports nnc once; each worker forked from it starts warm
        self.context.set_forkserver_preload(["nnc.sweep_trial", "nnc.pipeline"])
        self.idle: list[_Worker] = []
        self.busy: dict[int, tuple[_Worker, TrialTask]] = {}

    def submit(self, task: TrialTask) -> None:
        worker = self.idle.pop() if self.idle else _Worker(self.context)
        worker.conn.send(task)
        self.busy[task.number] = (worker, task)

    def done(self, timeout: float) -> list[TrialOutcome]:
        if not self.busy:
            return []
        watched: dict[Any, int] = {}
        for number, (worker, _) in self.busy.items():
            watched[worker.conn] = watched[worker.process.sentinel] = number
        out = []
        for ready in wait(list(watched), timeout):
            number = watched[ready]
            if number not in self.busy:
                continue  # its connection and its sentinel both woke up
            worker, _ = self.busy.pop(number)
            outcome = worker.receive()
            if outcome is None:  # the process died with its trial
                code = worker.process.exitcode
                died = f"killed by signal {-code}" if code is not None and code < 0 else \
                    f"exit code {code}"
                outcome = TrialOutcome(number, "failed", message=f"the worker process died "
                                       f"({died}; out of memory?)")
                worker.stop()
            else:
                self.idle.append(worker)
            out.append(outcome)
        return out

    def close(self) -> None:
        for worker in self.idle + [w for w, _ in self.busy.values()]:
            worker.stop()
        self.idle, self.busy = [], {}


class _Worker:
    def __init__(self, context: Any):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True,
                                       name="nnc-sweep-worker")
        self.process.start()
        child.close()

    def receive(self) -> TrialOutcome | None:
        try:
            outcome: TrialOutcome = self.conn.recv()
            return outcome
        except (EOFError, OSError):
            return None

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        with contextlib.suppress(OSError, ValueError):
            self.conn.close()


def _serve(conn: Connection) -> None:
    """A worker process: run the trials the driver sends, until it closes the pipe."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        try:
            outcome = run_trial(task)
        except Exception as e:  # a bug: the trial fails, the sweep goes on, the trace is kept
            traceback.print_exc()
            outcome = TrialOutcome(task.number, "failed",
                                   message=f"internal error: {type(e).__name__}: {brief(e)}")
        try:
            conn.send(outcome)
        except OSError:  # the driver is gone, or closed this worker: nobody wants it
            return


def _die_with_parent() -> None:
    """Linux: be killed when the parent (the fork server, which ends with the driver)
    dies, so that a killed driver leaves no trial running."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


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

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.cancel(list(self.futures), force=True)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        self.futures = {}

