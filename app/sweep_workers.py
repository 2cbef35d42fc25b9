"""Where a sweep's trials run: worker processes on this machine (the default), or tasks on
a Dask cluster (``--dask ADDRESS``). Both take a :class:`TrialTask` and give back its
:class:`TrialOutcome`, so the driver does not know which it uses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, Protocol, cast

from nnc.base.errors import DataError, brief
from nnc.sweep_processes import ForkedWorker, WorkerProcess, Zygote

if TYPE_CHECKING:  # imported where used: the driver starts its workers before it imports
    from nnc.sweep_trial import LastTask, TrialOutcome, TrialTask  # the spec's modules


class Workers(Protocol):
    """Runs trials; ``done`` gives the outcomes that came back (waiting up to ``timeout``
    seconds for one)."""

    slots: int
    ends_meanwhile: bool  # the last step's tasks run while the driver goes on (else in the
    # driver, when it waits for them)

    def submit(self, task: TrialTask) -> None: ...

    def done(self, timeout: float) -> list[TrialOutcome]: ...

    def close(self) -> None: ...

    def expect_last_step(self) -> None:
        """No trial is left to ask: the last step's tasks (best/, sweep.html) follow."""

    def start_last(self, task: LastTask) -> "Running":
        """Begin a task of the last step (on an idle worker, or where it can run
        meanwhile)."""


class Running(Protocol):
    """A task of the last step begun by :meth:`Workers.start_last`."""

    def result(self, timeout: float) -> str | None:
        """Wait up to ``timeout`` seconds: "" when done, the error's line if it failed,
        None while it runs."""

    def cancel(self) -> None:
        """Stop it (its folder is then in any state) and wait until it has stopped."""


# ----------------------------------------------------------------------------- local

class LocalWorkers:
    """``count`` worker processes (see :mod:`nnc.sweep_processes`: forked from a zygote on
    Linux), each running one trial at a time; a worker that dies (killed, out of memory)
    fails its trial and is replaced, and closing kills them all. A forked worker lost to
    the zygote (its fork failed, or the zygote died) fails nothing: its task runs again on
    a plain worker process."""

    ends_meanwhile = True

    def __init__(self, count: int, start: int | None = None):
        self.slots = count
        self.zygote = Zygote() if sys.platform == "linux" else None
        # ``start`` of them started now, the others when a trial needs one
        self.idle = [self._new_worker()
                     for _ in range(count if start is None else min(start, count))]
        self.busy: dict[int, WorkerProcess] = {}  # meanwhile the driver opens the study
        self.tasks: dict[int, TrialTask] = {}  # what the busy ones run
        self.ending: list[WorkerProcess] = []  # running the last step's tasks

    def _new_worker(self) -> WorkerProcess:
        if self.zygote is not None and self.zygote.alive():
            with contextlib.suppress(OSError):  # gone meanwhile: a plain process then
                return self.zygote.fork()
        return WorkerProcess()

    def submit(self, task: TrialTask, worker: WorkerProcess | None = None) -> None:
        worker = worker or self._idle_worker()
        worker.send(task)
        self.busy[task.number], self.tasks[task.number] = worker, task

    def _idle_worker(self) -> WorkerProcess:
        """An idle worker that is alive (one that died idle is replaced)."""
        while self.idle:
            worker = self.idle.pop()
            if worker.alive():
                return worker
            worker.stop()
        return self._new_worker()

    def done(self, timeout: float) -> list[TrialOutcome]:
        from nnc.sweep_trial import TrialOutcome

        if not self.busy:
            return []
        by_conn = {worker.conn: number for number, worker in self.busy.items()}
        out = []
        for ready in wait(list(by_conn), timeout):
            number = by_conn[cast(Connection, ready)]
            worker, task = self.busy.pop(number), self.tasks.pop(number)
            outcome = worker.receive()
            if outcome is None and self._lost_to_the_zygote(worker):
                worker.stop()
                self.submit(task, WorkerProcess())  # not the trial's doing: again
                continue
            if outcome is None:  # the process died with its trial
                code = worker.stop()
                died = "" if code is None else f"killed by signal {-code}; " if code < 0 \
                    else f"exit code {code}; "
                outcome = TrialOutcome(number, "failed", message=f"the worker process died "
                                       f"({died}out of memory?)")
            else:
                self.idle.append(worker)
            out.append(outcome)
        return out

    def _lost_to_the_zygote(self, worker: WorkerProcess) -> bool:
        """Whether a forked worker that died was never forked, or died with the zygote."""
        if not isinstance(worker, ForkedWorker) or self.zygote is None:
            return False
        try:
            return self.zygote.pid(worker) is None or not self.zygote.alive()
        except OSError:
            return True

    def keep(self, count: int) -> None:
        """Stop idle workers beyond ``count`` (a sweep of fewer trials than workers)."""
        while len(self.idle) > count:
            self.idle.pop().stop()
        self.slots = min(self.slots, count)

    def close(self) -> None:
        """Stop every worker, then the zygote (each is taken off its list before it is
        stopped: a close interrupted and called again stops none twice)."""
        self.tasks.clear()
        while self.busy:
            self.busy.popitem()[1].stop()
        for workers in (self.idle, self.ending):
            while workers:
                workers.pop().stop()
        if self.zygote is not None:
            self.zygote.close()

    def expect_last_step(self) -> None:
        """No trial is left to ask: the zygote imports what the last step needs, for the
        workers it will fork for its tasks."""
        if self.zygote is not None:
            self.zygote.warm()

    def start_last(self, task: LastTask) -> "_LocalRunning":
        """On a worker forked from the zygote after :meth:`expect_last_step` (its imports
        done), else on the worker idle the longest (no trial is left to ask by then)."""
        worker: WorkerProcess | None = None
        if self.zygote is not None and self.zygote.alive():
            with contextlib.suppress(OSError):
                forked = self.zygote.fork()
                if self.zygote.pid(forked) is not None:  # (waits for the fork)
                    worker = forked
                else:
                    forked.stop()
        if worker is None:
            self.idle.reverse()  # _idle_worker takes the last
            worker = self._idle_worker()
            self.idle.reverse()
        worker.send(task)
        self.ending.append(worker)  # closed with the others
        return _LocalRunning(self, worker)


@contextlib.contextmanager
def started_early(workers: int | None, dask: str | None,
                  wanted: bool = True) -> Iterator[LocalWorkers | None]:
    """The worker processes of a sweep on this machine (``workers``, default one per core),
    started before the driver imports the spec's modules and checks the sweep: they
    import nnc meanwhile (about half a second); closed when the block ends. As many as
    there are cores start now, the others when a trial needs them. None for a sweep on
    Dask (or not ``wanted``: a dry run)."""
    from nnc.base.machine import cores

    started = LocalWorkers(workers or cores(), start=cores()) if wanted and not dask else None
    try:
        yield started
    finally:
        if started is not None:
            started.close()


class _LocalRunning:
    def __init__(self, workers: LocalWorkers, worker: WorkerProcess):
        self.workers, self.worker = workers, worker

    def result(self, timeout: float) -> str | None:
        if not self.worker.conn.poll(timeout):
            return None
        answer = self.worker.receive()
        self._release(idle=isinstance(answer, str))
        return answer if isinstance(answer, str) else "the worker process died"

    def cancel(self) -> None:
        """Kill its worker, unless it has finished (then it is idle again, and warm): what
        it began is not wanted, and it may write no more."""
        if self.worker in self.workers.ending and self.worker.conn.poll(0):
            self.result(0)
            return
        self._release(idle=False)

    def _release(self, idle: bool) -> None:
        """Back to the idle workers, or stopped (killed, or found dead)."""
        if self.worker in self.workers.ending:
            self.workers.ending.remove(self.worker)
            if idle:
                self.workers.idle.append(self.worker)
            else:
                self.worker.stop()


# ------------------------------------------------------------------------------ dask

class DaskWorkers:
    """Trials as tasks of a Dask cluster at ``address``, one at a time per worker process
    (a trial's BLAS thread limit is its process's). A worker lost mid-trial makes the
    scheduler run the task again elsewhere: the trial comes back once. A cluster that
    cannot run trials at all (lost, or workers without the same nnc) stops the sweep,
    with its running trials left to --resume, rather than failing them one by one."""

    def __init__(self, address: str, slots: int | None = None, connect_timeout: float = 30):
        try:
            from distributed import Client
        except ImportError:
            raise DataError("--dask needs Dask's distributed package: pip install "
                            "'nnc[dask]'") from None
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
            self.client.wait_for_workers(1, timeout=connect_timeout)
        except (OSError, TimeoutError, asyncio.TimeoutError, ValueError) as e:
            raise DataError(f"--dask {address}: no Dask cluster with a worker answered within "
                            f"{connect_timeout:g} s ({brief(e) or type(e).__name__})") from None
        self.address = address
        self.slots = slots or max(len(self.client.nthreads()), 1)
        self.futures: dict[Any, int] = {}

    def submit(self, task: TrialTask) -> None:
        from nnc.sweep_trial import run_trial

        future = self.client.submit(run_trial, task, pure=False,
                                    key=f"nnc-trial-{task.number}-{os.getpid()}-{id(task)}")
        self.futures[future] = task.number

    def done(self, timeout: float) -> list[TrialOutcome]:
        from distributed import wait as dask_wait

        from nnc.sweep_trial import TrialOutcome

        finished = [f for f in self.futures if f.done()]
        if not finished and self.futures:
            try:
                with self.client.as_current():  # not the process's default client
                    finished = list(dask_wait(list(self.futures), timeout=timeout,
                                              return_when="FIRST_COMPLETED").done)
            except (TimeoutError, asyncio.TimeoutError):
                return []
            except Exception as e:  # cancelled: the scheduler is gone
                raise self._lost(e) from None
        out = []
        for future in finished:
            number = self.futures[future]
            try:
                outcome = future.result()
            except Exception as e:
                if type(e).__name__ != "KilledWorker":
                    raise self._lost(e) from None
                # the task took down every worker it ran on (out of memory?): its fault
                outcome = TrialOutcome(number, "failed", message="the trial killed the Dask "
                                       f"workers it ran on ({brief(e)}; out of memory?)")
            del self.futures[future]
            out.append(outcome)
        return out

    def _lost(self, error: BaseException) -> DataError:
        return DataError(f"--dask {self.address}: the cluster cannot run the trials "
                         f"({type(error).__name__}: {brief(error)}); the trials that were "
                         "running run again with --resume")

    def expect_last_step(self) -> None:
        """The last step runs in the driver: it imports its modules on a thread meanwhile
        (about a second)."""
        def imports() -> None:
            from nnc.sweep_processes import warm_up

            warm_up()

        threading.Thread(target=imports, name="warm-up", daemon=True).start()

    ends_meanwhile = False

    def start_last(self, task: LastTask) -> "_InDriver":
        """Here, in the driver (the folder is on this machine, not the cluster's), when
        it is waited for."""
        return _InDriver(task)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.cancel(list(self.futures), force=True)
        with contextlib.suppress(Exception):
            self.client.close(timeout=5)
        self.futures = {}


class _InDriver:
    def __init__(self, task: LastTask):
        self.task = task

    def result(self, timeout: float) -> str | None:
        return self.task.run()  # now, however long it takes

    def cancel(self) -> None:
        pass  # it had not begun

