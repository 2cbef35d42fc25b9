"""`nnc predict`: run an exported model on a .npy, .npz or .csv file of raw features."""

from __future__ import annotations

import csv
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

import numpy as np

from nnc.base.errors import DataError
from nnc.base.files import require_file, write_atomic
from nnc.runtime import onnx_run
from nnc.base.npz import load_npz

if TYPE_CHECKING:
    import onnxruntime as ort

BATCH = 4096
DRY_RUN_FEATURES = 1 << 20  # features per sample up to which a model is tried on zeros


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
    require_file(path, "an input file")
    try:
        if suffix == ".npy":
            inputs = Inputs(_numeric(np.load(path, mmap_mode="r", allow_pickle=False), path,
                                     "x"), None, str(path))
        elif suffix == ".npz":
            inputs = _read_npz(path)
        else:
            inputs = _read_csv(path, label)
    except FileNotFoundError:
        raise DataError("no such file", file=str(path)) from None
    except PermissionError:
        raise DataError("permission denied", file=str(path)) from None
    except MemoryError:
        raise DataError("cannot read the input: it declares an array larger than the memory",
                        file=str(path)) from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, csv.Error) as e:
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        if "allow_pickle" in reason:  # what np.load says of a pickle, and of any other bytes
            reason = "it holds pickled Python objects, or is no NumPy file at all; nnc never " \
                     "unpickles"
        raise DataError(f"cannot read the input: {reason}", file=str(path)) from None
    _check_finite(inputs.x, path)
    return inputs


def _numeric(a: np.ndarray, path: Path, name: str) -> np.ndarray:
    if a.dtype.kind not in "fiub":
        raise DataError(f"array {name!r} has dtype {a.dtype}, not numbers", file=str(path))
    return a


def _check_finite(x: np.ndarray, path: Path) -> None:
    """A DataError at the first row holding NaN or an infinity, found chunk by chunk."""
    if x.dtype.kind != "f":
        return
    for start in range(0, len(x), BATCH):
        bad = ~np.isfinite(x[start:start + BATCH])
        if bad.any():
            row = start + int(np.argwhere(bad)[0][0])
            raise DataError(f"row {row} holds NaN or infinite values", file=str(path))


def _labels(y: np.ndarray, rows: int, path: Path, name: str) -> np.ndarray:
    """Labels as int64 [rows]: one finite integer per sample."""
    if y.ndim != 1 or len(y) != rows:
        raise DataError(f"{name} has shape {list(y.shape)}, expected one label per sample "
                        f"([{rows}])", file=str(path))
    if y.dtype.kind == "f" and not (np.isfinite(y) & (y == np.round(y))).all():
        raise DataError(f"{name} holds a value that is not a class index", file=str(path))
    return y.astype(np.int64)


def _read_npz(path: Path) -> Inputs:
    arrays = load_npz(path, "cannot read the input")
    names = list(arrays)
    key = "x" if "x" in names else names[0] if len(names) == 1 else None
    if key is None:
        raise DataError(f"expected an array named 'x' (found: {', '.join(names) or 'none'})",
                        file=str(path))
    x = _numeric(arrays[key], path, key)
    y = _numeric(arrays["y"], path, "y") if "y" in names and key == "x" else None
    if y is not None:
        y = _labels(y, len(x), path, "y")
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
    return Inputs(np.delete(values, col, axis=1), _labels(values[:, col], len(values), path,
                                                          f"column {label!r}"), str(path))


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _is_numeric_row(row: list[str]) -> bool:
    return all(_is_number(c) for c in row)


def check_shape(sess: "ort.InferenceSession", inputs: Inputs, model_file: str) -> None:
    """The input's feature shape must be the model's (batch dimension aside)."""
    dims = sess.get_inputs()[0].shape[1:]
    got = list(inputs.x.shape[1:])
    if len(inputs.x.shape) < 2 or any(isinstance(d, int) and d != g for d, g in zip(dims, got)) \
            or len(dims) != len(got):
        raise DataError(f"has samples of shape {got if len(inputs.x.shape) >= 2 else 'scalar'}, "
                        f"but {model_file} takes [{', '.join(map(str, dims))}] features per "
                        "sample", file=inputs.file)


def batches(sess: "ort.InferenceSession", x: np.ndarray, output: str,
            batch: int = BATCH) -> Iterator[np.ndarray]:
    """The model's ``output`` for x, batch by batch (bounded memory for huge inputs)."""
    name = sess.get_inputs()[0].name
    for start in range(0, len(x), batch):
        chunk = np.asarray(x[start:start + batch], dtype=np.float32)  # checked by read_inputs
        yield sess.run([output], {name: np.ascontiguousarray(chunk)})[0]


def predict_to_file(sess: "ort.InferenceSession", x: np.ndarray, output: str, classes: bool,
                    out: Path, binary: bool) -> int:
    """Write predictions to ``out`` (.npy) atomically, batch by batch (bounded memory);
    returns the number of rows."""
    n_out = next(o.shape[1] for o in sess.get_outputs() if o.name == output)
    dtype = np.dtype(np.int64 if classes else np.float32)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (len(x),) if classes else (len(x), n_out)}

    def write(f: BinaryIO) -> None:
        np.lib.format.write_array_header_1_0(f, header)
        for scores in batches(sess, x, output):
            rows = to_classes(scores, binary) if classes else scores
            f.write(np.ascontiguousarray(rows, dtype=dtype).tobytes())

    write_atomic(out, write)
    return len(x)


def to_classes(scores: np.ndarray, binary: bool) -> np.ndarray:
    """Class indices: argmax of the scores, or logit > 0 for one output unit."""
    return (scores[:, 0] > 0).astype(np.int64) if binary else scores.argmax(axis=1)


def accuracy(sess: "ort.InferenceSession", x: np.ndarray, y: np.ndarray, binary: bool) -> float:
    """The share of rows whose predicted class is the label."""
    if len(y) != len(x):
        raise DataError(f"{len(y)} labels for {len(x)} samples")
    right = start = 0
    for scores in batches(sess, x, "scores"):
        right += int((to_classes(scores, binary) == y[start:start + len(scores)]).sum())
        start += len(scores)
    return right / max(len(y), 1)


def session_for(model_path: str | os.PathLike, threads: int | None = None
                ) -> "ort.InferenceSession":
    """An onnxruntime session for an .onnx file of the form nnc exports: one float input
    [batch, features...], a float `scores` output [batch, units]. It is run once on two
    zero samples, so a model onnxruntime cannot run fails here, naming the file."""
    model = onnx_run.read_model(model_path)
    where = str(model_path)
    try:
        sess = onnx_run.session(model, threads)
    except Exception as e:  # an op onnxruntime does not know, an opset it does not run, ...
        raise DataError(f"onnxruntime cannot run this model: {_first_line(e)}",
                        file=where) from None
    problem = _signature_problem(sess)
    if problem:
        raise DataError(f"not a model `nnc predict` runs: {problem}", file=where)
    dims = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape[1:]]
    if math.prod(dims) <= DRY_RUN_FEATURES:
        try:
            sess.run(None, {sess.get_inputs()[0].name: np.zeros([2, *dims], np.float32)})
        except Exception as e:  # onnxruntime's own errors (Fail, InvalidArgument, ...)
            raise DataError(f"onnxruntime fails to run this model: {_first_line(e)}",
                            file=where) from None
    return sess


def _signature_problem(sess) -> str | None:
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)" or len(inputs[0].shape) < 2:
        found = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
        return f"it needs one float input [batch, features...] (found: {found})"
    if "scores" not in [o.name for o in outputs]:
        return f"no `scores` output (found: {', '.join(o.name for o in outputs)})"
    for o in outputs:
        if o.type != "tensor(float)" or len(o.shape) != 2 or not isinstance(o.shape[1], int):
            return f"output {o.name!r} is {o.type} {o.shape}, expected float [batch, units]"
    return None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
