""".npz files, read and written safely: never a pickle, fixed bytes for fixed arrays.

The one reader of .npz archives, for weights, checkpoints, training data and `nnc
predict` inputs alike: the same checks and the same messages everywhere.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnc.base.errors import DataError, brief, excerpt
from nnc.base.files import require_file
from nnc.base.machine import format_bytes

READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)
MAX_INFLATION = 64           # a compressed member may inflate to 64 times its bytes ...
INFLATION_FLOOR = 16 << 20   # ... or to 16 MiB, whichever is more


@dataclass(frozen=True)
class Declared:
    """What an .npy header declares, read before any of the array's bytes."""

    shape: tuple[int, ...]
    dtype: np.dtype
    header_bytes: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize  # Python ints: never overflows


def read_npy_header(f: BinaryIO) -> Declared:
    """The declaration at the start of an .npy stream (the stream is left after it);
    ValueError if it is not one."""
    version = np.lib.format.read_magic(f)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) \
        else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(f)
    return Declared(tuple(int(d) for d in shape), dtype, f.tell())


def check_declared(name: str, declared: Declared, data_bytes: int, path: Path,
                   what: str) -> None:
    """DataError unless the array ``name`` declared in ``path`` holds numbers (no Python
    objects) and exactly ``data_bytes`` bytes, what the file holds after the header: a
    header may not promise more than is there (the one check of declared sizes, for .npy
    files and .npz members alike)."""
    if declared.dtype.hasobject:
        raise DataError(f"array {excerpt(name, 60)} holds Python objects (dtype object), which nnc "
                        "never unpickles; save it as numbers", file=str(path))
    if declared.nbytes != data_bytes:
        shape = "[" + ", ".join(map(str, declared.shape)) + "]"
        raise DataError(f"{what} (array {excerpt(name, 60)} declares shape {shape} of "
                        f"{declared.dtype}, {format_bytes(declared.nbytes)}, but the file "
                        f"holds {format_bytes(data_bytes)} of it)", file=str(path))


def declared_arrays(path: Path, what: str) -> dict[str, Declared]:
    """The arrays of the .npz file ``path`` as their headers declare them, checked (see
    :func:`check_declared`) before a byte of their data is decompressed: a member must
    inflate to what it declares, and a compressed one to at most MAX_INFLATION times its
    size (INFLATION_FLOOR at least), so a small file never becomes gigabytes."""
    out = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            limit = max(INFLATION_FLOOR, MAX_INFLATION * info.compress_size)
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > limit:
                raise DataError(f"{what} (array {excerpt(name, 60)} would inflate from "
                                f"{format_bytes(info.compress_size)} to "
                                f"{format_bytes(info.file_size)}: a "
                                "compression bomb? save such data uncompressed, with np.savez)",
                                file=str(path))
            with archive.open(info) as member:
                try:
                    declared = read_npy_header(member)  # type: ignore[arg-type]
                except ValueError:
                    raise DataError(f"{what} (member {excerpt(info.filename, 60)} is not a NumPy "
                                    ".npy array)", file=str(path)) from None
            check_declared(name, declared, info.file_size - declared.header_bytes, path, what)
            out[name] = declared
    return out


def write_npz(file: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """An .npz archive streamed to ``file``, with fixed timestamps: the same arrays give
    the same bytes (np.savez stamps the time)."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def load_npz(path: str | Path, what: str, names: Iterable[str] | None = None,
             required: Iterable[str] = (),
             check: Callable[[dict[str, Declared]], None] | None = None
             ) -> dict[str, np.ndarray]:
    """The arrays of an .npz file by name: every one, or those of ``names`` it holds
    (``required`` ones must be there); ``check`` may refuse the declared arrays (names,
    shapes, sizes) before any is loaded.

    Pickles are refused, and declared sizes are checked before anything is decompressed
    (:func:`declared_arrays`). A file that cannot be read is a DataError naming it, ``what
    (why)``, with ``what`` saying what the file was to be, e.g. "not a readable .npz
    weights file"; an array of Python objects is named.
    """
    path = Path(path)
    require_file(path, "an .npz file")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataError(f"{what} (a single .npy array, not an .npz archive)", file=str(path))
        with npz:
            for name in required:
                if name not in npz.files:
                    present = ", ".join(sorted(npz.files)) or "none"
                    raise DataError(f"no array '{name}'; the arrays in the file: {present}",
                                    file=str(path))
            declared = declared_arrays(path, what)
            if check is not None:
                check(declared)
            wanted = npz.files if names is None else [n for n in names if n in npz.files]
            return {name: npz[name] for name in wanted}
    except PermissionError:
        raise DataError("permission denied", file=str(path)) from None
    except MemoryError:
        raise DataError(f"{what} (it declares an array larger than the memory)",
                        file=str(path)) from None
    except READ_ERRORS as e:
        raise DataError(f"{what} ({npz_error(e)})", file=str(path)) from None


def npz_error(error: Exception) -> str:
    """Why ``np.load`` failed on an .npz file, in a few words."""
    if isinstance(error, EOFError):
        return "the file is empty"
    text = brief(error, 120)
    if "allow_pickle" in text:  # what np.load says of a pickle, but also of any other bytes
        return "it holds pickled Python objects, or is no NumPy file at all; nnc never unpickles"
    return text


def declared_npy(path: Path, what: str) -> Declared:
    """The declaration of the .npy file ``path``, checked against the file's size (see
    :func:`check_declared`) before it is read or memory-mapped."""
    with open(path, "rb") as f:
        declared = read_npy_header(f)
        size = os.fstat(f.fileno()).st_size
    check_declared("x", declared, size - declared.header_bytes, path, what)
    return declared
