"""Samples from the files users give nnc: .npy, .npz and .csv, for training and for
`nnc predict` alike. One reader per format, one set of checks, one set of messages.

A CSV file is read as UTF-8 (a byte-order mark is dropped), with any line ends and
quoted fields (Python's csv module); its first row is a header when it holds a cell
that is not a number (or always, where a header is required). Every problem is a
DataError of one line naming the file and, where it is known, the line and the column.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnc.base.coding import MISSING, column_kinds, is_number, label_texts
from nnc.base.errors import DataError, Problem, excerpt, listing
from nnc.base.files import open_for_reading, require_file
from nnc.base.npz import declared_npy, load_npz, npz_error

CHUNK = 1 << 22  # elements per chunk of a scan over a large array (32 MiB of float64)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


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
                name = self.columns[column] if self.columns else str(column + 1)
            path = f"column {_quoted(name)}" if name is not None else None
            return Problem(what + rest, file=self.file, line=line, path=path)
        at = ""
        if row is not None:
            at = f" at row {row}" + (f", column {column}" if column is not None else "")
        return Problem(what + at + rest, file=self.file, path=self.field or part)

    def error(self, what: str, rest: str = "", *, part: str | None = None,
              row: int | None = None, column: int | None = None) -> DataError:
        """The DataError of :meth:`problem`."""
        return DataError(self.problem(what, rest, part=part, row=row, column=column))


def _quoted(name: str) -> str:
    """A column by name ('price', at most a short excerpt), or by its 1-based number (3) in
    a file without header."""
    return name if name.isdigit() else excerpt(name, 30)


# ------------------------------------------------------------------------- checks

def check_finite(a: np.ndarray, origin: Origin, part: str, kind: str,
                 missing_ok: bool = False) -> None:
    """A DataError at the first NaN, infinity or value beyond float32 (which would become
    an infinity) of ``a`` [N, D], found chunk by chunk; ``kind`` is "feature" or "target".
    ``missing_ok``: NaN marks an empty cell of a table (filled later), not an error."""
    if a.dtype.kind != "f":
        return
    wide = a.dtype.itemsize > 4
    rows = max(1, CHUNK // max(1, a.shape[1]))
    for start in range(0, len(a), rows):
        chunk = a[start:start + rows]
        bad = np.isinf(chunk) if missing_ok else ~np.isfinite(chunk)
        if wide:
            with np.errstate(invalid="ignore"):
                bad |= np.abs(chunk) > FLOAT32_MAX
        if bad.any():
            row, column = np.argwhere(bad)[0]
            value = float(a[start + row, column])
            what = ("NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
                    if not np.isfinite(value) else f"{value:g}")
            rest = f" ({kind}s must be finite numbers" + \
                (")" if not np.isfinite(value) else ", within float32's range)")
            raise origin.error(what, rest, part=part, row=int(start + row), column=int(column))


def class_labels(y: np.ndarray, origin: Origin, part: str, classes: int,
                 binary_loss: str | None = None) -> np.ndarray:
    """Class labels as int64 [N], each an integer in 0..classes-1 (0 or 1 for the binary
    loss ``binary_loss``)."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = " (one-hot? save the class indices, y.argmax(1))" if y.ndim == 2 else ""
        raise origin.error(f"labels must be one class index per sample, but {part} has shape "
                           f"{shape_text(y.shape)}{hint}")
    if y.dtype.kind not in "fiub":
        raise origin.error(f"labels must be numbers, but {part} has dtype {y.dtype}")
    if y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if len(bad):
            raise origin.error(f"label {y[bad[0]]}", " is not a class index (an integer)",
                               part=part, row=int(bad[0]))
    top = 2 if binary_loss else classes
    bad = np.flatnonzero((y < 0) | (y >= top))
    if len(bad):
        rest = f", but {binary_loss} takes labels 0 and 1" if binary_loss \
            else f", but the network has {units(classes)} (labels 0..{classes - 1})"
        raise origin.error(f"label {_number(y[bad[0]])}", rest, part=part, row=int(bad[0]))
    return y.astype(np.int64)


def named_class_labels(y: np.ndarray, names: Sequence[str], origin: Origin, part: str,
                       whose: str = "") -> np.ndarray:
    """Labels that name classes (words, or numbers such as 2 and 4) as int64 indices into
    ``names``; a label that is none of them is a DataError at its row ("not one of
    {whose}classes")."""
    texts = label_texts(np.asarray(y).reshape(len(y)))
    found, inverse = np.unique(texts, return_inverse=True)
    lookup = {name: i for i, name in enumerate(names)}
    index = np.asarray([lookup.get(str(f), -1) for f in found], dtype=np.int64)[inverse]
    bad = np.flatnonzero(index < 0)
    if len(bad):
        raise origin.error(f"label {excerpt(texts[bad[0]])}", f" is not one of {whose}"
                           f"classes ({listing(names, 10)})", part=part, row=int(bad[0]))
    return index


def units(n: int) -> str:
    return f"{n} output unit" + ("s" if n != 1 else "")


def _number(v: object) -> str:
    f = float(v)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() and abs(f) < 1e18 else f"{f:g}"


def as_rows(a: np.ndarray) -> np.ndarray:
    """[N, ...] -> [N, D] of the same dtype, D the product of the trailing dims ([N] -> [N, 1])."""
    n = a.shape[0]
    d = int(np.prod(a.shape[1:], dtype=np.int64)) if a.ndim > 1 else 1
    return a.reshape(n, d)


def as_features(a: np.ndarray) -> np.ndarray:
    """[N, ...] numbers -> float32 [N, D] (see ``as_rows``); check them first with
    ``check_finite``: a value beyond float32 would become an infinity."""
    return np.ascontiguousarray(as_rows(a), dtype=np.float32)


def numeric_array(a: np.ndarray, name: str, file: str) -> np.ndarray:
    """``a`` if it holds real numbers with one row per sample, else a DataError."""
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"array '{name}' has dtype {a.dtype}, expected real numbers", file=file)
    if a.ndim == 0:
        raise DataError(f"array '{name}' is a scalar, expected one row per sample", file=file)
    return a


# ---------------------------------------------------------------------- .npy .npz

def read_npy(path: Path) -> np.ndarray:
    """The array of a .npy file, memory-mapped (bounded memory for huge inputs)."""
    require_file(path, "an input file")
    try:
        declared_npy(path, "cannot read the input")
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except PermissionError:
        raise DataError("permission denied", file=str(path)) from None
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"cannot read the input ({npz_error(e)})", file=str(path)) from None
    return numeric_array(a, "x", str(path))


WORD_ARRAYS = ("y", "y_val", "feature_names")  # an .npz's arrays that may hold words


def read_npz_samples(path: Path, names: Sequence[str] | None, required: Sequence[str] = (),
                     what: str = "not a readable .npz file") -> dict[str, np.ndarray]:
    """The arrays ``names`` (None: all) that an .npz file holds, each checked to be numbers
    (or words: class names in ``y``/``y_val``, ``feature_names``)."""
    arrays = load_npz(path, what, names, required)
    return {name: a if name in WORD_ARRAYS and a.dtype.kind in "US" and a.ndim >= 1
            else numeric_array(a, name, str(path)) for name, a in arrays.items()}


# --------------------------------------------------------------------------- csv

@dataclass
class CsvTable:
    """The text cells of a CSV file: ``header`` (None when the file has none), one row of
    cells per sample and the line each row starts on."""

    file: str
    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]
    header_line: int = 1
    delimiter: str = ","

    @property
    def names(self) -> list[str]:
        """The column names: the header's, or 1, 2, ... without one."""
        return self.header if self.header is not None else \
            [str(j + 1) for j in range(len(self.rows[0]))]

    def column(self, name: str, role: str = "label column") -> int:
        """The index of the column ``name``; a DataError when it is missing or repeated."""
        header = self.header

        def error(message: str) -> DataError:
            return DataError(Problem(message, file=self.file, line=self.header_line))

        if header is None:
            raise DataError(f"no {role} {excerpt(name)}: the file has no header row naming its "
                            "columns", file=self.file)
        if header.count(name) > 1:
            raise error(f"column {excerpt(name)} appears {header.count(name)} times in the "
                        "header")
        if name not in header:
            if len(header) == 1:  # not a table with this delimiter: quote none of its line
                raise error(f"no {role} {excerpt(name)}: the first row is a single column, "
                            f"with no {self.delimiter!r} between columns (is this a CSV "
                            "file?)")
            close = difflib.get_close_matches(name, header, n=1, cutoff=0.5)
            hint = f"; did you mean {excerpt(close[0])}?" if close else ""
            raise error(f"no {role} {excerpt(name)}{hint} (the columns: {listing(header)})")
        return header.index(name)

    def numbers(self) -> np.ndarray:
        """Every cell as float64 [rows, columns]; the first that is not a number is an error
        at its line and column (a column mixing numbers and words is named as in training)."""
        try:
            return np.asarray(self.rows, dtype=np.float64)
        except ValueError:
            pass
        names = self.names
        column_kinds(self.rows, names, self.lines, self.file)
        for row, line in zip(self.rows, self.lines):
            for j, cell in enumerate(row):
                try:
                    float(cell)
                except ValueError:
                    what = "empty cell, expected a number" if not cell.strip() else \
                        f"{excerpt(cell.strip())} is not a number"
                    raise DataError(Problem(what, file=self.file, line=line,
                                            path=f"column {_quoted(names[j])}")) from None
        raise AssertionError("unreachable: a cell failed as a whole but not alone")


def table_cells(table: CsvTable, columns: Sequence[int], kinds: Sequence[str]) -> np.ndarray:
    """The number columns among ``columns`` as float64 [rows, len(columns)]: NaN for an
    empty cell and for every cell of a category column."""
    if all(k == "number" for k in kinds):
        try:  # the common case, a table of numbers only, at NumPy's speed
            return np.asarray([[row[j] for j in columns] for row in table.rows],
                              dtype=np.float64)
        except ValueError:
            pass
    out = np.full((len(table.rows), len(columns)), np.nan)
    for i, row in enumerate(table.rows):
        for k, j in enumerate(columns):
            cell = row[j].strip()
            if kinds[k] == "number" and cell != MISSING:
                out[i, k] = float(cell)
    return out


def text_array(table: CsvTable, columns: Sequence[int]) -> np.ndarray:
    """The cells of ``columns`` as strings [rows, len(columns)], spaces stripped."""
    return np.asarray([[row[j].strip() for j in columns] for row in table.rows], dtype=str) \
        .reshape(len(table.rows), len(columns))


def label_cells(table: CsvTable, column: int, origin: Origin) -> np.ndarray:
    """A label column: float64 [rows] when every cell is a number, else its words (str);
    an empty cell is a DataError at its line."""
    cells = [row[column].strip() for row in table.rows]
    for cell, line in zip(cells, table.lines):
        if not cell:
            raise DataError(Problem("empty label cell", file=table.file, line=line,
                                    path=f"column {_quoted(origin.label or '')}"))
    kind, = column_kinds([[c] for c in cells], [origin.label or ""], table.lines, table.file)
    return np.asarray(cells, dtype=np.float64 if kind == "number" else str)


def read_csv(path: Path, delimiter: str = ",", header_required: bool = True,
             names: Sequence[str] = ()) -> CsvTable:
    """The cells of a CSV file; ragged rows are errors. With ``header_required`` the first
    row names the columns; otherwise it does when one of its cells is not a number or,
    given the column ``names`` to expect (a table with words in it), names one of them."""
    with open_for_reading(path, "a .csv file") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        header_line, width = 1, None
        rows: list[list[str]] = []
        lines: list[int] = []
        try:
            for line, row in _rows(reader):
                if width is None:
                    width = len(row)
                    if header_required or (any(c.strip() in names for c in row) if names
                                           else not all(is_number(c.strip()) for c in row)):
                        header, header_line = [name.strip() for name in row], line
                        _check_header(header, str(path), line)
                        continue
                if len(row) != width:
                    raise DataError(_ragged(row, header, width, str(path), line))
                rows.append(row)
                lines.append(line)
        except csv.Error as e:
            raise DataError(Problem(f"not valid CSV: {e}", file=str(path),
                                    line=reader.line_num)) from None
        except UnicodeDecodeError as e:  # decoded by chunks: the line is not known
            raise DataError(f"not UTF-8 text (found byte 0x{e.object[e.start]:02x}): is this "
                            "a CSV file?", file=str(path)) from None
    if width is None:
        raise DataError("empty file; expected a header row naming the columns, then one row "
                        "per sample", file=str(path))
    if not rows:
        raise DataError(Problem("no samples: the file has only its header row", file=str(path),
                                line=header_line))
    return CsvTable(str(path), header, rows, lines, header_line, delimiter)


def _check_header(header: list[str], file: str, line: int) -> None:
    """Column names must be distinct: a name picks one column."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(Problem(f"column {excerpt(name)} appears {header.count(name)} times in "
                                    "the header; each column needs its own name", file=file,
                                    line=line))
        seen.add(name)


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows of a csv reader, each with the line it starts on (a quoted field
    may span lines; the reader's line_num is where a row ends)."""
    start = reader.line_num + 1
    for row in reader:
        if row:
            yield start, row
        start = reader.line_num + 1


def _ragged(row: list[str], header: list[str] | None, width: int, file: str,
            line: int) -> Problem:
    first = "the header" if header is not None else "the first row"
    if len(row) < width:
        column = f"column {_quoted(header[len(row)])}" if header is not None else None
        return Problem(f"missing: the row has {len(row)} fields, {first} {width}",
                       file=file, line=line, path=column)
    after = f" (after column {_quoted(header[-1])} comes {excerpt(row[width])})" \
        if header is not None else ""
    return Problem(f"the row has {len(row)} fields, but {first} has {width}{after}",
                   file=file, line=line)
