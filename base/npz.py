""".npz files, read and written safely: never a pickle, fixed bytes for fixed arrays."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnc.base.errors import DataError
from nnc.base.files import require_file


def write_npz(file: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """An .npz archive streamed to ``file``, with fixed timestamps: the same arrays give
    the same bytes (np.savez stamps the time)."""
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def load_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file, pickles refused; a DataError ``what (why)`` naming the
    file when it cannot be read (``what`` e.g. "not a readable .npz weights file")."""
    require_file(path, "an .npz file")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with npz:
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise DataError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise DataError("is a directory, not an .npz file", file=str(path)) from None
    except PermissionError:
        raise DataError("permission denied", file=str(path)) from None
    except MemoryError:
        raise DataError(f"{what} (it declares an array larger than the memory)",
                        file=str(path)) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise DataError(f"{what} ({npz_error(e)})", file=str(path)) from None


def npz_error(error: Exception) -> str:
    """Why ``np.load`` failed on an .npz file, in a few words."""
    if isinstance(error, EOFError):
        return "the file is empty"
    text = str(error).strip() or type(error).__name__
    if "allow_pickle" in text:  # what np.load says of a pickle, but also of any other bytes
        return "it holds pickled Python objects, or is no NumPy file at all; nnc never unpickles"
    return text.splitlines()[0][:120]
