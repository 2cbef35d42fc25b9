"""`nnc predict`: run an exported model on a .npy, .npz or .csv file of raw features."""

from __future__ import annotations

import csv
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from nnc.errors import DataError
from nnc.runtime import onnx_run

BATCH = 4096


@dataclass
class Inputs:
    """Features [n, *shape] (possibly memory-mapped) and labels if the file has them."""

    x: np.ndarray
    y: np.ndarray | None
    file: str


def read_inputs(path: str | os.PathLike, label: str | None = None) -> Inputs:
    """Features from .npy (memory-mapped), .npz (`x`, optional `y`) or .csv (numbers; a
    header row is optional; ``label`` names a label column to take out)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise DataError(f"unknown input format {suffix or '(no extension)'!r}; use .npy, .npz "
                        "or .csv", file=str(path))
    if path.is_dir():
        raise DataError("is a directory, not an input file", file=str(path))
    try:
        if suffix == ".npy":
            return Inputs(_numeric(np.load(path, mmap_mode="r", allow_pickle=False), path, "x"),
                          None, str(path))
        if suffix == ".npz":
            return _read_npz(path)
        return _read_csv(path, label)
    except FileNotFoundError:
        raise DataError("no such file", file=str(path)) from None
    except PermissionError:
        raise DataError("permission denied", file=str(path)) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        if "allow_pickle" in reason:
            reason = "it holds pickled Python objects, which nnc never loads"
        raise DataError(f"cannot read the input: {reason}", file=str(path)) from None


def _numeric(a: np.ndarray, path: Path, name: str) -> np.ndarray:
    if a.dtype.kind not in "fiub":
        raise DataError(f"array {name!r} has dtype {a.dtype}, not numbers", file=str(path))
    return a


def _read_npz(path: Path) -> Inputs:
    with np.load(path, allow_pickle=False) as npz:
        names = list(npz.files)
        key = "x" if "x" in names else names[0] if len(names) == 1 else None
        if key is None:
            raise DataError(f"expected an array named 'x' (found: {', '.join(names) or 'none'})",
                            file=str(path))
        x = _numeric(npz[key], path, key)
        y = _numeric(npz["y"], path, "y") if "y" in names and key == "x" else None
    return Inputs(x, y, str(path))


def _read_csv(path: Path, label: str | None) -> Inputs:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if r]
    if not rows:
        raise DataError("the file is empty", file=str(path))
    header = None
    if not _is_numeric_row(rows[0]):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise DataError("no data rows after the header", file=str(path))
    width = len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise DataError(f"{path}:{line}: {len(row)} cells, but the first row has {width}")
        try:
            values[i] = [float(c) for c in row]
        except ValueError:
            bad = next(c for c in row if not _is_number(c))
            raise DataError(f"{path}:{line}: {bad!r} is not a number") from None
    if label is None:
        return Inputs(values, None, str(path))
    if header is None or label not in header:
        raise DataError(f"no column named {label!r}" + (f" (columns: {', '.join(header)})"
                                                         if header else " (no header row)"),
                        file=str(path))
    col = header.index(label)
    return Inputs(np.delete(values, col, axis=1), values[:, col].astype(np.int64), str(path))


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _is_numeric_row(row: list[str]) -> bool:
    return all(_is_number(c) for c in row)


def check_shape(sess, inputs: Inputs, model_file: str) -> None:
    """The input's feature shape must be the model's (batch dimension aside)."""
    dims = sess.get_inputs()[0].shape[1:]
    got = list(inputs.x.shape[1:])
    if len(inputs.x.shape) < 2 or any(isinstance(d, int) and d != g for d, g in zip(dims, got)) \
            or len(dims) != len(got):
        raise DataError(f"has samples of shape {got if len(inputs.x.shape) >= 2 else 'scalar'}, "
                        f"but {model_file} takes [{', '.join(map(str, dims))}] features per "
                        "sample", file=inputs.file)


def batches(sess, x: np.ndarray, output: str, batch: int = BATCH) -> Iterator[np.ndarray]:
    """The model's ``output`` for x, batch by batch (bounded memory for huge inputs)."""
    name = sess.get_inputs()[0].name
    for start in range(0, len(x), batch):
        chunk = np.asarray(x[start:start + batch], dtype=np.float32)
        if not np.isfinite(chunk).all():
            bad = start + int(np.argwhere(~np.isfinite(chunk))[0][0])
            raise DataError(f"row {bad} holds NaN or infinite values")
        yield sess.run([output], {name: np.ascontiguousarray(chunk)})[0]


def predict_to_file(sess, x: np.ndarray, output: str, classes: bool, out: Path,
                    binary: bool) -> np.ndarray:
    """Write predictions to ``out`` (.npy) atomically, streaming through a memory map."""
    n_out = sess.get_outputs()[[o.name for o in sess.get_outputs()].index(output)].shape[1]
    shape = (len(x),) if classes else (len(x), n_out)
    dtype = np.int64 if classes else np.float32
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        result = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        start = 0
        for scores in batches(sess, x, output):
            result[start:start + len(scores)] = to_classes(scores, binary) if classes else scores
            start += len(scores)
        result.flush()
        del result
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return np.load(out, mmap_mode="r")


def to_classes(scores: np.ndarray, binary: bool) -> np.ndarray:
    """Class indices: argmax of the scores, or logit > 0 for one output unit."""
    return (scores[:, 0] > 0).astype(np.int64) if binary else scores.argmax(axis=1)


def accuracy(sess, x: np.ndarray, y: np.ndarray, binary: bool) -> float:
    """The share of rows whose predicted class is the label."""
    if len(y) != len(x):
        raise DataError(f"{len(y)} labels for {len(x)} samples")
    right = start = 0
    for scores in batches(sess, x, "scores"):
        right += int((to_classes(scores, binary) == y[start:start + len(scores)]).sum())
        start += len(scores)
    return right / max(len(y), 1)


def session_for(model_path: str | os.PathLike, threads: int | None = None):
    model = onnx_run.read_model(model_path)
    return onnx_run.session(model, threads)
