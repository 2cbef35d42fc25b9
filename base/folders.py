"""Output folders: one run at a time in each, and a run's files replaced all together.

``folder_lock`` makes a second run on a folder fail at once (the kernel releases the lock
when its holder ends, even by kill -9); ``remove_stale_temporaries`` clears what a killed
run left (safe under the lock: no other run is writing there); ``staged`` writes a set
of files to a staging folder and renames them into place only once all are written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from nnc.base.errors import DataError, NncError
from nnc.base.files import TEMP_SUFFIX, fsync_dir, is_temporary, os_error, require_replaceable

LOCK_NAME = ".lock"


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (flock on folder/.lock, which holds the
    holder's pid) for the block. A DataError naming the folder and the holder if another
    process holds it: never a wait, and nothing to clean up after a holder is killed."""
    path = folder / LOCK_NAME
    try:  # never through a symlink: root would truncate whatever it points to
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise os_error(path, e) from None
    with os.fdopen(fd, "r+") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DataError("is not a regular file; nnc keeps the folder's lock there",
                            file=str(path))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = f.read(20).strip()
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise DataError(f"in use by another nnc run ({who} holds the lock {path}): wait "
                            "for it to end, or choose another folder", file=str(folder)) from None
        f.truncate(0)
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporary files and staging folders that a killed run left in
    ``folder`` and its subfolders (only nnc's names: .NAME.XXXXXXXX.tmp). Call it only
    while holding the folder's lock."""
    folders = [folder] + [p for p in _entries(folder) if p.is_dir() and not p.is_symlink()
                          and not is_temporary(p.name)]
    for where in folders:
        for path in _entries(where):
            if not is_temporary(path.name):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


@contextmanager
def staged(folder: Path, stale: Iterable[str] = ()) -> Iterator[Path]:
    """A new staging folder inside ``folder`` for a run's outputs. When the block ends
    without an error, every file written there replaces the file of its name in
    ``folder`` (subfolders too), and the names in ``stale`` that the block did not write
    are removed from ``folder`` (an earlier run's, which would mislead); when it fails,
    ``folder`` is left as it was. Each target is checked before anything is renamed, and
    SIGINT/SIGTERM wait until the renames are done."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=".outputs.", suffix=TEMP_SUFFIX, dir=folder))
    except OSError as e:
        raise DataError(f"cannot write: {e.strerror or e}", file=str(folder)) from None
    try:
        yield staging
        _commit(staging, folder, stale)
    except NncError as e:  # name the output, not its staged copy
        e.problems[:] = [replace(p, file=p.file.replace(str(staging), str(folder), 1))
                         if p.file else p for p in e.problems]
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(staging: Path, folder: Path, stale: Iterable[str]) -> None:
    names = sorted(p.relative_to(staging) for p in staging.rglob("*")
                   if p.is_file() and not is_temporary(p.name))
    removed = [folder / name for name in stale if not (staging / name).exists()
               and (folder / name).is_file()]
    for name in names:  # every check first: a failure here replaces nothing
        require_replaceable(folder / name)
        try:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise os_error(folder / name.parent, e) from None
    with _signals_held():
        try:
            for name in names:
                os.replace(staging / name, folder / name)
            for path in removed:
                path.unlink(missing_ok=True)
        except OSError as e:
            raise DataError(f"cannot write: {e.strerror or e}", file=str(folder)) from None
    for where in {(folder / name).parent for name in names}:
        fsync_dir(where)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM delivered only after the block (a rename loop half done would
    leave a folder of two runs)."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

