"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, BinaryIO

from nnc.base.errors import DataError, NncError


def require_file(path: str | os.PathLike[str], kind: str, error: type[NncError] = DataError,
                 missing: str = "no such file") -> None:
    """Raise ``error`` naming ``path`` unless it is an existing regular file: not missing, a
    directory, a device or a pipe (which could be read forever), e.g. ``kind`` "an ONNX file"."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise error(missing, file=str(path)) from None
    except PermissionError:
        raise error("permission denied", file=str(path)) from None
    except OSError as e:
        raise error(f"cannot read: {e.strerror or e}", file=str(path)) from None
    if stat.S_ISDIR(mode):
        raise error(f"is a directory, not {kind}", file=str(path))
    if not stat.S_ISREG(mode):
        raise error(f"is not a regular file (a device or a pipe?), not {kind}", file=str(path))


MISSING = "no such file (relative paths are relative to the spec's folder)"


def os_error(path: str | os.PathLike[str], error: OSError,
             error_type: type[NncError] = DataError) -> NncError:
    """The one-line error for an OSError met while reading ``path``."""
    if isinstance(error, PermissionError):
        return error_type("permission denied", file=str(path))
    if isinstance(error, IsADirectoryError):
        return error_type("is a directory, expected a file", file=str(path))
    if isinstance(error, FileNotFoundError):
        return error_type("no such file", file=str(path))
    return error_type(f"cannot read: {error.strerror or error}", file=str(path))


def kind_of(path: str | os.PathLike[str]) -> str | None:
    """"dir", "file" (anything else that exists) or None (missing); other OSErrors, like a
    folder on the way that may not be searched, are DataErrors."""
    try:
        return "dir" if stat.S_ISDIR(os.stat(path).st_mode) else "file"
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise os_error(path, e) from None


def open_for_reading(path: str | os.PathLike[str], kind: str, missing: str = MISSING) -> IO[bytes]:
    """A user's file opened for reading (binary), after the checks of ``require_file``;
    every failure a DataError naming it."""
    require_file(path, kind, missing=missing)
    try:
        return open(path, "rb")
    except OSError as e:
        raise os_error(path, e) from None


def read_bytes(path: str | os.PathLike[str], max_bytes: int, kind: str,
               error: type[NncError] = DataError) -> bytes:
    """The contents of the regular file at ``path`` (``kind``, e.g. "an ONNX file"), or
    ``error`` naming the file: missing, not a regular file, unreadable, over ``max_bytes``."""
    require_file(path, kind, error)
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)  # never more, whatever the file claims
    except PermissionError:
        raise error("permission denied", file=str(path)) from None
    except OSError as e:
        raise error(f"cannot read: {e.strerror or e}", file=str(path)) from None
    if len(data) > max_bytes:
        raise error(f"too large for {kind} (limit {max_bytes} bytes)", file=str(path))
    return data


def make_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (and its parents) for outputs; DataError if impossible."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError("cannot create the output folder: a file of that name exists",
                        file=str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the output folder: {e.strerror or e}",
                        file=str(path)) from None
    return path


TEMP_SUFFIX = ".tmp"  # of nnc's temporary files: .NAME.XXXXXXXX.tmp beside NAME
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # mkstemp's 8 random characters


def is_temporary(name: str) -> bool:
    """Whether ``name`` is that of a temporary file (or folder) nnc writes, which only a
    killed run leaves behind."""
    return _TEMP_NAME.fullmatch(name) is not None


def require_replaceable(path: str | os.PathLike[str]) -> None:
    """DataError naming ``path`` unless nnc may write a file there: a new path or a regular
    file (followed through a symlink). A directory, a device, a FIFO or a socket is never
    replaced (a rename over /dev/null would replace the system's /dev/null)."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        raise DataError(f"cannot write: {e.strerror or e}", file=str(path)) from None
    if stat.S_ISDIR(mode):
        raise DataError("is a directory; cannot write a file there", file=str(path))
    if not stat.S_ISREG(mode):
        raise DataError("is not a regular file (a device, a pipe or a socket); nnc replaces "
                        "only regular files: choose another output", file=str(path))


def check_output(output: str | os.PathLike[str],
                 inputs: Mapping[str, str | os.PathLike[str]]) -> None:
    """DataError naming ``output`` unless nnc may write it (``require_replaceable``), or if
    writing it would replace one of ``inputs`` (what each is, e.g. "the spec", -> its
    path): the same name in the same folder, through symlinked folders or a symlinked
    input. Called before a run's work, so a bad output fails at once."""
    target = same_entry(output)
    for what, path in inputs.items():
        if target in {same_entry(path), Path(os.path.realpath(path))}:
            raise DataError(f"would replace {what}, {path}, an input of this run: choose "
                            "another output", file=str(output))
    require_replaceable(output)


def same_entry(path: str | os.PathLike[str]) -> Path:
    """``path`` with its folder's symlinks resolved (not its own: renaming over a symlink
    replaces the link, not its target)."""
    path = Path(path)
    return Path(os.path.realpath(path.parent)) / path.name


def write_atomic(path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (bytes, or a function writing to a binary file) to a temporary file
    beside ``path``, fsync it, then rename it over ``path``: readers see the old file or
    the whole new one, never a part."""
    path = Path(path)
    make_dir(path.parent)
    require_replaceable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as e:
        raise DataError(f"cannot write: {e.strerror or e}", file=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk, a read-only folder, ...
            raise DataError(f"cannot write: {e.strerror or e}", file=str(path)) from None
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
