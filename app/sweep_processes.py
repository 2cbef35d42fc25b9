"""The processes a sweep runs its trials in on this machine, and the loop each one runs.

A worker is started one of two ways. On Linux, a *zygote* process imports what a trial
needs once (nnc, NumPy, the spec's models: about half a second of a core) and forks each
worker from itself on request, so a worker starts at once, and one forked after
:meth:`Zygote.warm` has imported what the sweep's last step needs too (the reports'
drawing, the ONNX export). Elsewhere, or if the zygote is gone, a worker is a plain
``python -m nnc.sweep_processes`` process. Both are plain processes, not
multiprocessing's: a script calling ``nnc.sweep`` without an ``if __name__ ==
"__main__"`` guard is not run again in each worker.

Every process here is killed when the process that started it dies (the driver, or the
zygote), and ignores Ctrl-C, which is the driver's to handle.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from nnc.base.errors import DataError, brief

PR_SET_PDEATHSIG = 1
# a zygote forks: its NumPy must not have started BLAS threads (trials use one anyway)
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                     "MKL_NUM_THREADS")}


class WorkerProcess:
    """A worker (a plain process) and the socket the driver talks to it through."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = _start("worker", theirs.fileno())
        self.conn = Connection(ours.detach())

    def send(self, task: Any) -> None:
        """Send ``task``; a worker that cannot take it is gone (receive() then says so)."""
        with contextlib.suppress(OSError):
            self.conn.send(task)

    def receive(self) -> Any:
        """What the worker sent back; None if it died."""
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return None

    def alive(self) -> bool:
        """Whether an idle worker still runs (a dead one's socket is at its end)."""
        return not self.conn.poll(0)

    def stop(self) -> int | None:
        """Kill the process (if it runs) and return its exit code."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(10)
        self._close()
        return code

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()


class ForkedWorker(WorkerProcess):
    """A worker the zygote forked (not the driver's child: the zygote kills and reaps it)."""

    def __init__(self, zygote: "Zygote", conn: Connection):
        self.zygote, self.conn = zygote, conn
        self.pid: int | None = None  # read from the zygote's replies

    def stop(self) -> int | None:
        try:
            code = self.zygote.stop(self)
        except OSError:  # the zygote is gone: its death signal may not have reached the
            code = None  # worker yet, and it must write no more once stopped
            self.zygote.end(self.pid)
        self._close()
        return code


class Zygote:
    """The process the workers are forked from (see the module docstring). Each request
    over its socket but "warm" gets one reply, in order. ``fork`` does not wait for the
    zygote (it may still be importing): the replies waiting are read before each request,
    so the zygote never waits on the driver with a reply, and a stop reads them all. A
    reply that is not the one due, none within REPLY_SECONDS, or a request interrupted
    between its send and its reply, and the zygote is abandoned: it counts as gone."""

    REPLY_SECONDS = 60.0

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.process = _start("zygote", theirs.fileno(), ONE_THREAD)
        self.control = ours
        self.control.settimeout(self.REPLY_SECONDS)
        self.unread: list[ForkedWorker] = []  # forked, their pid not read yet
        self.abandoned = False

    def alive(self) -> bool:
        return not self.abandoned and self.process.poll() is None

    def fork(self) -> ForkedWorker:
        """A new worker, forked as soon as the zygote is ready (OSError: it is gone). If
        the fork fails, the worker's socket ends and its pid is None: a worker that died
        before it began."""
        with self._exchange():
            self._read_replies(wait=False)
            ours, theirs = socket.socketpair()
            with ours, theirs:
                worker = ForkedWorker(self, Connection(ours.detach()))
                self.unread.append(worker)  # before the send: its reply is due after it
                socket.send_fds(self.control, [b"fork"], [theirs.fileno()])
        return worker

    def warm(self) -> None:
        """Have the zygote import what the last step needs, for workers forked later."""
        with contextlib.suppress(OSError), self._exchange():
            self._read_replies(wait=False)
            self.control.send(b"warm")

    def pid(self, worker: ForkedWorker) -> int | None:
        """``worker``'s pid, once the zygote has forked it (None: the fork failed).
        OSError: the zygote is gone."""
        with self._exchange():
            while worker in self.unread:
                self._read_replies(wait=True)
        return worker.pid

    def stop(self, worker: ForkedWorker) -> int | None:
        """Kill ``worker`` (if it runs) and return its exit code (None: its fork failed,
        or it was stopped before). OSError: the zygote is gone."""
        with self._exchange():
            self._read_replies(wait=True)
            if worker.pid is None:
                return None
            self.control.send(f"stop {worker.pid}".encode())
            pid, code = self._reply("stopped", 2)
            if int(pid) != worker.pid:
                raise OSError(f"the zygote stopped {pid}, not {worker.pid}")
            return None if code == "-" else int(code)

    @contextlib.contextmanager
    def _exchange(self) -> Iterator[None]:
        """A request and its reply: anything that breaks them off abandons the zygote."""
        if self.abandoned:
            raise OSError("the zygote was abandoned")
        try:
            yield
        except BaseException:
            self.abandoned = True
            with contextlib.suppress(OSError):
                self.control.close()
            raise

    def _read_replies(self, wait: bool) -> None:
        """Read the fork replies due (``wait``: all of them, else those already sent)."""
        while self.unread:
            if not wait and not select.select([self.control], [], [], 0)[0]:
                return  # (not MSG_DONTWAIT: a socket with a timeout waits for it first)
            (pid,) = self._reply("forked", 1)
            self.unread.pop(0).pid = None if pid == "-" else int(pid)

    def _reply(self, kind: str, fields: int) -> list[str]:
        """The next reply, which must be ``kind`` and ``fields`` words (OSError if not)."""
        reply = self.control.recv(64)
        if not reply:
            raise OSError("the zygote is gone")
        words = reply.decode(errors="replace").split()
        if len(words) != fields + 1 or words[0] != kind or not all(
                w == "-" or w.lstrip("-").isdigit() for w in words[1:]):
            raise OSError(f"the zygote answered {reply[:40]!r}, not {kind}")
        return words[1:]

    def end(self, pid: int | None) -> None:
        """The zygote is gone: kill its worker ``pid`` if it is still that worker (the same
        command line as the zygote's: the pid of a worker already reaped may be another
        process's now), and wait until it has ended."""
        if pid is None:
            return
        ours = " ".join(self.process.args if isinstance(self.process.args, list) else [])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip() \
                        != ours.encode():
                    return
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                return
            time.sleep(0.01)

    def close(self) -> None:
        """End the zygote (its workers die with it)."""
        with contextlib.suppress(OSError):
            self.control.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def _start(role: str, fd: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    if os.name != "posix":  # a socket handed to a child process, a session of its own
        raise DataError("nnc sweep runs its trials in worker processes of a POSIX system "
                        "(Linux, macOS); elsewhere, run them on a Dask cluster (--dask)")
    # a session of its own: a Ctrl-C or a SIGTERM to the driver's process group is the
    # driver's to handle (it stops the workers); the process dies with the driver
    return subprocess.Popen(
        [sys.executable, "-m", "nnc.sweep_processes", role, str(fd), str(os.getpid())],
        pass_fds=(fd,), stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None,
        start_new_session=True, env={**os.environ, **env} if env else None)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):  # e.g. a test runner's captured stream
        return False


# --------------------------------------------------------------- in the processes

def serve(conn: Connection) -> None:
    """A worker: run the trials (and the last step's tasks: best/, sweep.html) the driver
    sends, until it closes the socket."""
    _import_trial_modules()
    from nnc.sweep_trial import TrialOutcome, TrialTask, run_trial

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        outcome: TrialOutcome | str
        try:
            outcome = run_trial(task) if isinstance(task, TrialTask) else task.run()
        except Exception as e:  # a bug: the trial fails, the sweep goes on, the trace is kept
            traceback.print_exc()
            message = f"internal error: {type(e).__name__}: {brief(e)}"
            outcome = TrialOutcome(task.number, "failed", message=message) \
                if isinstance(task, TrialTask) else message
        try:
            conn.send(outcome)
        except OSError:  # the driver is gone, or closed this worker: nobody wants it
            return


def _zygote(control: socket.socket) -> None:
    """The zygote: import once, then fork a worker for each socket the driver sends, kill
    and reap one of them when asked, and import the last step's modules when asked. It
    answers each request but "warm" (see :class:`Zygote`)."""
    _import_trial_modules()
    children: set[int] = set()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        if not message:  # the driver closed the socket
            return
        command, _, argument = message.decode(errors="replace").partition(" ")
        if command == "fork" and not fds:  # none came (the zygote's fd limit?)
            control.send(b"forked -")
        elif command == "fork":
            zygote = os.getpid()
            try:
                pid = os.fork()
            except OSError:  # out of processes or memory: that worker ends at once
                os.close(fds[0])
                control.send(b"forked -")
                continue
            if pid == 0:  # the worker
                control.close()
                code = 0
                try:
                    _die_with(zygote)
                    serve(Connection(fds[0]))
                except BaseException:
                    code = 1
                os._exit(code)  # not the zygote's clean-up: it is the zygote's to do
            os.close(fds[0])
            children.add(pid)
            control.send(f"forked {pid}".encode())
        elif command == "stop":
            pid = int(argument)
            ended = _stop(pid) if pid in children else "-"  # only its own, once
            children.discard(pid)
            control.send(f"stopped {pid} {ended}".encode())
        elif command == "warm":
            warm_up()


def _stop(worker: int) -> str:
    """Kill and reap a worker of the zygote (not yet reaped: a zombie keeps its pid, so it
    is no other process's); its exit code as Popen gives it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker, signal.SIGKILL)
    _, status = os.waitpid(worker, 0)
    return str(os.waitstatus_to_exitcode(status))


def _import_trial_modules() -> None:
    """What every trial needs (a zygote imports it once; a plain worker while the driver
    checks the sweep)."""
    import nnc.outputs
    import nnc.pipeline
    import nnc.sweep_trial  # noqa: F401


def warm_up() -> None:
    """Import what the sweep's last step needs: the reports' drawing and the ONNX export
    (not onnxruntime, which starts a thread: a zygote must fork with one)."""
    with contextlib.suppress(Exception):  # the tasks import them again anyway
        import nnc.compiler.onnx_export
        import nnc.sweep_report  # noqa: F401


def _die_with(parent: int) -> None:
    """Linux: be killed when ``parent`` dies, so that a killed driver leaves no trial
    running (and if it died already, leave now)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str]) -> None:
    """``python -m nnc.sweep_processes worker|zygote FD DRIVER_PID``."""
    role, fd, parent = argv
    _die_with(int(parent))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    if role == "zygote":
        _zygote(socket.socket(fileno=int(fd)))
    else:
        serve(Connection(int(fd)))


if __name__ == "__main__":
    main(sys.argv[1:])
