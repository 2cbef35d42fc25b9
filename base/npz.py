""".npz files, read and written safely: never a pickle, fixed bytes for fixed arrays.

The one reader of .npz archives, for weights, checkpoints, training data and `nnc
predict` inputs alike: the same checks and the same messages everywhere.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnc.base.errors import DataError, brief
from nnc.base.files import require_file

READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


def write_npz(file: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """An .npz archive streamed to ``file``, with fixed timestamps: the same arrays give
    the same bytes (np.savez stamps the time)."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def load_npz(path: str | Path, what: str, names: Iterable[str] | None = None,
             required: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """The arrays of an .npz file by name: every one, or those of ``names`` it holds
    (``required`` ones must be there).

    Pickles are refused. A file that cannot be read is a DataError naming it, ``what
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
            wanted = npz.files if names is None else [n for n in names if n in npz.files]
            return {name: _member(npz, name, path, what) for name in wanted}
    except PermissionError:
        raise DataError("permission denied", file=str(path)) from None
    except MemoryError:
        raise DataError(f"{what} (it declares an array larger than the memory)",
                        file=str(path)) from None
    except READ_ERRORS as e:
        raise DataError(f"{what} ({npz_error(e)})", file=str(path)) from None


def _member(npz: np.lib.npyio.NpzFile, name: str, path: Path, what: str) -> np.ndarray:
    try:
        return npz[name]
    except ValueError as e:
        if "allow_pickle" in str(e) and _object_dtype(npz, name):
            raise DataError(f"array {name!r} holds Python objects (dtype object), which nnc "
                            "never unpickles; save it as numbers", file=str(path)) from None
        raise


def _object_dtype(npz: np.lib.npyio.NpzFile, name: str) -> bool:
    """Whether the member's header declares dtype object (read without loading it)."""
    if npz.zip is None:  # closed: no header to read
        return False
    try:
        with npz.zip.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            return reader(member)[2].hasobject
    except Exception:  # not readable as an .npy header: not an object array we can name
        return False


def npz_error(error: Exception) -> str:
    """Why ``np.load`` failed on an .npz file, in a few words."""
    if isinstance(error, EOFError):
        return "the file is empty"
    text = brief(error, 120)
    if "allow_pickle" in text:  # what np.load says of a pickle, but also of any other bytes
        return "it holds pickled Python objects, or is no NumPy file at all; nnc never unpickles"
    return text
