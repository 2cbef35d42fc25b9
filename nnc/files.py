"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from nnc.errors import DataError, NncError


def read_bytes(path: str | os.PathLike, max_bytes: int, kind: str,
               error: type[NncError] = DataError) -> bytes:
    """The contents of the file at ``path`` (a ``kind`` of file, e.g. "an ONNX file"), or
    ``error`` naming the file: missing, a directory, unreadable, larger than ``max_bytes``."""
    path = Path(path)
    try:
        if path.is_dir():
            raise error(f"is a directory, not {kind}", file=str(path))
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{size} bytes is too large for {kind} (limit {max_bytes})",
                        file=str(path))
        return path.read_bytes()
    except FileNotFoundError:
        raise error("no such file", file=str(path)) from None
    except PermissionError:
        raise error("permission denied", file=str(path)) from None
    except OSError as e:
        raise error(f"cannot read: {e.strerror or e}", file=str(path)) from None


def write_atomic(path: str | os.PathLike, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (bytes, or a function writing to a binary file) to a temporary file
    beside ``path``, fsync it, then rename it over ``path``: readers see the old file or
    the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
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
