"""Where samples come from: the built-in sets and the readers of ``.npz`` and ``.csv`` files.

Each source turns its section of the spec into a :class:`Raw` set: the samples as read,
before any check, split or preprocessing, and an :class:`Origin` that tells the checks in
:mod:`nnc.runtime.data` where to point an error. The CIFAR-10 reader lives in
:mod:`nnc.runtime.cifar10`; the table of sources in :mod:`nnc.runtime.data`.

Nothing here unpickles: ``np.load`` runs with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from nnc.base.errors import DataError, Problem
from nnc.base.files import require_file
from nnc.spec.sections import BreastCancer, Csv, Digits, Function, Npz, Spiral

SYNTHETIC_STREAM = 1  # spawn key of the generator that makes synthetic samples
SPLIT_STREAM = 2      # spawn key of the generator that splits off the validation set


@dataclass(frozen=True)
class Context:
    """What every source needs besides its own section of the spec."""

    base_dir: Path   # the folder relative paths in the spec are relative to
    spec_file: str   # the spec's path, for errors about built-in sets
    field: str       # the spec field of the source, e.g. "data.digits"
    seed: int

    def rng(self) -> np.random.Generator:
        """The generator of synthetic samples (spawn key 1 of ``seed``)."""
        return np.random.default_rng(np.random.SeedSequence(self.seed,
                                                            spawn_key=(SYNTHETIC_STREAM,)))

    def resolve(self, path: str) -> Path:
        """``path`` as written in the spec, made relative to the spec's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def spec_origin(self) -> "Origin":
        return Origin(file=self.spec_file, field=self.field)


@dataclass(frozen=True)
class Origin:
    """Where samples were read from: a data file, or a field of the spec for built-in sets.

    ``problem`` places a message: for a CSV file at the line of the sample's row and the
    name of the column; otherwise with "at row R, column C" inside the message, under the
    array's name (``.npz``) or the spec field (built-in sets).
    """

    file: str
    field: str | None = None           # "data.digits" for built-in sets, None for files
    lines: np.ndarray | None = None    # CSV: the line of each sample's row
    columns: tuple[str, ...] = ()      # CSV: the names of the feature columns
    label: str | None = None           # CSV: the name of the label column

    def problem(self, what: str, rest: str = "", *, part: str | None = None,
                row: int | None = None, column: int | None = None) -> Problem:
        """``what`` + where + ``rest``; ``part`` is the array ("x", "y", "x_val", "y_val")."""
        if self.lines is not None:
            line = int(self.lines[row]) if row is not None else None
            name = None
            if part is not None and part.startswith("y"):
                name = self.label
            elif part is not None and column is not None:
                name = self.columns[column]
            path = f"column '{name}'" if name is not None else None
            return Problem(what + rest, file=self.file, line=line, path=path)
        at = ""
        if row is not None:
            at = f" at row {row}" + (f", column {column}" if column is not None else "")
        return Problem(what + at + rest, file=self.file, path=self.field or part)

    def error(self, what: str, rest: str = "", *, part: str | None = None,
              row: int | None = None, column: int | None = None) -> DataError:
        """The DataError of :meth:`problem`."""
        return DataError(self.problem(what, rest, part=part, row=row, column=column))


@dataclass
class Raw:
    """Samples as a source read them.

    x: [N, D] float32 (uint8 pixels for CIFAR-10); y: [N] or [N, k] numbers as read.
    x_val, y_val: a validation set the source brought along (then val_split is ignored).
    """

    name: str                      # e.g. "digits", "npz:data/x.npz"
    x: np.ndarray
    y: np.ndarray
    origin: Origin
    subject: str                   # how messages name the samples: "digits", "x", ...
    classes: int | None = None     # the number of classes, when the source knows it
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    pixels: str | None = None      # CIFAR-10's own preprocessing: mean_image|standardize|scale


# --------------------------------------------------------------------------- built-in

def digits(section: Digits, ctx: Context) -> Raw:
    """scikit-learn's bundled 8x8 digits: x [1797, 64] in 0..16, y [1797] in 0..9."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return Raw("digits", x.astype(np.float32), y, ctx.spec_origin(), "digits", classes=10)


def breast_cancer(section: BreastCancer, ctx: Context) -> Raw:
    """scikit-learn's bundled breast cancer set: x [569, 30], y [569] (0 malignant, 1 benign)."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return Raw("breast_cancer", x.astype(np.float32), y, ctx.spec_origin(), "breast_cancer",
               classes=2)


def spiral(section: Spiral, ctx: Context) -> Raw:
    """CS231n's spiral: x [classes*points, 2], y [classes*points], class j on arm j."""
    rng, n = ctx.rng(), section.points
    x = np.empty((section.classes * n, 2), dtype=np.float64)
    r = np.linspace(0.0, 1.0, n)
    for j in range(section.classes):
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.standard_normal(n) * section.noise
        x[j * n:(j + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
    y = np.repeat(np.arange(section.classes, dtype=np.int64), n)
    return Raw("spiral", x.astype(np.float32), y, ctx.spec_origin(), "spiral",
               classes=section.classes)


FUNCTIONS = {
    "sin": np.sin,
    "abs": np.abs,
    "step": lambda x: (x >= 0).astype(np.float64),
}


def function(section: Function, ctx: Context) -> Raw:
    """y = fn(x) + noise * N(0, 1) with x uniform on [low, high]: x [S, 1], y [S, 1]."""
    rng = ctx.rng()
    x = rng.uniform(section.low, section.high, section.samples)
    y = FUNCTIONS[section.fn](x) + section.noise * rng.standard_normal(section.samples)
    return Raw(f"function:{section.fn}", x.astype(np.float32)[:, None],
               y.astype(np.float32)[:, None], ctx.spec_origin(), f"function {section.fn}")


# ------------------------------------------------------------------------ files

def kind_of(path: Path) -> str | None:
    """"dir", "file" (anything else that exists) or None (missing); other OSErrors, like a
    folder on the way that may not be searched, are DataErrors."""
    try:
        return "dir" if stat.S_ISDIR(os.stat(path).st_mode) else "file"
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise os_error(path, e) from None


def check_file(path: Path, kind: str) -> None:
    """Raise a DataError unless ``path`` is an existing regular file."""
    require_file(path, kind, missing="no such file (relative paths are relative to the "
                                     "spec's folder)")


def os_error(path: Path, error: OSError) -> DataError:
    """The DataError for an OSError met while reading ``path``."""
    if isinstance(error, PermissionError):
        return DataError("permission denied", file=str(path))
    if isinstance(error, IsADirectoryError):
        return DataError("is a directory, expected a file", file=str(path))
    if isinstance(error, FileNotFoundError):
        return DataError("no such file", file=str(path))
    return DataError(f"cannot read: {error.strerror or error}", file=str(path))


def open_file(path: Path, kind: str) -> IO[bytes]:
    """Open a user's data file for reading, every failure a DataError."""
    check_file(path, kind)
    try:
        return open(path, "rb")
    except OSError as e:
        raise os_error(path, e) from None


def brief(error: BaseException, limit: int = 160) -> str:
    """An exception's message on one line, at most about ``limit`` characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def as_features(a: np.ndarray) -> np.ndarray:
    """[N, ...] numbers -> float32 [N, D], D the product of the trailing dims ([N] -> [N, 1])."""
    n = a.shape[0]
    d = int(np.prod(a.shape[1:], dtype=np.int64)) if a.ndim > 1 else 1
    return np.ascontiguousarray(a.reshape(n, d), dtype=np.float32)


# -------------------------------------------------------------------------- npz

def npz(section: Npz, ctx: Context) -> Raw:
    """Arrays ``x`` [N, ...] and ``y``, and optionally ``x_val`` and ``y_val``, of a .npz file."""
    path = ctx.resolve(section.path)
    with open_file(path, "a .npz file") as f:
        archive = _open_npz(f, path)
        with archive:
            arrays = {name: _npz_array(archive, name, path)
                      for name in ("x", "y", "x_val", "y_val")
                      if name in ("x", "y") or name in archive.files}
    has_val = [name for name in ("x_val", "y_val") if arrays.get(name) is not None]
    if len(has_val) == 1:
        other = "y_val" if has_val[0] == "x_val" else "x_val"
        raise DataError(f"has {has_val[0]} but no {other}; give both or neither", file=str(path))
    origin = Origin(file=str(path))
    x = as_features(arrays["x"])
    x_val = None if arrays.get("x_val") is None else as_features(arrays["x_val"])
    subject = "x"
    if arrays["x"].ndim > 2:
        subject = f"x (shape {shape_text(arrays['x'].shape)})"
    return Raw(f"npz:{section.path}", x, arrays["y"], origin, subject,
               x_val=x_val, y_val=arrays.get("y_val"))


def _open_npz(f: IO[bytes], path: Path) -> np.lib.npyio.NpzFile:
    try:
        archive = np.load(f, allow_pickle=False)
    except EOFError:
        raise DataError("empty file, expected a .npz archive", file=str(path)) from None
    except (ValueError, OSError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"not a readable .npz file ({brief(e)}): truncated, or not written by "
                        "numpy.savez(path, x=..., y=...)", file=str(path)) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError("is a .npy file holding one array; expected a .npz archive with arrays "
                        "x and y (numpy.savez(path, x=..., y=...))", file=str(path))
    return archive


def _npz_array(archive: np.lib.npyio.NpzFile, name: str, path: Path) -> np.ndarray:
    if name not in archive.files:
        present = ", ".join(sorted(archive.files)) or "none"
        raise DataError(f"no array '{name}'; the arrays in the file: {present}", file=str(path))
    try:
        a = archive[name]
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(f"array '{name}' holds Python objects (dtype object), which nnc "
                            "never unpickles; save it as numbers", file=str(path)) from None
        raise DataError(f"array '{name}' cannot be read: {brief(e)}", file=str(path)) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, MemoryError) as e:
        raise DataError(f"array '{name}' cannot be read ({brief(e)}): a corrupt or truncated "
                        "file?", file=str(path)) from None
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"array '{name}' has dtype {a.dtype}, expected real numbers",
                        file=str(path))
    if a.ndim == 0:
        raise DataError(f"array '{name}' is a scalar, expected one row per sample",
                        file=str(path))
    return a


# -------------------------------------------------------------------------- csv

def csv_file(section: Csv, ctx: Context) -> Raw:
    """A CSV file with a header row: column ``label`` is y, every other column a feature."""
    path = ctx.resolve(section.path)
    header, rows, lines = _read_csv(path, section.delimiter)
    origin = Origin(file=str(path))
    label = _label_column(header, section.label, origin)
    table = _numbers(rows, lines, header, origin)
    features = [j for j in range(len(header)) if j != label]
    origin = Origin(file=str(path), lines=np.asarray(lines, dtype=np.int64),
                    columns=tuple(header[j] for j in features), label=header[label])
    x = np.ascontiguousarray(table[:, features], dtype=np.float32)
    return Raw(f"csv:{section.path}", x, table[:, label], origin,
               f"the file (every column but '{header[label]}')")


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the rows and the line of each row; ragged rows are errors."""
    with open_file(path, "a .csv file") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        rows: list[list[str]] = []
        lines: list[int] = []
        try:
            for row in _nonblank(reader):
                if header is None:
                    header = [name.strip() for name in row]
                    header_line = reader.line_num
                    continue
                if len(row) != len(header):
                    raise DataError(_ragged(row, header, str(path), reader.line_num))
                rows.append(row)
                lines.append(reader.line_num)
        except csv.Error as e:
            raise DataError(Problem(f"not valid CSV: {e}", file=str(path),
                                    line=reader.line_num)) from None
        except UnicodeDecodeError as e:  # decoded by chunks: the line is not known
            raise DataError(f"not UTF-8 text (found byte 0x{e.object[e.start]:02x}): is this "
                            "a CSV file?", file=str(path)) from None
        except OSError as e:
            raise os_error(path, e) from None
    if header is None:
        raise DataError("empty file; expected a header row naming the columns, then one row "
                        "per sample", file=str(path))
    if not rows:
        raise DataError(Problem("no samples: the file has only its header row", file=str(path),
                                line=header_line))
    return header, rows, lines


def _nonblank(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    return (row for row in reader if row)


def _ragged(row: list[str], header: list[str], file: str, line: int) -> Problem:
    if len(row) < len(header):
        return Problem(f"missing: the row has {len(row)} fields, the header {len(header)}",
                       file=file, line=line, path=f"column '{header[len(row)]}'")
    return Problem(f"the row has {len(row)} fields, but the header has {len(header)} "
                   f"(after column '{header[-1]}' comes {row[len(header)]!r})",
                   file=file, line=line)


def _label_column(header: list[str], label: str, origin: Origin) -> int:
    def error(message: str) -> DataError:
        return DataError(Problem(message, file=origin.file, line=1))

    if header.count(label) > 1:
        raise error(f"column '{label}' appears {header.count(label)} times in the header")
    if label not in header:
        close = difflib.get_close_matches(label, header, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listing = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
        raise error(f"no label column '{label}'{hint} (the columns: {listing})")
    if len(header) == 1:
        raise error(f"no feature columns: the only column is the label '{label}'")
    return header.index(label)


def _numbers(rows: list[list[str]], lines: list[int], header: list[str],
             origin: Origin) -> np.ndarray:
    """The cells as float64 [rows, columns]; the first one that is not a number is an error."""
    try:
        return np.asarray(rows, dtype=np.float64)
    except ValueError:
        pass
    for row, line in zip(rows, lines):
        for j, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                what = "empty cell, expected a number" if not cell.strip() else \
                    f"{cell.strip()!r} is not a number"
                raise DataError(Problem(what, file=origin.file, line=line,
                                        path=f"column '{header[j]}'")) from None
    return np.array([[float(cell) for cell in row] for row in rows], dtype=np.float64)
