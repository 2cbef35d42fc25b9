"""`nnc predict`: run an exported model on a .npy, .npz or .csv file of raw features.

The inputs are read by the same readers, with the same checks and messages, as training
data (``nnc.base.inputs``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from nnc.base.coding import LABEL, NO_CODING, SCORES, TEXT_TENSOR, Coding
from nnc.base.errors import DataError, Interrupted, Problem, brief, excerpt, listing
from nnc.base.files import write_atomic
from nnc.base.inputs import (
    CsvTable,
    Origin,
    as_rows,
    check_finite,
    class_labels,
    label_cells,
    named_class_labels,
    read_csv,
    read_npy,
    read_npz_samples,
    shape_text,
    text_array,
)
from nnc.base.losses import LOSSES, Loss
from nnc.runtime import onnx_run

if TYPE_CHECKING:
    import onnxruntime as ort

DRY_RUN_FEATURES = 1 << 20  # features per sample up to which a model is tried on zeros
FORMATS = (".npy", ".npz", ".csv")


@dataclass
class Inputs:
    """Features [n, *shape] (memory-mapped for .npy; a table's cells for a model of a
    table), the labels as read if the file has them, where they came from (for messages),
    and notes for the user (columns ignored, categories not seen in training)."""

    x: np.ndarray
    y: np.ndarray | None
    origin: Origin
    notes: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        return self.origin.file

    def labels(self, units: int, loss: Loss, coding: Coding = NO_CODING) -> np.ndarray:
        """The labels as the model's ``loss`` takes them: int64 class indices of a model with
        ``units`` outputs (by name when its classes have names), or float targets [n, units]."""
        assert self.y is not None
        if len(self.y) != len(self.x):
            raise DataError(f"y has shape {list(self.y.shape)}, expected one label per sample "
                            f"([{len(self.x)}])", file=self.file)
        if not loss.classification:
            if self.y.dtype.kind in "US":
                raise DataError(f"the labels are words, but the model was trained with "
                                f"{loss.name} on numbers", file=self.file)
            y = as_rows(self.y)
            if y.shape[1] != units:
                raise DataError(f"y has {y.shape[1]} targets per sample, but the model gives "
                                f"{units}", file=self.file)
            check_finite(y, self.origin, "y", "target")
            return np.asarray(y, dtype=np.float64)
        if coding.class_names is not None:
            return named_class_labels(self.y, coding.class_names, self.origin, "y",
                                      "the model's ")
        if self.y.dtype.kind in "US":
            raise DataError("the labels are words, but the model's classes have no names "
                            "(it was trained on class indices)", file=self.file)
        binary = f"the model's loss, {loss.name}," if loss.labels == "binary" else None
        return class_labels(self.y, self.origin, "y", units, binary)


def read_inputs(path: str | os.PathLike[str], label: str | None = None,
                coding: Coding = NO_CODING) -> Inputs:
    """Features from .npy (memory-mapped), .npz (`x`, optional `y`; or its only array) or
    .csv (a header row is optional; ``label`` names a label column to take out). A model
    that knows its features' names (``coding``) gets a CSV's columns by name, in its
    order; a model of a table gets the table's cells (empty ones, words)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"unknown input format {suffix or '(no extension)'!r}; use .npy, .npz "
                        "or .csv", file=str(path))
    if label is not None and suffix != ".csv":
        raise DataError(f"--label names a column of a CSV file; labels in a {suffix} file "
                        "come from its array `y`", file=str(path))
    if coding.text_input and suffix != ".csv":
        raise DataError("the model takes the cells of a CSV table (it has category columns); "
                        "give a .csv file", file=str(path))
    if suffix == ".npy":
        inputs = Inputs(read_npy(path), None, Origin(str(path)))
    elif suffix == ".npz":
        inputs = _read_npz(path)
    else:
        return _read_csv(path, label, coding)
    check_finite(as_rows(inputs.x), inputs.origin, "x", "feature",
                 missing_ok=coding.columns is not None)
    return inputs


def _read_npz(path: Path) -> Inputs:
    arrays = read_npz_samples(path, None, what="cannot read the input")
    names = list(arrays)
    key = "x" if "x" in names else names[0] if len(names) == 1 else None
    if key is None:
        raise DataError(f"expected an array named 'x' (found: {', '.join(names) or 'none'})",
                        file=str(path))
    y = arrays.get("y") if key == "x" else None
    return Inputs(arrays[key], y, Origin(str(path)))


def _read_csv(path: Path, label: str | None, coding: Coding) -> Inputs:
    known = (*(coding.feature_names or ()), *((label,) if label else ()))
    table = read_csv(path, header_required=False, names=known if coding.text_input else ())
    lines = np.asarray(table.lines, dtype=np.int64)
    col = table.column(label) if label is not None else None
    names = coding.feature_names
    notes: list[str] = []
    if names is not None and table.header is not None:
        features = _by_name(table, names, col, notes)
    else:
        features = [j for j in range(len(table.names)) if j != col]
    columns = tuple(table.names[j] for j in features)
    origin = Origin(str(path), lines=lines, columns=columns, label=label)
    y = label_cells(table, col, origin) if col is not None else None
    if coding.columns is None:
        cells = table.numbers() if col is None else _numbers(table, features)
        check_finite(cells, origin, "x", "feature")
        return Inputs(cells, y, origin, tuple(notes))
    x, found = table_rows(text_array(table, features), coding, origin)
    return Inputs(x, y, origin, (*notes, *found))


def _numbers(table: CsvTable, features: list[int]) -> np.ndarray:
    """The feature columns of a table of numbers (no empty cell), as float64."""
    picked = CsvTable(table.file, None if table.header is None else
                      [table.header[j] for j in features],
                      [[row[j] for j in features] for row in table.rows], table.lines,
                      table.header_line)
    return picked.numbers()


def table_rows(cells: np.ndarray, coding: Coding, origin: Origin
               ) -> tuple[np.ndarray, list[str]]:
    """A table's cells (str [n, columns]) as its model takes them: spaces stripped, each
    number column's cells numbers or empty, as strings (a table with words) or as float32
    with NaN for empty cells; and notes on categories unseen in training."""
    from nnc.base.coding import MISSING, is_number

    columns = coding.columns or ()
    if cells.ndim != 2 or cells.shape[1] != len(columns):
        raise origin.error(f"has {cells.shape[1] if cells.ndim == 2 else 'no'} feature "
                           f"columns, but the model takes {len(columns)}")
    cells = np.char.strip(cells.astype(str))
    numbers = np.full(cells.shape, np.nan)
    for j, column in enumerate(columns):
        if column.kind != "number":
            continue
        for i, cell in enumerate(cells[:, j]):
            if cell != MISSING:
                if not is_number(cell):
                    raise origin.error(f"{excerpt(cell)} is not a number", " (the model "
                                       "learned this column as numbers)", part="x", row=i,
                                       column=j)
                numbers[i, j] = float(cell)
    check_finite(numbers, origin, "x", "feature", missing_ok=True)
    if not coding.text_input:
        return numbers.astype(np.float32), []
    return cells, coding.unseen(cells)


def _by_name(table: CsvTable, names: tuple[str, ...], label: int | None,
             notes: list[str]) -> list[int]:
    """The columns of ``names``, in that order; a missing one is a DataError, others are
    ignored with a note."""
    header = table.header or []
    where = {name: j for j, name in enumerate(header)}
    missing = [n for n in names if n not in where]
    if missing:
        raise DataError(Problem(f"no column {listing(missing, 5)}: the model takes "
                                f"{len(names)} features by name (nnc predict --verbose lists them)",
                                file=table.file, line=table.header_line))
    extra = [h for j, h in enumerate(header) if h not in names and j != label]
    if extra:
        notes.append(f"{table.file}: columns the model does not take were ignored: "
                     f"{listing(extra, 10)}")
    return [where[n] for n in names]


def check_shape(sess: "ort.InferenceSession", inputs: Inputs, model_file: str) -> None:
    """The input's feature shape must be the model's (batch dimension aside)."""
    if sess.get_inputs()[0].type == TEXT_TENSOR and inputs.x.dtype.kind not in "US":
        raise DataError(f"{model_file} takes a table's cells as text; give a .csv file",
                        file=inputs.file)
    dims = sess.get_inputs()[0].shape[1:]
    got = list(inputs.x.shape[1:])
    if len(inputs.x.shape) < 2 or any(isinstance(d, int) and d != g for d, g in zip(dims, got)) \
            or len(dims) != len(got):
        raise DataError(f"has samples of shape {got if len(inputs.x.shape) >= 2 else 'scalar'}, "
                        f"but {model_file} takes [{', '.join(map(str, dims))}] features per "
                        "sample", file=inputs.file)


def units_of(sess: "ort.InferenceSession", output: str = SCORES) -> int:
    """The number of columns of ``output`` (the model's output units for `scores`)."""
    units: int = next(o.shape[1] for o in sess.get_outputs() if o.name == output)
    return units


def model_loss(sess: "ort.InferenceSession", units: int) -> Loss:
    """The loss a model was trained with (nnc records it in the model's metadata); for a
    model nnc did not make, softmax cross-entropy, or binary cross-entropy for one unit."""
    name = sess.get_modelmeta().custom_metadata_map.get("loss", "")
    if name in LOSSES:
        return LOSSES[name]
    return LOSSES["binary_cross_entropy" if units == 1 else "softmax_cross_entropy"]


def model_coding(sess: "ort.InferenceSession", model_file: str) -> Coding:
    """What the model's inputs and outputs mean, as nnc recorded it in its metadata
    (feature and class names, a table's columns); nothing for other models."""
    import json

    text = sess.get_modelmeta().custom_metadata_map.get("coding")
    if text is None:
        return NO_CODING
    try:
        data = json.loads(text)
    except ValueError:
        raise DataError("its metadata `coding` is not JSON", file=model_file) from None
    coding = Coding.from_dict(data, model_file)
    given = sess.get_inputs()[0]
    if coding.columns is not None and (given.type == TEXT_TENSOR) != coding.text_input:
        raise DataError("its metadata `coding` does not match its input", file=model_file)
    return coding


def checked_batches(sess: "ort.InferenceSession", x: np.ndarray, outputs: list[str],
                    model_file: str) -> Iterator[list[np.ndarray]]:
    """:func:`onnx_run.batches`, for a model that may not be nnc's: onnxruntime failing on a
    batch (the dry run had two rows) is a DataError naming the model and the rows, and so is
    an output that does not have one row per input row and the columns it declares."""
    declared = {o.name: o.shape for o in sess.get_outputs()}
    runs = onnx_run.batches(sess, x, outputs)
    for start in range(0, max(len(x), 1), onnx_run.BATCH):
        rows = min(len(x) - start, onnx_run.BATCH)
        try:
            found = next(runs)
        except Interrupted:
            raise
        except Exception as e:  # onnxruntime's own errors (Fail, InvalidArgument, ...)
            raise DataError(f"onnxruntime fails to run this model on rows {start}.."
                            f"{start + rows - 1} of the input: {brief(e, 200)}",
                            file=model_file) from None
        for name, value in zip(outputs, found):
            want = (rows,) if len(declared[name]) == 1 else (rows, declared[name][1])
            if value.shape != want:
                raise DataError(f"output {name!r} has shape {shape_text(value.shape)} for "
                                f"{rows} input rows, expected {shape_text(want)} (one row "
                                "per input row, the columns it declares)", file=model_file)
        yield found


def predict_to_file(sess: "ort.InferenceSession", x: np.ndarray, output: str,
                    classify: Loss | None, out: Path, model_file: str,
                    names: tuple[str, ...] | None = None) -> int:
    """Write predictions to ``out`` (.npy) atomically, batch by batch (bounded memory): the
    ``output``, or with ``classify`` the classes its loss predicts (by their ``names``, if
    given: a .npy of strings); returns the rows."""
    width = max((len(n) for n in names), default=1) if names is not None else 0
    dtype = np.dtype(f"<U{width}" if names is not None else np.int64 if classify
                     else np.float32)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (len(x),) if classify else (len(x), units_of(sess, output))}
    table = np.asarray(names, dtype=dtype) if names is not None else None

    def write(f: BinaryIO) -> None:
        np.lib.format.write_array_header_1_0(f, header)
        for scores, in checked_batches(sess, x, [output], model_file):
            rows = classify.classify(scores) if classify else scores
            if table is not None:
                rows = table[rows]
            f.write(np.ascontiguousarray(rows, dtype=dtype).tobytes())

    write_atomic(out, write)
    return len(x)


def evaluate(sess: "ort.InferenceSession", x: np.ndarray, y: np.ndarray,
             loss: Loss, model_file: str) -> dict[str, Any]:
    """Metrics of the model on labelled rows: accuracy and per class (classification), or
    MAE, RMSE and R2 (regression); batch by batch."""
    from nnc.runtime import metrics

    scores = np.concatenate([s for s, in checked_batches(sess, x, [SCORES], model_file)])
    if not loss.classification:
        return metrics.regression(y, scores)
    classes = 2 if loss.labels == "binary" else scores.shape[1]
    return metrics.classification(y, scores, classes, loss.classify(scores))


def session_for(model_path: str | os.PathLike[str], threads: int | None = None
                ) -> "ort.InferenceSession":
    """An onnxruntime session for an .onnx file of the form nnc exports: one float input
    [batch, features...], a float `scores` output [batch, units]. It is run once on two
    zero samples, so a model onnxruntime cannot run fails here, naming the file."""
    model = onnx_run.read_model(model_path)
    where = str(model_path)
    try:
        sess = onnx_run.session(model, threads)
    except Exception as e:  # an op onnxruntime does not know, an opset it does not run, ...
        raise DataError(f"onnxruntime cannot run this model: {brief(e, 200)}",
                        file=where) from None
    problem = _signature_problem(sess)
    if problem:
        raise DataError(f"not a model `nnc predict` runs: {problem}", file=where)
    dims = [d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape[1:]]
    if math.prod(dims) <= DRY_RUN_FEATURES:
        text = sess.get_inputs()[0].type == TEXT_TENSOR  # a table's cells: "" is empty
        probe = np.full([2, *dims], "", dtype=str) if text else np.zeros([2, *dims], np.float32)
        try:
            onnx_run.run_once(sess, None, {sess.get_inputs()[0].name: probe})
        except Interrupted:
            raise
        except Exception as e:  # onnxruntime's own errors (Fail, InvalidArgument, ...)
            raise DataError(f"onnxruntime fails to run this model: {brief(e, 200)}",
                            file=where) from None
    return sess


def _signature_problem(sess: "ort.InferenceSession") -> str | None:
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1 or inputs[0].type not in ("tensor(float)", TEXT_TENSOR) \
            or len(inputs[0].shape) < 2:
        found = ", ".join(f"{excerpt(i.name, 30)} {i.type} {i.shape}" for i in inputs[:4])
        return f"it needs one float input [batch, features...] (found: {found})"
    if SCORES not in [o.name for o in outputs]:
        return f"no `scores` output (found: {listing(o.name for o in outputs)})"
    for o in outputs:
        if o.name == LABEL:  # the predicted class: its index, or its name
            if o.type not in ("tensor(int64)", TEXT_TENSOR) or len(o.shape) != 1:
                return f"output 'label' is {o.type} {o.shape}, expected int64 or string [batch]"
        elif o.type != "tensor(float)" or len(o.shape) != 2 or not isinstance(o.shape[1], int):
            return f"output {excerpt(o.name, 30)} is {o.type} {o.shape}, expected float " \
                "[batch, units]"
        elif o.shape[1] < 1:
            return f"output {excerpt(o.name, 30)} has {o.shape[1]} columns, expected at least one"
    return None
